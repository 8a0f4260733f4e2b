"""The queue's leases: claim, lock, finish, retry, dead-letter, renew and release.

A worker owns an event while its row is ``processing`` with ``locked_by`` = the worker's id; every
write below is guarded by that lease (``*_if_leased`` / ``*_leased``), so a worker whose lease
expired and was rescued (:mod:`tds_core.queue.rescue`) can never overwrite what the event's new
owner does. Each function says what a zero-row answer means: the callers treat "the lease is
gone" as "write nothing more about this event".

The statements are in ``db/sql/queue.sql`` (typed in :mod:`tds_core.db.queue`); this module is
the only user of the lease ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tds_core.db import queue
from tds_core.db.connection import Executor
from tds_core.db.queue import ClaimedEvent

__all__ = ["ClaimedEvent"]


async def claim_batch(
    connection: Executor, *, worker: str, size: int, lease_seconds: float
) -> list[ClaimedEvent]:
    """Up to ``size`` ready events (``FOR UPDATE SKIP LOCKED``), leased to ``worker``."""
    return await queue.claim_batch(
        connection, worker=worker, size=size, now=None, lease_seconds=lease_seconds
    )


async def lock_leased(connection: Executor, *, ids: list[int], worker: str) -> set[int]:
    """Row-lock the events of ``ids`` that ``worker`` still leases (in the apply's transaction);
    the ids missing from the answer were lost (rescued and taken by another worker)."""
    return set(await queue.lock_leased(connection, ids=ids, worker=worker))


async def finish(connection: Executor, *, ids: list[int], states: list[str], worker: str) -> int:
    """Mark applied events with their terminal states; the number of rows finished."""
    return await queue.finish_if_leased(connection, ids=ids, states=states, worker=worker)


async def retry(
    connection: Executor,
    *,
    queue_id: int,
    worker: str,
    delay_seconds: float,
    error: str,
    error_class: str,
    attempt: dict[str, Any],
) -> bool:
    """A retryable failure: back to pending after ``delay_seconds``. False when the lease was lost."""
    retried = await queue.retry_if_leased(
        connection,
        queue_id=queue_id,
        worker=worker,
        delay_seconds=delay_seconds,
        error=error,
        error_class=error_class,
        attempt_history=[attempt],
    )
    return retried == 1


async def dead_letter(
    connection: Executor, *, queue_id: int, worker: str, error: str, error_class: str, attempt: dict[str, Any]
) -> bool:
    """A permanent failure or the last attempt: the row ends dead and a DLQ row is written. False
    when the lease was lost (nothing is written then)."""
    letters = await queue.dead_if_leased(
        connection,
        queue_id=queue_id,
        worker=worker,
        error=error,
        error_class=error_class,
        attempt_history=[attempt],
    )
    return bool(letters)


async def renew(connection: Executor, *, ids: list[int], worker: str, lease_seconds: float) -> None:
    """Extend ``worker``'s leases on ``ids`` (rows its own apply has locked are skipped)."""
    await queue.renew_leases(connection, ids=ids, worker=worker, lease_seconds=lease_seconds)


async def release(connection: Executor, *, ids: list[int], worker: str) -> int:
    """Hand back ``worker``'s leases on ``ids``, ready at once and without spending an attempt."""
    return len(await queue.release_leased(connection, ids=ids, worker=worker))


async def release_worker(connection: Executor, *, worker: str) -> int:
    """Hand back every lease ``worker`` holds (a graceful stop)."""
    return len(await queue.release_worker(connection, worker=worker))


async def retry_now_after_outage(connection: Executor, *, since: datetime) -> int:
    """Make the events that failed for a retryable reason since ``since`` ready now."""
    return len(await queue.retry_now_after_outage(connection, since=since))
