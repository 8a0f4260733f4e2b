"""``tds_conflicts``: ERP rows changed outside TDS that an event met. Written by the worker's apply
(one statement per batch that met any), listed and resolved by operators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


class ConflictListed(TypedDict):
    id: int
    entity: str
    zoho_id: str
    erp_table: str
    row_key: str
    policy: str
    status: str
    resolution: str | None
    queue_id: int
    inbox_event_id: int | None
    held_events: int
    operation: str
    source_version: datetime
    changed_columns: list[str]
    detected_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    note: str | None


class Conflict(TypedDict):
    id: int
    entity: str
    zoho_id: str
    erp_table: str
    row_key: str
    policy: str
    status: str
    resolution: str | None
    queue_id: int
    inbox_event_id: int | None
    held_queue_ids: list[int]
    held_events: int
    operation: str
    source_version: datetime
    content_hash: str
    payload: dict[str, Any]
    source_row: dict[str, Any] | None
    local_row: dict[str, Any] | None
    written: dict[str, Any] | None
    changed_columns: list[str]
    detected_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    note: str | None


class ConflictLocked(TypedDict):
    id: int
    entity: str
    zoho_id: str
    status: str
    resolution: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    held_queue_ids: list[int]
    source_version: datetime
    content_hash: str
    payload: dict[str, Any]
    operation: str


class OpenSummary(TypedDict):
    open: int
    oldest_at: datetime | None


@statement
async def record_batch(db: Executor, *, conflicts: Sequence[Mapping[str, Any]]) -> None:
    """One batch's conflicts, in one statement: rows resolved by their policy and held instances
    (each joining the instance's open conflict when it has one). Each has ``entity``,
    ``zoho_id``, ``erp_table``, ``row_key``, ``policy``, ``status``, ``resolution``,
    ``queue_id``, ``inbox_event_id``, ``held_queue_ids``, ``operation``, ``source_version``,
    ``content_hash``, ``payload``, ``source_row``, ``local_row``, ``written``,
    ``changed_columns``."""
    await db.execute(QUERIES.conflicts_record_batch, conflicts)


@statement
async def page(
    db: Executor,
    *,
    status: str | None,
    entity: str | None,
    zoho_id: str | None,
    before_id: int | None,
    limit: int,
) -> list[ConflictListed]:
    """Conflicts matching the filter (each part optional), newest first, ids below ``before_id``."""
    rows = await db.fetch(QUERIES.conflicts_page, status, entity, zoho_id, before_id, limit)
    return [cast(ConflictListed, dict(row)) for row in rows]


@statement
async def get(db: Executor, *, conflict_id: int) -> Conflict | None:
    """One conflict with the event's payload, the rows compared and the held queue rows."""
    row = await db.fetchrow(QUERIES.conflicts_get, conflict_id)
    return None if row is None else cast(Conflict, dict(row))


@statement
async def lock_one(db: Executor, *, conflict_id: int) -> ConflictLocked | None:
    """One conflict's state, locked for the rest of the transaction."""
    row = await db.fetchrow(QUERIES.conflicts_lock_one, conflict_id)
    return None if row is None else cast(ConflictLocked, dict(row))


@statement
async def resolve_open(
    db: Executor, *, conflict_id: int, resolution: str, resolved_by: str, note: str | None
) -> int | None:
    """Resolve an open conflict; its id, None when it was not open."""
    row = await db.fetchrow(QUERIES.conflicts_resolve_open, conflict_id, resolution, resolved_by, note)
    return None if row is None else int(row["id"])


@statement
async def requeue_held(db: Executor, *, queue_ids: list[int], by: str, conflict_id: int) -> list[int]:
    """apply_source: the held queue rows go back to pending (attempts reset); the ids requeued."""
    rows = await db.fetch(QUERIES.conflicts_requeue_held, queue_ids, by, conflict_id)
    return [int(row["id"]) for row in rows]


@statement
async def discard_held(db: Executor, *, queue_ids: list[int], by: str, conflict_id: int) -> list[int]:
    """keep_local: the held queue rows end skipped_unchanged; the ids discarded."""
    rows = await db.fetch(QUERIES.conflicts_discard_held, queue_ids, by, conflict_id)
    return [int(row["id"]) for row in rows]


@statement
async def open_summary(db: Executor) -> OpenSummary:
    """Open conflicts: how many, and since when the oldest waits."""
    row = await db.fetchrow(QUERIES.conflicts_open_summary)
    assert row is not None  # an aggregate without GROUP BY always returns its row
    return cast(OpenSummary, dict(row))
