"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tds_core import __version__
from tds_core.api.context import Ctx
from tds_core.db.errors import translate

router = APIRouter(tags=["health"])


@router.get("/api/v1/health", summary="The process is alive")
async def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get(
    "/api/v1/ready",
    summary="Database reachable and migrations current (503 otherwise)",
    responses={
        503: {
            "description": "Not ready: the database is unreachable (`error` says why, naming each "
            "host of a multi-host URL) or its migration is not the expected one; Retry-After",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def ready(ctx: Ctx) -> JSONResponse:
    try:
        async with ctx.pool.acquire(timeout=ctx.settings.db_connect_timeout) as connection:
            revision = await connection.fetchval("SELECT version_num FROM alembic_version")
    except Exception as exc:
        error = translate(exc)
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable or not migrated", "error": str(error)[:1000]},
            status_code=503,
            headers={"Retry-After": str(ctx.settings.retry_after_seconds)},
        )
    if revision != ctx.head_revision:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "migration": revision, "expected": ctx.head_revision},
            status_code=503,
            headers={"Retry-After": str(ctx.settings.retry_after_seconds)},
        )
    return JSONResponse({"status": "ready", "database": "ok", "migration": revision})
