"""The inbox's accepting statements, typed: a new event is a :class:`NewEvent`, not fourteen
positional arguments.

``inbox_accept_event`` stores the raw event and its queue row in one statement (a repeated
idempotency key inserts nothing and names the first event); ``inbox_accept_events`` does the same
for many events at once (one array per column: the group commit of the webhook path). Both take
the fields of :class:`NewEvent` in its declaration order, which :meth:`NewEvent.parameters` and
:func:`columns` keep in one place.

The other statements keep a rejected event (:func:`insert_rejected`) and the hints of partial
webhooks (:func:`accept_hint`, :func:`claim_hints`, :func:`mark_fetched`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal, NamedTuple, TypedDict, cast

from tds_core.db.connection import Executor, Row, statement
from tds_core.db.queries import QUERIES


class Accepted(NamedTuple):
    """What accepting an event answered: its inbox id, and ``queued`` when it is new or
    ``duplicate`` when its idempotency key names an event accepted before (that event's id)."""

    event_id: int
    status: Literal["queued", "duplicate"]


def _accepted(row: Row) -> Accepted:
    status = row["status"]
    if status not in ("queued", "duplicate"):  # pragma: no cover - the statements name only these
        raise ValueError(f"an accepting statement answered status {status!r}")
    return Accepted(int(row["event_id"]), status)


class Hint(TypedDict):
    id: int
    entity: str
    operation: str
    """Never NULL for a hint (:func:`accept_hint` stores it), nor is ``zoho_id``."""
    zoho_id: str
    correlation_id: str | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Arrived:
    """An event's inbox row as received (a hint is only this)."""

    entity: str
    source: str
    operation: str
    zoho_id: str
    idempotency_key: str
    body_hash: str
    content_type: str | None
    headers: dict[str, Any]
    body: bytes
    correlation_id: str | None
    received_at: datetime

    def parameters(self) -> tuple[Any, ...]:
        """``$1``..``$11`` of ``inbox_accept_hint`` and ``inbox_accept_event``."""
        return (
            self.entity,
            self.source,
            self.operation,
            self.zoho_id,
            self.idempotency_key,
            self.body_hash,
            self.content_type,
            self.headers,
            self.body,
            self.correlation_id,
            self.received_at,
        )


@dataclass(frozen=True, slots=True)
class NewEvent(Arrived):
    """One event to accept: its inbox row (as received) and its queue row (as staged)."""

    source_version: datetime
    content_hash: str
    payload: dict[str, Any]

    @classmethod
    def staged(
        cls, arrived: Arrived, *, source_version: datetime, content_hash: str, payload: dict[str, Any]
    ) -> NewEvent:
        columns = {field.name: getattr(arrived, field.name) for field in fields(Arrived)}
        return cls(**columns, source_version=source_version, content_hash=content_hash, payload=payload)

    def parameters(self) -> tuple[Any, ...]:
        """``$1``..``$14`` of ``inbox_accept_event``."""
        return (*Arrived.parameters(self), self.source_version, self.content_hash, self.payload)


def columns(events: list[NewEvent]) -> list[list[Any]]:
    """``$1``..``$14`` of ``inbox_accept_events``: one array per field, one element per event."""
    return [list(column) for column in zip(*(event.parameters() for event in events), strict=True)]


@statement
async def accept_event(connection: Executor, event: NewEvent) -> Accepted | None:
    """None when a concurrent repeat committed after the statement's snapshot (read it with
    :func:`find_by_idempotency_key`)."""
    row = await connection.fetchrow(QUERIES.inbox_accept_event, *event.parameters())
    return None if row is None else _accepted(row)


@statement
async def accept_events(connection: Executor, events: list[NewEvent]) -> dict[int, Accepted]:
    """Per position in ``events`` (from 1) what it answered; a missing position is an event
    whose concurrent repeat committed after the snapshot."""
    rows = await connection.fetch(QUERIES.inbox_accept_events, *columns(events))
    return {int(row["ord"]): _accepted(row) for row in rows}


@statement
async def find_by_idempotency_key(connection: Executor, key: str) -> int | None:
    found = await connection.fetchval(QUERIES.inbox_find_by_idempotency_key, key)
    return None if found is None else int(found)


@statement
async def insert_rejected(
    db: Executor,
    *,
    entity: str,
    source: str,
    operation: str | None,
    zoho_id: str | None,
    body_hash: str | None,
    content_type: str | None,
    headers: dict[str, Any],
    body: bytes,
    rejection_reasons: list[str],
    correlation_id: str | None,
    received_at: datetime,
) -> int:
    """Keep an invalid event with its reasons (never queued); its inbox id."""
    event_id: int = await db.fetchval(
        QUERIES.inbox_insert_rejected,
        entity,
        source,
        operation,
        zoho_id,
        body_hash,
        content_type,
        headers,
        body,
        rejection_reasons,
        correlation_id,
        received_at,
    )
    return event_id


@statement
async def accept_hint(db: Executor, hint: Arrived) -> Accepted | None:
    """Keep a partial webhook as a hint; None when a concurrent repeat committed after the
    statement's snapshot (see :func:`find_by_idempotency_key`)."""
    row = await db.fetchrow(QUERIES.inbox_accept_hint, *hint.parameters())
    return None if row is None else _accepted(row)


@statement
async def claim_hints(db: Executor, *, limit: int) -> list[Hint]:
    """The oldest ``limit`` hints, row-locked (``SKIP LOCKED``) until the caller's transaction ends."""
    return [cast(Hint, dict(row)) for row in await db.fetch(QUERIES.inbox_claim_hints, limit)]


@statement
async def mark_fetched(db: Executor, *, hint_id: int, event_id: int) -> None:
    """The hint ``hint_id`` was completed by the staged event ``event_id``."""
    await db.execute(QUERIES.inbox_mark_fetched, hint_id, event_id)
