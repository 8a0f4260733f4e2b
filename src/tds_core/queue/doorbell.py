"""The workers' doorbell, rung by the API after events commit.

NOTIFY is a wake-up, not a message, and issuing one per webhook would serialise commits on
PostgreSQL's notification queue lock. So the API only sets a flag; one task turns flags into
at most one ``NOTIFY tds_queue`` every ``interval`` seconds. Workers also poll, so a lost ring
costs latency, never an event.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from tds_core.db.queries import QUERIES


class Doorbell:
    def __init__(self, pool: Any, interval: float = 0.005) -> None:
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
                async with self.pool.acquire() as connection:
                    await connection.execute(QUERIES.queue_notify)
            await asyncio.sleep(self.interval)
