"""The FastAPI application: routes plus the error mapping every endpoint shares."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tds_core import __version__
from tds_core.api import contract
from tds_core.api.auth_first import AuthenticateFirst
from tds_core.api.context import ApiContext
from tds_core.api.dashboard import DEFAULT_DIST, mount_dashboard
from tds_core.api.middleware import RequestContext
from tds_core.api.routes import (
    access,
    alerts,
    auth,
    configuration,
    conflicts,
    dead_letters,
    health,
    jobs,
    metrics,
    queue,
    replay,
    secrets,
    stats,
    sync,
    webhooks,
)
from tds_core.api.routes.webhooks import WebhookDoor, answer_error
from tds_core.api.text_guard import UnstorableText
from tds_core.db.errors import UNTRANSLATED_ERRORS
from tds_core.errors import TDSError
from tds_core.ingest.webhooks import WebhookError
from tds_core.settings import Settings


def create_app(
    settings: Settings,
    build_context: Callable[[], Awaitable[ApiContext]],
    close_context: Callable[[ApiContext], Awaitable[None]],
) -> FastAPI:
    """The app; CORS stays closed unless ``TDS_CORS_ORIGINS`` names origins."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = await build_context()
        app.state.context = ctx
        ctx.doorbell.start()
        outcomes = asyncio.create_task(ctx.webhook_outcomes.run(ctx.pool), name="webhook-outcomes")
        try:
            yield
        finally:
            outcomes.cancel()  # it flushes what it holds once more before it ends
            with contextlib.suppress(asyncio.CancelledError):
                await outcomes
            await close_context(ctx)

    app = FastAPI(
        title="TDS Core",
        version=__version__,
        description="Keeps an ERP's PostgreSQL database exactly in step with Zoho Books.",
        lifespan=lifespan,
        # TDS reports through Prometheus and its JSON logs; FastAPI's OpenTelemetry hooks would
        # look up a tracer provider on every request (~3% of the API's CPU per webhook).
        telemetry={"tracing": False, "metrics": False, "logs": False},
        generate_unique_id_function=contract.operation_id,
    )
    for module in (
        webhooks,
        health,
        auth,
        stats,
        metrics,
        queue,
        dead_letters,
        conflicts,
        jobs,
        replay,
        sync,
        alerts,
        configuration,
        secrets,
        access,
    ):
        app.include_router(module.router)
    contract.install(app)
    mount_dashboard(app, settings.dashboard_dir or DEFAULT_DIST)
    app.add_middleware(UnstorableText)  # after the webhook door: the intake keeps its own rejects
    app.add_middleware(AuthenticateFirst)  # outside every check of a secured request's input
    app.add_middleware(WebhookDoor)  # inside the request context: ids and the request log stay
    app.add_middleware(RequestContext, log_requests=settings.log_requests)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-TDS-Key", "X-Idempotency-Key"],
        )
    app.add_exception_handler(WebhookError, _refused)
    app.add_exception_handler(TDSError, _refused)
    for raw in UNTRANSLATED_ERRORS:  # a statement that timed out or a node that went away: 503
        app.add_exception_handler(raw, _refused)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    return app


async def _refused(request: Request, exc: Any) -> JSONResponse:
    """``WebhookError`` (its own 4xx), ``RetryableError`` (503) and other ``TDSError`` (400)."""
    answer = answer_error(exc, request.app.state.context.settings.retry_after_seconds)
    if answer is None:
        raise exc
    status, body, headers = answer
    return JSONResponse(body, status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Any) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    reasons = [
        f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
        for error in exc.errors()
    ]
    return JSONResponse({"error": "invalid request", "reasons": reasons}, status_code=422)


async def _http_error(request: Request, exc: Any) -> JSONResponse:
    """Errors raised with ``HTTPException`` (auth, not found, conflicts) in the shared shape."""
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "request failed"
    reasons = exc.detail if isinstance(exc.detail, list) else [detail]
    headers = exc.headers
    if exc.status_code == 405:  # every method of the path, not only its first route's
        allowed = contract.allowed_methods(request.app, request.scope)
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        reasons = [f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"]
    return JSONResponse({"error": detail, "reasons": reasons}, status_code=exc.status_code, headers=headers)
