"""The webhook use case: authenticate, parse, pick the operation, then stage durably.

Answers (mapped to HTTP by the API): 202 queued/duplicate only after the inbox row (and queue
row) committed; 400 malformed body; 401 bad key or signature; 404 unknown entity; 413 too
large; 415 content type; 422 invalid record. Authenticated bad input is kept in the inbox as
``rejected`` with the reason, so nothing sent to TDS silently disappears.

The operation comes from the URL (``?event=``) or (key-authenticated only) ``X-TDS-Event``,
never from the body: Zoho's payload carries no event type (reference section 10). Without one
the event is an upsert, except for a body that looks like a delete, which is refused (400,
stored as rejected) instead of being applied as an upsert of an empty record. "Looks like a
delete" (``looks_like_delete``): the record carries its id and no other field with a value
(absent, ``null`` or ``""``). Any other field, even only ``last_modified_time``, makes it a
(partial) update, applied as usual (an update keeps the columns a record does not carry). With
completion configured (``complete_partial``) such a body is a hint instead: the fetch tells an
edit from a delete.

A signature covers the query and the body only, so a signature-authenticated request takes its
operation from ``?event=`` alone, is refused (400) when it sends ``X-TDS-Event`` or
``X-Idempotency-Key``, and must carry Zoho's version unless it deletes (422): a replayed
capture is a duplicate by content hash, or stale by version, never a delete or a rollback
(docs/architecture.md, "What a captured signed webhook can do").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from tds_core.access.api_keys import KeyVerifier, split_prefix
from tds_core.db.connection import Pool
from tds_core.domain.entities import ENTITIES, EntitySpec
from tds_core.domain.records import VERSION_FIELDS, RecordError, extract_record, normalize_id
from tds_core.domain.states import Operation
from tds_core.ingest import signature
from tds_core.ingest.bodies import FORM_TYPE, BodyError, looks_like_json, media_type, parse
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


def looks_like_delete(spec: EntitySpec, document: Any) -> str | None:
    """The id of a record that carries its id and no other field with a value (see the module
    docstring), else None. Such a body without an event is refused rather than upserted."""
    try:
        record = extract_record(spec, document)
    except RecordError:
        return None  # staging names the problem
    zoho_id = normalize_id(record.get(spec.id_field))
    if zoho_id is None:
        return None
    if any(key != spec.id_field and value not in (None, "") for key, value in record.items()):
        return None
    return zoho_id


def ambiguous_delete(spec: EntitySpec) -> str:
    return (
        f"the body carries only {spec.module_key}.{spec.id_field}, which looks like a delete, but "
        f"the URL names no event: configure the Deleted workflow's webhook URL with "
        f"?event=deleted (or ?event=updated to apply such a body as an update)"
    )


SIGNED = "signature"
"""The identity of a request authenticated by ``X-Zoho-Webhook-Signature``."""
UNSIGNED_HEADERS = ("x-tds-event", "x-idempotency-key")
"""Headers that change what a request does but that no signature covers."""


def refuse_unsigned_headers(headers: Mapping[str, str]) -> None:
    """A signature authenticates the query and body only: a header that would change the
    operation or the deduplication of a signed request is refused, not obeyed (a replay of a
    captured request with a header added must not turn an upsert into a delete, or a duplicate
    into a new event)."""
    for name in UNSIGNED_HEADERS:
        if name in headers:
            raise WebhookError(
                400,
                f"{name} is not covered by X-Zoho-Webhook-Signature: name the event in the signed "
                f"URL (?event=...) and send no {name} with a signed request",
            )


def carries_version(spec: EntitySpec, document: Any) -> bool:
    """Whether the record carries Zoho's version (``last_modified_time`` or ``updated_time``)."""
    try:
        record = extract_record(spec, document)
    except RecordError:
        return True  # staging names the problem
    return any(record.get(name) not in (None, "") for name in VERSION_FIELDS)


def unversioned_signed(spec: EntitySpec) -> str:
    return (
        f"a signed webhook must carry {spec.module_key}.last_modified_time: without Zoho's version a "
        f"replay of the captured body would be versioned by its receipt and could overwrite newer "
        f"data; add last_modified_time to the webhook's payload (or use an API key)"
    )


class WebhookIntake:
    def __init__(
        self,
        pool: Pool,
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

    async def authenticate(self, request: WebhookRequest) -> str:
        """Raise 401 unless the request is authenticated; who it is: ``signature`` or
        ``key:<prefix>``."""
        signed = request.headers.get("x-zoho-webhook-signature")
        if self.webhook_secret and signed:
            # a JSON document sent with the form content type (Zoho's "Raw" body) is signed as JSON
            is_form = media_type(request.content_type) == FORM_TYPE and not looks_like_json(request.body)
            params = list(request.query)
            if is_form:
                params += parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
            if signature.verify(self.webhook_secret, params, b"" if is_form else request.body, signed):
                return SIGNED
            raise WebhookError(401, "invalid X-Zoho-Webhook-Signature")
        key = request.headers.get("x-tds-key") or dict(request.query).get("key")
        if not key:
            raise WebhookError(401, "missing API key: send the X-TDS-Key header (or ?key=)")
        if await self.keys.verify(self.pool, key) is None:
            raise WebhookError(401, "invalid or revoked API key")
        return f"key:{split_prefix(key)}"

    async def receive(
        self, request: WebhookRequest, *, authenticated: Callable[[str], None] | None = None
    ) -> Staged:
        """Authenticate, then (``authenticated(identity)``: the caller's per-key rate limit,
        which may refuse) parse and stage."""
        received_at = datetime.now(UTC)
        identity = await self.authenticate(request)
        if authenticated is not None:
            authenticated(identity)
        signed = identity == SIGNED
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
        spec = ENTITIES[request.entity]
        event = dict(request.query).get("event")
        if not signed:
            event = event or request.headers.get("x-tds-event")
        try:
            if signed:
                refuse_unsigned_headers(request.headers)
            operation = parse_operation(event)
            parsed = parse(request.body, request.content_type, self.max_json_depth, spec.module_key)
        except (WebhookError, BodyError) as exc:
            status = exc.status
            event_id = await store_rejected(self.pool, envelope, [exc.message])
            raise WebhookError(status, exc.message, [exc.message], event_id) from exc
        try:
            if self.complete_partial:
                hint = await stage_hint(self.pool, envelope, parsed.document, operation)
                if hint is not None:
                    return hint
            if signed and not operation.is_delete and not carries_version(spec, parsed.document):
                message = unversioned_signed(spec)
                event_id = await store_rejected(self.pool, envelope, [message], operation)
                raise WebhookError(422, message, [message], event_id)
            if event is None or not event.strip():
                zoho_id = looks_like_delete(spec, parsed.document)
                if zoho_id is not None:
                    message = ambiguous_delete(spec)
                    event_id = await store_rejected(self.pool, envelope, [message], None, zoho_id)
                    raise WebhookError(400, message, [message], event_id)
            return await stage_event(self.pool, envelope, parsed.document, operation, group=self.group)
        except Rejected as exc:
            raise WebhookError(exc.status, exc.message, exc.reasons, exc.event_id) from exc
