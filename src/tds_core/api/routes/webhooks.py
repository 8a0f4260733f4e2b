"""``POST /api/v1/webhooks/zoho/{entity}``: the durable way in for Zoho Books webhooks.

One handler (``accept``) behind two doors:

- ``WebhookDoor``, a pure ASGI middleware inside the request context, answers these requests
  itself. A py-spy profile of the API under load put about 40% of its CPU per webhook in
  FastAPI's routing over every route, dependency injection and the ``Request``/``JSONResponse``
  objects, work this one endpoint does not need. Errors are answered in the shape every
  endpoint uses (``answer_error``), and anything unexpected goes up to the server's 500.
- The FastAPI route documents the endpoint in OpenAPI and serves it for an app built without
  the door; a test checks both answer alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect

from tds_core.api.context import ApiContext, Ctx
from tds_core.api.rate_limit import retry_after
from tds_core.api.schemas import ErrorBody
from tds_core.db.errors import UNTRANSLATED_ERRORS, translate
from tds_core.errors import (
    DatabaseTimeout,
    InvalidRequest,
    NotFound,
    Refusal,
    RetryableError,
    TDSError,
    WrongState,
)
from tds_core.ingest.webhooks import WebhookError, WebhookRequest
from tds_core.staging.service import Staged

router = APIRouter(tags=["webhooks"])
PREFIX = "/api/v1/webhooks/zoho/"


class WebhookAccepted(BaseModel):
    event_id: int
    status: str


Answer = tuple[int, dict[str, Any], dict[str, str] | None]


def answer_error(exc: Exception, retry_after_seconds: int) -> Answer | None:
    """The status, JSON body and headers for a refused request; None for an unexpected error
    (a 500). Shared by the API's exception handlers and the webhook door. A driver error that
    escaped a ``translated()`` block (a statement past the command timeout) is answered as the
    TDS error it stands for: a hung database is a prompt 503, not a 500."""
    if isinstance(exc, UNTRANSLATED_ERRORS):
        exc = translate(exc)
    if isinstance(exc, WebhookError):
        body: dict[str, Any] = {"error": exc.message, "reasons": exc.reasons}
        if exc.event_id is not None:
            body["event_id"] = exc.event_id
        headers = {"Retry-After": retry_after(exc.retry)} if exc.retry is not None else None
        return exc.status, body, headers
    if isinstance(exc, DatabaseTimeout):  # a statement that reached a hung server may still complete
        error = (
            "database unavailable (no answer in time); retry later: "
            "if this request was stored, the retry is a duplicate"
        )
        return 503, {"error": error, "reasons": [str(exc)[:1000]]}, {"Retry-After": str(retry_after_seconds)}
    if isinstance(exc, RetryableError):  # the database is unavailable: nothing was stored
        body = {
            "error": "database unavailable; nothing was stored, retry later",
            "reasons": [str(exc)[:1000]],
        }
        return 503, body, {"Retry-After": str(retry_after_seconds)}
    if isinstance(exc, Refusal):  # an operator request refused: one mapping for every route
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, WrongState) else 422
        reasons = exc.reasons if isinstance(exc, InvalidRequest) else [str(exc)[:500]]
        return status, {"error": str(exc)[:500], "reasons": reasons}, None
    if isinstance(exc, TDSError):
        return 400, {"error": str(exc)[:500], "reasons": [str(exc)[:500]]}, None
    return None


async def read_body(declared: str | None, chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """Read at most ``limit`` bytes; larger bodies are refused with 413 before being stored."""
    if declared is not None:
        if not declared.isdigit():
            raise WebhookError(400, "invalid Content-Length header")
        if int(declared) > limit:
            raise WebhookError(413, f"body of {declared} bytes is larger than the {limit}-byte limit")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise WebhookError(413, f"body is larger than the {limit}-byte limit")
        parts.append(chunk)
    return b"".join(parts)


async def limit_client(ctx: ApiContext, client: str | None) -> float:
    """Before authentication: a bucket per client address (what a flood of forged keys spends).
    Returns the per-key rate for :func:`key_limit`."""
    config = await ctx.config.current(ctx.pool)
    rate = config.ratelimit__webhooks_per_second
    wait = ctx.preauth_limiter.acquire(client or "unknown", rate, rate)
    if wait:
        raise WebhookError(
            429, f"rate limit of {rate:g} webhooks/s from one address exceeded; retry later", retry=wait
        )
    return rate


def key_limit(ctx: ApiContext, rate: float) -> Callable[[str], None]:
    """After authentication: a bucket per authenticated key (``key:<prefix>``) or signature."""

    def limit(identity: str) -> None:
        wait = ctx.webhook_limiter.acquire(identity, rate, rate)
        if wait:
            raise WebhookError(429, f"rate limit of {rate:g} webhooks/s exceeded; retry later", retry=wait)

    return limit


async def accept(
    ctx: ApiContext,
    entity: str,
    headers: Mapping[str, str],
    query: Sequence[tuple[str, str]],
    client: str | None,
    correlation_id: str | None,
    chunks: AsyncIterator[bytes],
) -> Staged:
    """Rate limit, read the body, stage the event durably; ``headers`` have lower-case names."""
    try:
        rate = await limit_client(ctx, client)
        body = await read_body(headers.get("content-length"), chunks, ctx.settings.max_body_bytes)
        staged = await ctx.intake.receive(
            WebhookRequest(
                entity=entity,
                body=body,
                content_type=headers.get("content-type"),
                query=list(query),
                headers=dict(headers),
                correlation_id=correlation_id,
            ),
            authenticated=key_limit(ctx, rate),
        )
    except WebhookError as exc:
        if exc.event_id is None:  # refused before anything was stored: counted in memory
            ctx.webhook_outcomes.refused(entity, exc.status)
        raise
    except RetryableError:  # the database is unavailable (503): nothing was stored
        ctx.webhook_outcomes.refused(entity, 503)
        raise
    if staged.status == "queued":
        ctx.doorbell.ring()
    elif staged.status == "duplicate":
        ctx.webhook_outcomes.duplicate(entity)
    return staged


@router.post(
    PREFIX + "{entity}",
    status_code=202,
    response_model=WebhookAccepted,
    responses={
        400: {"model": ErrorBody, "description": "Malformed body (JSON, UTF-8, form) or unknown event"},
        401: {"model": ErrorBody, "description": "Missing or invalid API key / signature"},
        404: {"model": ErrorBody, "description": "Unknown entity"},
        413: {"model": ErrorBody, "description": "Body larger than TDS_MAX_BODY_BYTES"},
        415: {"model": ErrorBody, "description": "Unsupported content type"},
        422: {"model": ErrorBody, "description": "Invalid record; reasons name the fields"},
        429: {"model": ErrorBody, "description": "Rate limited; retry after Retry-After"},
        503: {"model": ErrorBody, "description": "Database unavailable; retry after Retry-After"},
    },
    summary="Receive a Zoho Books webhook",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The record (see the description for the forms accepted)",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
            },
        },
        "security": [{"WebhookKey": []}, {"ZohoSignature": []}],
    },
    description=(
        "Accepts Zoho's default JSON payload (record under its module key), a bare record, a JSON "
        "document sent as a form, a form body with the JSON in `JSONString`, or a form with one field "
        "per parameter (the record of the URL's entity; `cf_*` and custom keys kept). Operation from "
        "`?event=` or `X-TDS-Event` (created|updated|deleted, default upsert); a body with only the id "
        "and no event is refused (400 naming `?event=deleted`). Answers 202 only after the event is "
        "committed."
    ),
)
async def receive_webhook(entity: str, request: Request, ctx: Ctx) -> JSONResponse:
    staged = await accept(
        ctx,
        entity,
        {k.lower(): v for k, v in request.headers.items()},
        request.query_params.multi_items(),
        request.client.host if request.client else None,
        getattr(request.state, "correlation_id", None),
        request.stream(),
    )
    return JSONResponse({"event_id": staged.event_id, "status": staged.status}, status_code=202)


class WebhookDoor:
    """Pure ASGI: ``POST /api/v1/webhooks/zoho/<entity>`` answered by ``accept`` directly.

    Any other request, and a path with more segments (FastAPI's 404 or trailing-slash
    redirect), goes on to the application unchanged."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        entity = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
        if scope.get("method") != "POST" or not entity or "/" in entity:
            await self.app(scope, receive, send)
            return
        ctx: ApiContext = scope["app"].state.context
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        client = scope.get("client")
        try:
            staged = await accept(
                ctx,
                entity,
                headers,
                QueryParams(query).multi_items() if (query := scope.get("query_string")) else [],
                client[0] if client else None,
                scope.get("state", {}).get("correlation_id"),
                _chunks(receive),
            )
        except Exception as exc:
            answer = answer_error(exc, ctx.settings.retry_after_seconds)
            if answer is None:
                raise
            await _send_json(send, *answer)
            return
        await _send_json(send, 202, {"event_id": staged.event_id, "status": staged.status}, None)


async def _chunks(receive: Any) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        body = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return


async def _send_json(send: Any, status: int, body: dict[str, Any], headers: dict[str, str] | None) -> None:
    content = orjson.dumps(body)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    for name, value in (headers or {}).items():
        raw.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": content})
