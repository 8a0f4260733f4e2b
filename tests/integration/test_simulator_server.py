"""The simulator over real HTTP: uvicorn servers on local ports, a client pulling pages and
an incremental window, webhooks posted to a real receiver, and ``serve()`` in its own process.

No database is needed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tds_core.simulator import (
    ManualClock,
    SimulatorConfig,
    Store,
    WebhookConfig,
    WebhookEmitter,
    create_app,
    generate,
)
from tds_core.simulator.clock import format_zoho_time, parse_zoho_time
from tests.simulator_support import CONFIG, ORG, UNLIMITED, no_sleep, refresh_params

ROOT = Path(__file__).resolve().parents[2]


class QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers (pytest keeps its own)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` on a free local port (uvicorn binds port 0); yields its base URL."""
    server = QuietServer(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def receiver_app(received: list[tuple[str, str, dict[str, Any]]]) -> FastAPI:
    app = FastAPI()

    @app.post("/api/v1/webhooks/zoho/{entity}")
    async def webhook(entity: str, request: Request) -> JSONResponse:
        if request.headers.get("x-tds-key") != "tds_key_for_tests":
            return JSONResponse({"detail": "bad key"}, status_code=401)
        received.append((entity, request.query_params.get("event", ""), await request.json()))
        return JSONResponse({"status": "queued"}, status_code=202)

    return app


async def test_pull_and_webhooks_over_real_http() -> None:
    clock = ManualClock()
    store = Store(21, clock=clock)
    store.seed(120)
    received: list[tuple[str, str, dict[str, Any]]] = []
    simulator = create_app(store, config=SimulatorConfig(**UNLIMITED))
    async with (
        running(simulator) as zoho,
        running(receiver_app(received)) as tds,
        httpx.AsyncClient() as http,
    ):
        token = (await http.post(f"{zoho}/oauth/v2/token", data=refresh_params())).json()
        headers = {"Authorization": f"Zoho-oauthtoken {token['access_token']}"}

        async def pull(**params: Any) -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            page = 1
            while True:
                query = {"organization_id": ORG, "page": page, "per_page": 25, **params}
                response = await http.get(f"{zoho}/books/v3/invoices", params=query, headers=headers)
                assert response.status_code == 200, response.text
                body = response.json()
                rows.extend(body["invoices"])
                if not body["page_context"]["has_more_page"]:
                    return rows
                page += 1

        assert len(await pull()) == 120
        watermark = format_zoho_time(clock(), store.zone)
        clock.advance(1)

        webhooks = WebhookConfig(base_url=tds, api_key="tds_key_for_tests", duplicate_percent=10, seed=3)
        async with WebhookEmitter(webhooks) as emitter:
            traffic = await generate(store, emitter, rate_per_second=20, duration=5, seed=5, sleep=no_sleep)
        assert emitter.stats.delivered == traffic.total + emitter.stats.duplicates == len(received)

        invoice_changes = store.changes_since(parse_zoho_time(watermark), "invoices")
        assert invoice_changes
        live = {c.record_id for c in invoice_changes if c.record_id in store.ids("invoices")}
        changed = await pull(last_modified_time=watermark)
        assert {row["invoice_id"] for row in changed} == live
        assert {entity for entity, _, _ in received} <= {
            "items",
            "contacts",
            "invoices",
            "bills",
            "creditnotes",
            "pricebooks",
            "stock",
        }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def served() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``serve()`` in a child process, as ``tds simulate`` will run it."""
    port = free_port()
    code = (
        "from tds_core.simulator import serve; "
        f"serve('127.0.0.1', {port}, seed=4, records_per_module=7, log_level='warning')"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()


async def test_serve_runs_a_seeded_simulator(served: tuple[str, subprocess.Popen[str]]) -> None:
    base, process = served
    async with httpx.AsyncClient(base_url=base) as http:
        for _ in range(600):
            with contextlib.suppress(httpx.TransportError):
                token = await http.post("/oauth/v2/token", params=refresh_params())
                break
            assert process.poll() is None, "serve() exited"
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("serve() did not answer")
        body = token.json()
        assert body["api_domain"] == base  # clients append /books/v3 to it
        headers = {"Authorization": f"Zoho-oauthtoken {body['access_token']}"}
        contacts = await http.get(
            "/books/v3/contacts", params={"organization_id": ORG, "filter_by": "Status.All"}, headers=headers
        )
        assert contacts.status_code == 200
        assert len(contacts.json()["contacts"]) == 7
    process.terminate()
    process.wait(timeout=30)
    assert process.stderr is not None
    banner = process.stderr.read()
    assert "organization_id" in banner and CONFIG.refresh_token in banner
