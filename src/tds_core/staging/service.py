"""Validate a document against its entity schema and store it: inbox row + queue row together.

Every source (webhook, pull, reconciliation, replay) comes through :func:`stage_event`, so
there is one validation and one enqueue path. Nothing is answered 2xx before this commits.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from tds_core.db import inbox
from tds_core.db.connection import Executor, Pool, transaction
from tds_core.domain.entities import ENTITIES
from tds_core.domain.hashing import content_hash, idempotency_key
from tds_core.domain.records import RecordError, extract_record, is_partial, normalize_id, stage
from tds_core.domain.states import Operation
from tds_core.errors import DataError, TransientDatabaseError
from tds_core.staging.group_commit import GroupCommit

Staged = inbox.Accepted
"""A staged event: its inbox id and ``queued``, or the first event's id and ``duplicate``."""

ACCEPT_ATTEMPTS = 3
"""Tries of an idempotent insert that met a repeat committed after its snapshot."""


class Rejected(Exception):
    """The event was stored as ``rejected`` (``event_id``) and must be answered with ``status``."""

    def __init__(self, status: int, message: str, reasons: list[str], event_id: int | None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reasons = reasons
        self.event_id = event_id


@dataclass
class Envelope:
    """What the source knows about an event besides its document."""

    entity: str
    source: str
    received_at: datetime
    body: bytes
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    correlation_id: str | None = None
    idempotency_key: str | None = None


async def store_rejected(
    db: Executor,
    envelope: Envelope,
    reasons: list[str],
    operation: Operation | None = None,
    zoho_id: str | None = None,
) -> int:
    """Keep an invalid event with its reasons (never queued). Returns its inbox id."""
    return await inbox.insert_rejected(
        db,
        entity=envelope.entity,
        source=envelope.source,
        operation=operation.value if operation else None,
        zoho_id=zoho_id,
        body_hash=None,
        content_type=envelope.content_type,
        headers=envelope.headers,
        body=envelope.body,
        rejection_reasons=reasons,
        correlation_id=envelope.correlation_id,
        received_at=envelope.received_at,
    )


async def stage_hint(db: Executor, envelope: Envelope, document: Any, operation: Operation) -> Staged | None:
    """Keep a partial webhook as a hint for the completer (None when the body is complete, or a
    delete, which needs only the id): the full record is fetched later and staged then."""
    spec = ENTITIES[envelope.entity]
    if operation.is_delete:
        return None
    try:
        record = extract_record(spec, document)
    except RecordError:
        return None  # stage_event names the problem
    zoho_id = normalize_id(record.get(spec.id_field))
    if zoho_id is None or not is_partial(spec, record):
        return None
    body_hash = content_hash(record)
    hint = _arrived(envelope, operation, zoho_id, "hint", body_hash)
    return await _accept(db, functools.partial(inbox.accept_hint, db, hint), hint.idempotency_key)


async def stage_event(
    db: Executor, envelope: Envelope, document: Any, operation: Operation, *, group: GroupCommit | None = None
) -> Staged:
    """Validate and enqueue; raises :class:`Rejected` (422) after storing an invalid event.

    ``db`` is a pool (each statement commits on its own: the webhook path) or a connection
    inside the caller's transaction (pulls: records and their cursor commit together). With
    ``group`` (the webhook path's pool), concurrent events share statements and commits."""
    spec = ENTITIES[envelope.entity]
    try:
        staged = stage(spec, document, operation, envelope.received_at)
    except RecordError as exc:
        event_id = await store_rejected(db, envelope, exc.reasons, operation)
        raise Rejected(422, "invalid record", exc.reasons, event_id) from exc
    kind = "delete" if operation.is_delete else "upsert"
    arrived = _arrived(envelope, operation, staged.zoho_id, kind, staged.content_hash)
    event = inbox.NewEvent.staged(
        arrived, source_version=staged.version, content_hash=staged.content_hash, payload=staged.record
    )
    try:
        if group is not None:
            return await group.submit(event)
        async with _savepoint(db):
            return await _enqueue(db, event)
    except DataError as exc:
        # A value PostgreSQL itself refuses (validation should have caught it): keep the event
        # as rejected and name the problem, instead of answering with a bare driver error.
        reasons = [f"{spec.module_key}: the database refused a value: {exc}"[:500]]
        event_id = await store_rejected(db, envelope, reasons, operation, staged.zoho_id)
        raise Rejected(422, "invalid record", reasons, event_id) from exc


def _arrived(
    envelope: Envelope, operation: Operation, zoho_id: str, kind: str, body_hash: str
) -> inbox.Arrived:
    """The inbox row of an event as received. Its idempotency key is the source's own
    (``X-Idempotency-Key``) when it sent one, else the entity, the ``kind`` (upsert, delete,
    hint) and the content's hash."""
    key = (
        f"{envelope.entity}:key:{envelope.idempotency_key}"
        if envelope.idempotency_key
        else idempotency_key(envelope.entity, kind, body_hash)
    )
    return inbox.Arrived(
        entity=envelope.entity,
        source=envelope.source,
        operation=operation.value,
        zoho_id=zoho_id,
        idempotency_key=key,
        body_hash=body_hash,
        content_type=envelope.content_type,
        headers=envelope.headers,
        body=envelope.body,
        correlation_id=envelope.correlation_id,
        received_at=envelope.received_at,
    )


def _savepoint(db: Executor) -> AbstractAsyncContextManager[Any]:
    """Inside a caller's transaction, a refused insert must not abort the whole transaction.

    A pool has no transaction to protect (each statement commits on its own), and opening one
    would cost the webhook path two round trips, so only a connection gets the savepoint."""
    return transaction(db) if isinstance(db, asyncpg.Connection) else nullcontext()


def group_commit(pool: Pool) -> GroupCommit:
    """The webhook path's group commit over ``pool``; a leftover goes the single-event way."""

    async def single(event: inbox.NewEvent) -> Staged:
        return await _enqueue(pool, event)

    return GroupCommit(pool, single)


async def _enqueue(db: Executor, event: inbox.NewEvent) -> Staged:
    return await _accept(db, functools.partial(inbox.accept_event, db, event), event.idempotency_key)


async def _accept(db: Executor, insert: Callable[[], Awaitable[Staged | None]], key: str) -> Staged:
    """Run an idempotent ``insert``; when a concurrent repeat committed after its snapshot (it
    answered nothing), the first event is read by ``key`` and named as the duplicate."""
    for _ in range(ACCEPT_ATTEMPTS):
        answer = await insert()
        if answer is not None:
            return answer
        first = await inbox.find_by_idempotency_key(db, key)
        if first is not None:
            return Staged(first, "duplicate")
    # The repeat that blocked the insert is gone again (its row removed in between): nothing was
    # stored, and the source's retry will find a clear way.
    raise TransientDatabaseError(f"the event with idempotency key {key!r} was neither stored nor found")
