"""Trivial endpoints answering 202 with no database work, to measure what is not TDS:

- ``aiohttp``: the cheapest server at hand, so the figure is the load client's own ceiling;
- ``fastapi``: the same stack as the TDS API (FastAPI on uvicorn with uvloop and httptools,
  the body read, a JSON answer), so the gap to TDS is what TDS itself costs.

Run as ``python -m bench.trivial aiohttp|fastapi PORT``; loopback only.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn
import uvloop
from aiohttp import web
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

fastapi_app = FastAPI()


@fastapi_app.post("/api/v1/webhooks/zoho/{entity}", status_code=202)
async def fastapi_accept(entity: str, request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"event_id": 1, "status": "queued"}, status_code=202)


@fastapi_app.get("/api/v1/health")
async def fastapi_health() -> dict[str, str]:
    return {"status": "ok"}


def serve_aiohttp(port: int) -> None:
    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"event_id": 1, "status": "queued"}, status=202)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/api/v1/webhooks/zoho/{entity}", accept)
    app.router.add_get("/api/v1/health", health)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def serve_fastapi(port: int) -> None:
    uvicorn.run(
        fastapi_app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


def main(argv: list[str]) -> None:
    kind, port = argv[0], int(argv[1])
    {"aiohttp": serve_aiohttp, "fastapi": serve_fastapi}[kind](port)


if __name__ == "__main__":
    main(sys.argv[1:])
