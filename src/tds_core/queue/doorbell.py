"""The workers' doorbell: every wake-up of the workers goes through this module.

NOTIFY is a wake-up, not a message, and issuing one per webhook would serialise commits on
PostgreSQL's notification queue lock. So the API only sets a flag (:class:`Doorbell`); one task
turns flags into at most one ``NOTIFY tds_queue`` every ``interval`` seconds. Code that queues
events in a transaction of its own (pulls, hints, replays, conflict resolutions, reconciliation)
calls :func:`wake_workers` on that connection: inside a transaction PostgreSQL delivers the
notification at commit, so a worker never wakes before the events are there. Workers also poll,
so a lost ring costs latency, never an event.
"""

from __future__ import annotations

import asyncio
import contextlib

from tds_core.db import queue
from tds_core.db.connection import Executor, Pool, connected


async def wake_workers(connection: Executor) -> None:
    """``NOTIFY tds_queue`` on ``connection`` (a pool or a connection; in a transaction it is
    sent at commit). Every wake-up of the workers goes through here."""
    await queue.notify(connection)


class Doorbell:
    def __init__(self, pool: Pool, interval: float = 0.005) -> None:
        self.pool = pool
        self.interval = interval
        self._rung = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def ring(self) -> None:
        self._rung.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="doorbell")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._rung.wait()
            self._rung.clear()
            with contextlib.suppress(Exception):
                async with connected(self.pool) as connection:
                    await wake_workers(connection)
            await asyncio.sleep(self.interval)
