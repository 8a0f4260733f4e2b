"""``tds_dead_letter_queue``: events that exhausted their attempts, kept for an operator to
replay or discard. Filters are optional parts (None: any); the error filter is a literal,
case-blind substring; ``ids`` (None: any) narrows to those letters."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


class LetterListed(TypedDict):
    """One dead letter as listed."""

    id: int
    queue_id: int
    inbox_event_id: int | None
    entity: str
    zoho_id: str
    operation: str
    error: str
    error_class: str
    attempts: int
    status: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None


class Letter(LetterListed):
    """One dead letter with its payload and attempt history."""

    source_version: datetime
    payload: dict[str, Any]
    attempt_history: list[Any]


class LetterState(TypedDict):
    id: int
    status: str
    resolved_by: str | None
    resolved_at: datetime | None


class OpenBounds(TypedDict):
    total: int
    """How many open letters match (up to the cap)."""
    upto: int
    """The last of them (0 when none)."""


class Resolved(TypedDict):
    id: int
    queue_id: int


class EntityPeriod(TypedDict):
    entity: str
    added: int
    added_open: int
    replayed: int
    discarded: int


class ClassCount(TypedDict):
    error_class: str
    letters: int


class TopError(TypedDict):
    error: str
    error_class: str
    letters: int
    example_id: int
    entities: list[str]
    oldest_at: datetime


class OldestOpen(TypedDict):
    id: int
    entity: str
    zoho_id: str
    error: str
    created_at: datetime


@statement
async def get(db: Executor, *, letter_id: int) -> Letter | None:
    row = await db.fetchrow(QUERIES.dlq_get, letter_id)
    return None if row is None else cast(Letter, dict(row))


@statement
async def for_queue_rows(db: Executor, *, queue_ids: list[int]) -> list[Letter]:
    """The dead letters of some queue rows (a replayed event that failed again has more than one)."""
    rows = await db.fetch(QUERIES.dlq_for_queue_rows, queue_ids)
    return [cast(Letter, dict(row)) for row in rows]


@statement
async def page(
    db: Executor,
    *,
    status: str | None,
    entity: str | None,
    zoho_id: str | None,
    error: str | None,
    error_class: str | None,
    before_id: int | None,
    limit: int,
) -> list[LetterListed]:
    """Matching letters, newest first, before the keyset id ``before_id``."""
    rows = await db.fetch(QUERIES.dlq_page, status, entity, zoho_id, error, error_class, before_id, limit)
    return [cast(LetterListed, dict(row)) for row in rows]


@statement
async def lock_one(db: Executor, *, letter_id: int) -> LetterState | None:
    """One letter's state, locked for the rest of the transaction."""
    row = await db.fetchrow(QUERIES.dlq_lock_one, letter_id)
    return None if row is None else cast(LetterState, dict(row))


@statement
async def open_bounds(
    db: Executor,
    *,
    entity: str | None,
    zoho_id: str | None,
    error: str | None,
    error_class: str | None,
    ids: list[int] | None,
    limit: int | None,
) -> OpenBounds:
    """How many open letters match, oldest first and capped at ``limit``, and the last id."""
    row = await db.fetchrow(QUERIES.dlq_open_bounds, entity, zoho_id, error, error_class, ids, limit)
    assert row is not None  # an aggregate always returns its row
    return cast(OpenBounds, dict(row))


@statement
async def open_after(
    db: Executor,
    *,
    entity: str | None,
    zoho_id: str | None,
    error: str | None,
    error_class: str | None,
    ids: list[int] | None,
    after: int,
    upto: int,
    limit: int,
) -> list[int]:
    """The ids of the next matching open letters after ``after``, up to id ``upto``."""
    rows = await db.fetch(
        QUERIES.dlq_open_after, entity, zoho_id, error, error_class, ids, after, upto, limit
    )
    return [row["id"] for row in rows]


@statement
async def requeue(db: Executor, *, letter_ids: list[int], by: str, note: str | None) -> list[Resolved]:
    """Replay the open letters among ``letter_ids``; the letters replayed, in id order."""
    rows = await db.fetch(QUERIES.dlq_requeue, letter_ids, by, note)
    return [cast(Resolved, dict(row)) for row in rows]


@statement
async def discard_open(db: Executor, *, letter_ids: list[int], by: str, note: str | None) -> list[Resolved]:
    """Discard the open letters among ``letter_ids``; the letters discarded, in id order."""
    rows = await db.fetch(QUERIES.dlq_discard_open, letter_ids, by, note)
    return [cast(Resolved, dict(row)) for row in rows]


@statement
async def period_by_entity(db: Executor, *, since: datetime, until: datetime) -> list[EntityPeriod]:
    rows = await db.fetch(QUERIES.dlq_period_by_entity, since, until)
    return [cast(EntityPeriod, dict(row)) for row in rows]


@statement
async def open_by_class(db: Executor) -> list[ClassCount]:
    return [cast(ClassCount, dict(row)) for row in await db.fetch(QUERIES.dlq_open_by_class)]


@statement
async def open_top_errors(db: Executor, *, limit: int) -> list[TopError]:
    return [cast(TopError, dict(row)) for row in await db.fetch(QUERIES.dlq_open_top_errors, limit)]


@statement
async def oldest_open(db: Executor) -> OldestOpen | None:
    row = await db.fetchrow(QUERIES.dlq_oldest_open)
    return None if row is None else cast(OldestOpen, dict(row))
