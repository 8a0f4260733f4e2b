"""``tds_sync_queue``: claiming, the lease-guarded writes, rescue, release and the doorbell.

Every write guarded by a lease (``*_if_leased`` / ``*_leased``) answers what it touched, so the
caller (:mod:`tds_core.queue.leases`) can tell "the lease is gone" from "done".

``queue_notify`` is not here: every wake-up of the workers goes through
:func:`tds_core.queue.doorbell.wake_workers` (a unit test holds that statement to that module).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, cast

from tds_core.db.connection import Executor, Row, dataclass_from, statement
from tds_core.db.queries import QUERIES


@dataclass(frozen=True)
class ClaimedEvent:
    """One event leased to a worker: its queue row and the inbox event's correlation and source."""

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
    def from_row(cls, row: Row) -> ClaimedEvent:
        return dataclass_from(cls, row)

    @property
    def is_delete(self) -> bool:
        return self.operation == "deleted"


class Rescued(TypedDict):
    id: int
    entity: str
    zoho_id: str
    attempts: int


def _count(status: str) -> int:
    """The row count of a command tag (``UPDATE 3``)."""
    return int(status.rsplit(" ", 1)[-1])


@statement
async def claim_batch(
    db: Executor, *, worker: str, size: int, now: datetime | None, lease_seconds: float
) -> list[ClaimedEvent]:
    """Lease up to ``size`` ready events to ``worker`` (``now``: None for the database's clock)."""
    rows = await db.fetch(QUERIES.queue_claim_batch, worker, size, now, lease_seconds)
    return [ClaimedEvent.from_row(row) for row in rows]


@statement
async def lock_leased(db: Executor, *, ids: list[int], worker: str) -> list[int]:
    """Row-lock the rows of ``ids`` that ``worker`` still leases; their ids."""
    return [row["id"] for row in await db.fetch(QUERIES.queue_lock_leased, ids, worker)]


@statement
async def finish_if_leased(db: Executor, *, ids: list[int], states: list[str], worker: str) -> int:
    """The number of rows finished."""
    return _count(await db.execute(QUERIES.queue_finish_if_leased, ids, states, worker))


@statement
async def retry_if_leased(
    db: Executor,
    *,
    queue_id: int,
    worker: str,
    delay_seconds: float,
    error: str,
    error_class: str,
    attempt_history: list[dict[str, Any]],
) -> int:
    """The number of rows sent back to pending (0: the lease was lost)."""
    status = await db.execute(
        QUERIES.queue_retry_if_leased, queue_id, worker, delay_seconds, error, error_class, attempt_history
    )
    return _count(status)


@statement
async def retry_now_after_outage(db: Executor, *, since: datetime) -> list[int]:
    """The ids made ready now."""
    return [row["id"] for row in await db.fetch(QUERIES.queue_retry_now_after_outage, since)]


@statement
async def dead_if_leased(
    db: Executor,
    *,
    queue_id: int,
    worker: str,
    error: str,
    error_class: str,
    attempt_history: list[dict[str, Any]],
) -> list[int]:
    """The dead letters written (none: the lease was lost)."""
    rows = await db.fetch(QUERIES.queue_dead_if_leased, queue_id, worker, error, error_class, attempt_history)
    return [row["id"] for row in rows]


@statement
async def renew_leases(db: Executor, *, ids: list[int], worker: str, lease_seconds: float) -> None:
    await db.execute(QUERIES.queue_renew_leases, ids, worker, lease_seconds)


@statement
async def rescue_expired(
    db: Executor, *, now: datetime | None, limit: int, max_attempts: int
) -> list[Rescued]:
    """Abandoned leases with attempts left, back to pending (``now``: None for the database's clock)."""
    rows = await db.fetch(QUERIES.queue_rescue_expired, now, limit, max_attempts)
    return [cast(Rescued, dict(row)) for row in rows]


@statement
async def dead_exhausted(db: Executor, *, now: datetime | None, limit: int, max_attempts: int) -> list[int]:
    """Abandoned leases on their last attempt, dead-lettered; their queue ids."""
    rows = await db.fetch(QUERIES.queue_dead_exhausted, now, limit, max_attempts)
    return [row["queue_id"] for row in rows]


@statement
async def release_worker(db: Executor, *, worker: str) -> list[int]:
    """Every lease ``worker`` holds, handed back; their ids."""
    return [row["id"] for row in await db.fetch(QUERIES.queue_release_worker, worker)]


@statement
async def release_leased(db: Executor, *, ids: list[int], worker: str) -> list[int]:
    """``worker``'s leases on ``ids``, handed back; their ids."""
    return [row["id"] for row in await db.fetch(QUERIES.queue_release_leased, ids, worker)]


@statement
async def notify(db: Executor) -> None:
    """``NOTIFY tds_queue`` (sent at commit inside a transaction); called only through
    :func:`tds_core.queue.doorbell.wake_workers`."""
    await db.execute(QUERIES.queue_notify)
