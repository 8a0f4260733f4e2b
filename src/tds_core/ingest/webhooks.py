"""The webhook use case: authenticate, parse, pick the operation, then stage durably.

Answers (mapped to HTTP by the API): 202 queued/duplicate only after the inbox row (and queue
row) committed; 400 malformed body; 401 bad key or signature; 404 unknown entity; 413 too
large; 415 content type; 422 invalid record. Authenticated bad input is kept in the inbox as
``rejected`` with the reason, so nothing sent to TDS silently disappears.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from tds_core.domain.entities import ENTITIES
from tds_core.domain.states import Operation
from tds_core.ingest import signature
from tds_core.ingest.api_keys import KeyVerifier
from tds_core.ingest.bodies import FORM_TYPE, BodyError, media_type, parse
from tds_core.staging.service import (
    Envelope,
    Rejected,
    Staged,
    group_commit,
    stage_event,
    stage_hint,
    store_rejected,
)

KEPT_HEADERS = (
    "content-type",
    "user-agent",
    "x-idempotency-key",
    "x-tds-event",
    "x-request-id",
    "x-correlation-id",
    "x-forwarded-for",
    "x-zoho-webhook-signature",
)
SECRET_PARAMS = {"key"}
MAX_IDEMPOTENCY_KEY = 200
EVENT_NAMES = {
    "created": Operation.CREATED,
    "create": Operation.CREATED,
    "updated": Operation.UPDATED,
    "update": Operation.UPDATED,
    "edited": Operation.UPDATED,
    "deleted": Operation.DELETED,
    "delete": Operation.DELETED,
    "upsert": Operation.UPSERT,
}


class WebhookError(Exception):
    """A request answered with a 4xx before or instead of staging."""

    def __init__(
        self,
        status: int,
        message: str,
        reasons: list[str] | None = None,
        event_id: int | None = None,
        retry: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reasons = reasons or [message]
        self.event_id = event_id
        self.retry = retry
        """Seconds the caller should wait (a 429's ``Retry-After``)."""


@dataclass(frozen=True)
class WebhookRequest:
    entity: str
    body: bytes
    content_type: str | None
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    correlation_id: str | None = None


def parse_operation(value: str | None) -> Operation:
    """``created``/``updated``/``deleted``/``upsert``; ``invoice.created`` style is accepted too."""
    if value is None or not value.strip():
        return Operation.UPSERT
    name = value.strip().lower().rsplit(".", 1)[-1]
    if name not in EVENT_NAMES:
        raise WebhookError(400, f"unknown event {value[:40]!r}: expected created, updated, deleted or upsert")
    return EVENT_NAMES[name]


class WebhookIntake:
    def __init__(
        self,
        pool: Any,
        keys: KeyVerifier,
        *,
        max_body_bytes: int,
        max_json_depth: int,
        webhook_secret: str | None,
        complete_partial: bool = False,
    ) -> None:
        self.pool = pool
        self.group = group_commit(pool)
        self.complete_partial = complete_partial
        self.keys = keys
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.webhook_secret = webhook_secret

    async def authenticate(self, request: WebhookRequest) -> None:
        signed = request.headers.get("x-zoho-webhook-signature")
        if self.webhook_secret and signed:
            is_form = media_type(request.content_type) == FORM_TYPE
            params = list(request.query)
            if is_form:
                params += parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
            if signature.verify(self.webhook_secret, params, b"" if is_form else request.body, signed):
                return
            raise WebhookError(401, "invalid X-Zoho-Webhook-Signature")
        key = request.headers.get("x-tds-key") or dict(request.query).get("key")
        if not key:
            raise WebhookError(401, "missing API key: send the X-TDS-Key header (or ?key=)")
        if await self.keys.verify(self.pool, key) is None:
            raise WebhookError(401, "invalid or revoked API key")

    async def receive(self, request: WebhookRequest) -> Staged:
        received_at = datetime.now(UTC)
        await self.authenticate(request)
        if request.entity not in ENTITIES:
            raise WebhookError(
                404, f"unknown entity {request.entity[:40]!r}: expected one of {', '.join(ENTITIES)}"
            )
        headers = {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}
        query = [(k, v) for k, v in request.query if k not in SECRET_PARAMS]
        if query:
            # decoded parameters may hold %00, which PostgreSQL's jsonb refuses: keep it visible instead
            text = "&".join(f"{k}={v}" for k, v in query)[:2000]
            headers["query"] = text.replace("\x00", "\ufffd")
        idempotency = request.headers.get("x-idempotency-key")
        if idempotency is not None and not (0 < len(idempotency) <= MAX_IDEMPOTENCY_KEY):
            raise WebhookError(400, f"X-Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters")
        envelope = Envelope(
            entity=request.entity,
            source="webhook",
            received_at=received_at,
            body=request.body,
            content_type=request.content_type,
            headers=headers,
            correlation_id=request.correlation_id or request.headers.get("x-request-id") or uuid.uuid4().hex,
            idempotency_key=idempotency,
        )
        try:
            operation = parse_operation(
                dict(request.query).get("event") or request.headers.get("x-tds-event")
            )
            parsed = parse(request.body, request.content_type, self.max_json_depth)
        except (WebhookError, BodyError) as exc:
            status = exc.status
            event_id = await store_rejected(self.pool, envelope, [exc.message])
            raise WebhookError(status, exc.message, [exc.message], event_id) from exc
        try:
            if self.complete_partial:
                hint = await stage_hint(self.pool, envelope, parsed.document, operation)
                if hint is not None:
                    return hint
            return await stage_event(self.pool, envelope, parsed.document, operation, group=self.group)
        except Rejected as exc:
            raise WebhookError(exc.status, exc.message, exc.reasons, exc.event_id) from exc
