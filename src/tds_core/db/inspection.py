"""The read-only statements behind the admin API's queue, event trace and entity history views.

They read several tables (queue, inbox, sync logs, audit trail, dead letters, ERP tables), so
each function keeps its statement's full name (``queue_list_filtered``, ``audit_history_page``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


class QueueListed(TypedDict):
    id: int
    inbox_event_id: int | None
    entity: str
    zoho_id: str
    operation: str
    status: str
    attempts: int
    next_attempt_at: datetime
    locked_by: str | None
    locked_until: datetime | None
    last_error: str | None
    error_class: str | None
    source_version: datetime
    received_at: datetime
    enqueued_at: datetime
    claimed_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class QueueTraced(QueueListed):
    content_hash: str
    payload: dict[str, Any]
    attempt_history: list[Any]


class QueueCount(TypedDict):
    entity: str
    status: str
    events: int
    oldest_enqueued_at: datetime


class InboxTraced(TypedDict):
    id: int
    entity: str
    source: str
    status: str
    operation: str | None
    zoho_id: str | None
    idempotency_key: str | None
    content_type: str | None
    headers: Any
    """A JSON object as stored (jsonb)."""
    body: bytes
    """The first bytes of the raw body (``body_size`` is the full size)."""
    body_size: int
    rejection_reasons: Any
    correlation_id: str | None
    received_at: datetime


class SyncLogRow(TypedDict):
    id: int
    queue_id: int | None
    inbox_event_id: int | None
    entity: str
    zoho_id: str | None
    outcome: str
    attempt: int | None
    worker_id: str | None
    duration_ms: float | None
    latency_ms: float | None
    message: str | None
    created_at: datetime


class AuditRow(TypedDict):
    id: int
    queue_id: int
    inbox_event_id: int | None
    entity: str
    zoho_id: str
    erp_table: str
    row_key: str
    action: str
    source_version: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    actor: str
    worker_id: str | None
    created_at: datetime


class ErpRow(TypedDict):
    erp_table: str
    row: dict[str, Any]


@statement
async def queue_list_filtered(
    db: Executor,
    *,
    state: str | None,
    entity: str | None,
    zoho_id: str | None,
    search: str | None,
    before_id: int | None,
    limit: int,
) -> list[QueueListed]:
    rows = await db.fetch(QUERIES.queue_list_filtered, state, entity, zoho_id, search, before_id, limit)
    return [cast(QueueListed, dict(row)) for row in rows]


@statement
async def queue_count_by_entity_state(db: Executor) -> list[QueueCount]:
    return [cast(QueueCount, dict(row)) for row in await db.fetch(QUERIES.queue_count_by_entity_state)]


@statement
async def queue_get_for_trace(db: Executor, *, queue_id: int) -> QueueTraced | None:
    row = await db.fetchrow(QUERIES.queue_get_for_trace, queue_id)
    return None if row is None else cast(QueueTraced, dict(row))


@statement
async def queue_for_inbox_event(db: Executor, *, inbox_event_id: int) -> list[QueueTraced]:
    rows = await db.fetch(QUERIES.queue_for_inbox_event, inbox_event_id)
    return [cast(QueueTraced, dict(row)) for row in rows]


@statement
async def inbox_get_for_trace(db: Executor, *, inbox_event_id: int, body_bytes: int) -> InboxTraced | None:
    row = await db.fetchrow(QUERIES.inbox_get_for_trace, inbox_event_id, body_bytes)
    return None if row is None else cast(InboxTraced, dict(row))


@statement
async def sync_logs_for_queue_rows(db: Executor, *, queue_ids: list[int]) -> list[SyncLogRow]:
    rows = await db.fetch(QUERIES.sync_logs_for_queue_rows, queue_ids)
    return [cast(SyncLogRow, dict(row)) for row in rows]


@statement
async def audit_for_queue_rows(db: Executor, *, queue_ids: list[int]) -> list[AuditRow]:
    rows = await db.fetch(QUERIES.audit_for_queue_rows, queue_ids)
    return [cast(AuditRow, dict(row)) for row in rows]


@statement
async def audit_history_page(
    db: Executor, *, entity: str, zoho_id: str, before_id: int | None, limit: int
) -> list[AuditRow]:
    rows = await db.fetch(QUERIES.audit_history_page, entity, zoho_id, before_id, limit)
    return [cast(AuditRow, dict(row)) for row in rows]


@statement
async def erp_rows_for_instance(db: Executor, *, entity: str, zoho_id: str) -> list[ErpRow]:
    """The instance's ERP row(s) as they are now, tombstones included (stock: one per location)."""
    rows = await db.fetch(QUERIES.erp_rows_for_instance, entity, zoho_id)
    return [cast(ErpRow, dict(row)) for row in rows]


@statement
async def erp_lines_for_instance(db: Executor, *, entity: str, zoho_id: str) -> list[ErpRow]:
    """The line items of a document or price list as they are now."""
    rows = await db.fetch(QUERIES.erp_lines_for_instance, entity, zoho_id)
    return [cast(ErpRow, dict(row)) for row in rows]
