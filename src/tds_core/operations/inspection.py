"""Read models of the sync queue: a filtered page, a summary, and the trace of one event.

A trace follows one event the way it travelled (DESIGN guarantee 4): the raw inbox row (body
cut to :data:`TRACE_BODY_BYTES`, credential headers removed), the queue row(s) it produced with
their attempt history, the sync-log lines, the audit rows of the ERP changes it made (with
diffs), the ERP row as it is now, and its dead letter(s), if any.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from tds_core.db import dead_letters, inspection
from tds_core.db.connection import Executor
from tds_core.db.inspection import InboxTraced, QueueTraced
from tds_core.domain.entities import ENTITIES
from tds_core.domain.states import QueueState
from tds_core.operations.history import AuditEntry, ErpState, audit_entry, erp_state

TRACE_BODY_BYTES = 64 * 1024
# Request headers never shown: credentials of the webhook caller.
SECRET_HEADERS = frozenset({"x-tds-key", "authorization", "proxy-authorization", "cookie", "x-api-key"})
SECRET_HEADER_PARTS = ("signature", "secret", "token", "password")


class QueueRow(BaseModel):
    id: int
    inbox_event_id: int | None = None
    entity: str
    zoho_id: str
    operation: str
    status: QueueState
    attempts: int
    next_attempt_at: datetime
    locked_by: str | None = None
    locked_until: datetime | None = None
    last_error: str | None = None
    error_class: str | None = None
    source_version: datetime
    received_at: datetime
    enqueued_at: datetime
    claimed_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime


class QueuePage(BaseModel):
    items: list[QueueRow]
    next_before_id: int | None = Field(description="Pass as before_id for the next (older) page")


class QueueSummary(BaseModel):
    total: int
    by_state: dict[str, int] = Field(description="Every queue state with its count")
    by_entity: dict[str, dict[str, int]] = Field(description="Per entity: every state with its count")
    oldest_pending_at: datetime | None = Field(description="When the oldest pending event was enqueued")


class QueueDetail(QueueRow):
    content_hash: str
    payload: dict[str, Any] | None = None
    attempt_history: list[Any] = Field(description="One entry per failed attempt, replay or rescue")


class InboxEvent(BaseModel):
    id: int
    entity: str
    source: str
    status: str = Field(description="queued, rejected, hint or fetched")
    operation: str | None = None
    zoho_id: str | None = None
    idempotency_key: str | None = None
    content_type: str | None = None
    headers: dict[str, Any] = Field(description="Kept request headers, without credentials")
    body: str = Field(description="The raw body as received (UTF-8), cut to body_limit bytes")
    body_size: int
    body_truncated: bool
    rejection_reasons: Any = None
    correlation_id: str | None = None
    received_at: datetime
    completed_by_event: int | None = Field(
        default=None, description="For a fetched hint: the event that carried the full record"
    )


class SyncLogLine(BaseModel):
    id: int
    queue_id: int | None = None
    inbox_event_id: int | None = None
    entity: str
    zoho_id: str | None = None
    outcome: str
    attempt: int | None = None
    worker_id: str | None = None
    duration_ms: float | None = None
    latency_ms: float | None = None
    message: str | None = None
    created_at: datetime


class DeadLetterSummary(BaseModel):
    """One dead letter as listed (``GET /api/v1/dlq``)."""

    id: int
    queue_id: int
    inbox_event_id: int | None = None
    entity: str
    zoho_id: str
    operation: str
    error: str
    error_class: str
    attempts: int
    status: str = Field(description="open, replayed or discarded")
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution_note: str | None = None


class DeadLetter(DeadLetterSummary):
    """One dead letter whole: in its own view and in an event's trace."""

    source_version: datetime
    payload: Any = Field(description="The record as it was queued")
    attempt_history: list[Any] = Field(description="Every attempt: when, by which worker, the error")


class EventTrace(BaseModel):
    outcome: str = Field(
        description="Where the event stands: the latest queue row's state, or the inbox status "
        "(rejected, hint, fetched) when it never reached the queue"
    )
    inbox: InboxEvent | None = Field(description="None when the inbox row is past its retention")
    queue: list[QueueDetail]
    logs: list[SyncLogLine]
    audit: list[AuditEntry] = Field(description="The ERP changes this event made, with diffs")
    erp: ErpState | None = Field(description="The ERP row(s) of the entity instance now")
    dead_letters: list[DeadLetter]


# ---------------------------------------------------------------------------- queue
async def queue_page(
    connection: Executor,
    *,
    state: str | None = None,
    entity: str | None = None,
    zoho_id: str | None = None,
    search: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> QueuePage:
    rows = await inspection.queue_list_filtered(
        connection,
        state=state,
        entity=entity,
        zoho_id=zoho_id,
        search=search or None,
        before_id=before_id,
        limit=limit,
    )
    items = [QueueRow.model_validate(row) for row in rows]
    return QueuePage(items=items, next_before_id=items[-1].id if len(items) == limit else None)


async def queue_summary(connection: Executor) -> QueueSummary:
    states = [state.value for state in QueueState]
    by_state = dict.fromkeys(states, 0)
    by_entity = {entity: dict.fromkeys(states, 0) for entity in ENTITIES}
    oldest: datetime | None = None
    for row in await inspection.queue_count_by_entity_state(connection):
        by_state[row["status"]] += row["events"]
        by_entity.setdefault(row["entity"], dict.fromkeys(states, 0))[row["status"]] += row["events"]
        if row["status"] == QueueState.PENDING and (oldest is None or row["oldest_enqueued_at"] < oldest):
            oldest = row["oldest_enqueued_at"]
    return QueueSummary(
        total=sum(by_state.values()), by_state=by_state, by_entity=by_entity, oldest_pending_at=oldest
    )


# ---------------------------------------------------------------------------- trace
def visible_headers(headers: dict[str, Any]) -> dict[str, Any]:
    """The stored request headers minus anything that authenticates the caller."""
    return {
        name: value
        for name, value in headers.items()
        if name.lower() not in SECRET_HEADERS
        and not any(part in name.lower() for part in SECRET_HEADER_PARTS)
    }


def _inbox(row: InboxTraced) -> InboxEvent:
    headers = row["headers"] if isinstance(row["headers"], dict) else {}
    completed_by = headers.get("completed_by_event")
    return InboxEvent(
        id=row["id"],
        entity=row["entity"],
        source=row["source"],
        status=row["status"],
        operation=row["operation"],
        zoho_id=row["zoho_id"],
        idempotency_key=row["idempotency_key"],
        content_type=row["content_type"],
        headers=visible_headers(headers),
        body=bytes(row["body"]).decode("utf-8", "replace"),
        body_size=row["body_size"],
        body_truncated=row["body_size"] > len(row["body"]),
        rejection_reasons=row["rejection_reasons"],
        correlation_id=row["correlation_id"],
        received_at=row["received_at"],
        completed_by_event=completed_by if isinstance(completed_by, int) else None,
    )


async def _trace(connection: Executor, inbox: InboxEvent | None, queue_rows: list[QueueTraced]) -> EventTrace:
    queue = [QueueDetail.model_validate(row) for row in queue_rows]
    ids = [row.id for row in queue]
    logs = [
        SyncLogLine.model_validate(r)
        for r in await inspection.sync_logs_for_queue_rows(connection, queue_ids=ids)
    ]
    audit = [audit_entry(r) for r in await inspection.audit_for_queue_rows(connection, queue_ids=ids)]
    letters = [
        DeadLetter.model_validate(r) for r in await dead_letters.for_queue_rows(connection, queue_ids=ids)
    ]
    entity = queue[-1].entity if queue else inbox.entity if inbox else None
    zoho_id = queue[-1].zoho_id if queue else inbox.zoho_id if inbox else None
    spec = ENTITIES.get(entity) if entity else None
    erp = await erp_state(connection, spec, zoho_id) if spec is not None and zoho_id else None
    outcome = queue[-1].status.value if queue else inbox.status if inbox else "unknown"
    return EventTrace(
        outcome=outcome, inbox=inbox, queue=queue, logs=logs, audit=audit, erp=erp, dead_letters=letters
    )


async def trace_event(connection: Executor, inbox_event_id: int) -> EventTrace | None:
    """The trace of one inbox event; ``None`` when there is no such event."""
    row = await inspection.inbox_get_for_trace(
        connection, inbox_event_id=inbox_event_id, body_bytes=TRACE_BODY_BYTES
    )
    if row is None:
        return None
    queue_rows = await inspection.queue_for_inbox_event(connection, inbox_event_id=inbox_event_id)
    return await _trace(connection, _inbox(row), queue_rows)


async def trace_queue_row(connection: Executor, queue_id: int) -> EventTrace | None:
    """The trace of the event behind one queue row; ``None`` when there is no such row."""
    row = await inspection.queue_get_for_trace(connection, queue_id=queue_id)
    if row is None:
        return None
    if row["inbox_event_id"] is not None:
        inbox = await inspection.inbox_get_for_trace(
            connection, inbox_event_id=row["inbox_event_id"], body_bytes=TRACE_BODY_BYTES
        )
        if inbox is not None:
            # the whole event: a queue row is one of the (usually one) rows its inbox event produced
            queue_rows = await inspection.queue_for_inbox_event(
                connection, inbox_event_id=row["inbox_event_id"]
            )
            return await _trace(connection, _inbox(inbox), queue_rows)
    return await _trace(connection, None, [row])
