"""``POST /api/v1/webhooks/zoho/{entity}``: the durable way in for Zoho Books webhooks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tds_core.api.context import ApiContext, context
from tds_core.errors import RetryableError
from tds_core.ingest.api_keys import split_prefix
from tds_core.ingest.webhooks import WebhookError, WebhookRequest

router = APIRouter(tags=["webhooks"])


class WebhookAccepted(BaseModel):
    event_id: int
    status: str


class ErrorBody(BaseModel):
    error: str
    reasons: list[str] = []
    event_id: int | None = None


async def read_body(request: Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes; larger bodies are refused with 413 before being stored."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise WebhookError(400, "invalid Content-Length header")
        if int(declared) > limit:
            raise WebhookError(413, f"body of {declared} bytes is larger than the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookError(413, f"body is larger than the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def limit_rate(request: Request, ctx: ApiContext) -> None:
    """A token bucket per API key (by its public prefix; per client address without one)."""
    config = await ctx.config.current(ctx.pool)
    rate = config.ratelimit__webhooks_per_second
    key = request.headers.get("x-tds-key") or ""
    prefix = split_prefix(key)
    if prefix is not None:
        bucket = f"webhook:{prefix}"
    else:
        bucket = f"webhook-ip:{request.client.host if request.client else 'unknown'}"
    wait = ctx.limiter.acquire(bucket, rate, rate)
    if wait:
        raise WebhookError(429, f"rate limit of {rate:g} webhooks/s exceeded; retry later", retry=wait)


@router.post(
    "/api/v1/webhooks/zoho/{entity}",
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
    description=(
        "Accepts Zoho's default JSON payload (record under its module key), a bare record, or a form "
        "body with the JSON in `JSONString`. Operation from `?event=` or `X-TDS-Event` "
        "(created|updated|deleted, default upsert). Answers 202 only after the event is committed."
    ),
)
async def receive_webhook(
    entity: str, request: Request, ctx: Annotated[ApiContext, Depends(context)]
) -> JSONResponse:
    try:
        await limit_rate(request, ctx)
        body = await read_body(request, ctx.settings.max_body_bytes)
        staged = await ctx.intake.receive(
            WebhookRequest(
                entity=entity,
                body=body,
                content_type=request.headers.get("content-type"),
                query=list(request.query_params.multi_items()),
                headers={k.lower(): v for k, v in request.headers.items()},
                correlation_id=getattr(request.state, "correlation_id", None),
            )
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
    return JSONResponse({"event_id": staged.event_id, "status": staged.status}, status_code=202)
