"""Expired-lease rescue: hand the events of gone workers back to the queue.

A lease is abandoned when it expired or its worker's liveness lock is gone
(``tds_lease_abandoned``). Events whose last attempt was the final one are dead-lettered (their
attempt was lost with the worker); the others return to ``pending``. Every worker runs this
every ``worker.rescue_interval_seconds``; the scheduler runs it too, so leases are rescued even
while no worker is up to do it (and the queue says the truth to the dashboard and alerts).
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from tds_core.db import queue
from tds_core.db.connection import Pool, connected

log = structlog.get_logger("tds.queue")
BATCH = 1000


@dataclass(frozen=True)
class RescueResult:
    rescued: int = 0
    dead_lettered: int = 0

    def __bool__(self) -> bool:
        return bool(self.rescued or self.dead_lettered)


async def run_once(pool: Pool, max_attempts: int) -> RescueResult:
    async with connected(pool) as connection:
        dead = await queue.dead_exhausted(connection, now=None, limit=BATCH, max_attempts=max_attempts)
        rows = await queue.rescue_expired(connection, now=None, limit=BATCH, max_attempts=max_attempts)
    if dead:
        log.warning("dead-lettered events whose last attempt was lost", count=len(dead))
    if rows:
        log.warning("rescued leases of stopped workers", count=len(rows))
    return RescueResult(rescued=len(rows), dead_lettered=len(dead))
