"""The queue's leases: claim, lock, finish, retry, dead-letter, renew and release.

A worker owns an event while its row is ``processing`` with ``locked_by`` = the worker's id; every
write below is guarded by that lease (``*_if_leased`` / ``*_leased``), so a worker whose lease
expired and was rescued (:mod:`tds_core.queue.rescue`) can never overwrite what the event's new
owner does. Each function says what a zero-row answer means: the callers treat "the lease is
gone" as "write nothing more about this event".

The statements are in ``db/sql/queue.sql``; this module is the only user of the lease ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tds_core.db.queries import QUERIES


@dataclass(frozen=True)
class ClaimedEvent:
    id: int
    inbox_event_id: int | None
    entity: str
    zoho_id: str
    operation: str
    source_version: datetime
    content_hash: str
    payload: dict[str, Any]
    attempts: int
    received_at: datetime
    correlation_id: str | None = None
    source: str | None = None
    """The inbox event's source (webhook, pull, reconcile, ...); None for a test's own event."""

    @classmethod
    def from_row(cls, row: Any) -> ClaimedEvent:
        return cls(
            id=row["id"],
            inbox_event_id=row["inbox_event_id"],
            entity=row["entity"],
            zoho_id=row["zoho_id"],
            operation=row["operation"],
            source_version=row["source_version"],
            content_hash=row["content_hash"],
            payload=row["payload"],
            attempts=row["attempts"],
            received_at=row["received_at"],
            correlation_id=row.get("correlation_id"),
            source=row.get("source"),
        )

    @property
    def is_delete(self) -> bool:
        return self.operation == "deleted"


async def claim_batch(connection: Any, *, worker: str, size: int, lease_seconds: float) -> list[ClaimedEvent]:
    """Up to ``size`` ready events (``FOR UPDATE SKIP LOCKED``), leased to ``worker``."""
    rows = await connection.fetch(QUERIES.queue_claim_batch, worker, size, None, lease_seconds)
    return [ClaimedEvent.from_row(row) for row in rows]


async def lock_leased(connection: Any, *, ids: list[int], worker: str) -> set[int]:
    """Row-lock the events of ``ids`` that ``worker`` still leases (in the apply's transaction);
    the ids missing from the answer were lost (rescued and taken by another worker)."""
    return {row["id"] for row in await connection.fetch(QUERIES.queue_lock_leased, ids, worker)}


async def finish(connection: Any, *, ids: list[int], states: list[str], worker: str) -> int:
    """Mark applied events with their terminal states; the number of rows finished."""
    status = await connection.execute(QUERIES.queue_finish_if_leased, ids, states, worker)
    return _count(status)


async def retry(
    connection: Any,
    *,
    queue_id: int,
    worker: str,
    delay_seconds: float,
    error: str,
    error_class: str,
    attempt: dict[str, Any],
) -> bool:
    """A retryable failure: back to pending after ``delay_seconds``. False when the lease was lost."""
    status = await connection.execute(
        QUERIES.queue_retry_if_leased, queue_id, worker, delay_seconds, error, error_class, [attempt]
    )
    return _count(status) == 1


async def dead_letter(
    connection: Any, *, queue_id: int, worker: str, error: str, error_class: str, attempt: dict[str, Any]
) -> bool:
    """A permanent failure or the last attempt: the row ends dead and a DLQ row is written. False
    when the lease was lost (nothing is written then)."""
    rows = await connection.fetch(
        QUERIES.queue_dead_if_leased, queue_id, worker, error, error_class, [attempt]
    )
    return bool(rows)


async def renew(connection: Any, *, ids: list[int], worker: str, lease_seconds: float) -> None:
    """Extend ``worker``'s leases on ``ids`` (rows its own apply has locked are skipped)."""
    await connection.execute(QUERIES.queue_renew_leases, ids, worker, lease_seconds)


async def release(connection: Any, *, ids: list[int], worker: str) -> int:
    """Hand back ``worker``'s leases on ``ids``, ready at once and without spending an attempt."""
    return len(await connection.fetch(QUERIES.queue_release_leased, ids, worker))


async def release_worker(connection: Any, *, worker: str) -> int:
    """Hand back every lease ``worker`` holds (a graceful stop)."""
    return len(await connection.fetch(QUERIES.queue_release_worker, worker))


async def retry_now_after_outage(connection: Any, *, since: datetime) -> int:
    """Make the events that failed for a retryable reason since ``since`` ready now."""
    return len(await connection.fetch(QUERIES.queue_retry_now_after_outage, since))


def _count(status: str) -> int:
    """The row count of a command tag (``UPDATE 3``)."""
    return int(status.rsplit(" ", 1)[-1])
