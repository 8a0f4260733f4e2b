"""Group commit for the webhook path: concurrent events share one statement and one commit.

Every accepted webhook needs its inbox and queue rows committed before the 202. Alone, each
costs a round trip, a transaction and a WAL flush. Here an event that arrives while earlier
ones are being written waits for the next flush and goes with everyone else who arrived
meanwhile: one ``inbox_accept_events`` statement (arrays, one element per event), one commit.
No timer is involved: an event arriving at an idle API is written at once, as before, so
batching adds no latency at low load and forms by itself under load.

What each caller gets back is exactly what the single-event path answers: its event id and
``queued``, or the first event's id and ``duplicate``; nothing is answered before its commit.
A batch that the database refuses as a whole for a value in one event (a ``DataError``) is
retried event by event, so only the bad event fails; a database outage fails every caller of
the batch with the same retryable error (the API answers 503 and Zoho retries).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tds_core.db import inbox
from tds_core.db.connection import Pool
from tds_core.errors import DataError

MAX_BATCH = 200
"""Events per statement, at most (a statement's arrays stay a few hundred KB)."""
MAX_FLUSHES = 2
"""Statements in flight at once: one being written while the next batch gathers; more only
adds connections contending for the same WAL flush."""


@dataclass
class _Waiting:
    event: inbox.NewEvent
    future: asyncio.Future[inbox.Accepted]

    @property
    def key(self) -> str:
        return self.event.idempotency_key


Single = Callable[[inbox.NewEvent], Awaitable[inbox.Accepted]]


class GroupCommit:
    """Collects events staged through one pool and writes them in shared statements.

    Each event is a :class:`~tds_core.db.inbox.NewEvent`; ``single`` writes one event the
    ordinary way (used for the leftovers of a batch and for its per-event retry)."""

    def __init__(
        self, pool: Pool, single: Single, *, max_batch: int = MAX_BATCH, max_flushes: int = MAX_FLUSHES
    ) -> None:
        self.pool = pool
        self.single = single
        self.max_batch = max_batch
        self.max_flushes = max_flushes
        self._waiting: list[_Waiting] = []
        self._flushing = 0
        self._flushers: set[asyncio.Task[None]] = set()
        """The running flush tasks, held so none is garbage-collected mid-write."""
        self.batches = 0
        """Statements written (for tests and the benchmark: events / batches is the batch size)."""

    async def submit(self, event: inbox.NewEvent) -> inbox.Accepted:
        """Write one event with whoever else is waiting; what it answered, once committed."""
        future: asyncio.Future[inbox.Accepted] = asyncio.get_running_loop().create_future()
        # Its caller may be gone (shielded below): mark a failure as seen so it is not logged.
        future.add_done_callback(_observe)
        self._waiting.append(_Waiting(event, future))
        if self._flushing < self.max_flushes:
            self._flushing += 1
            flusher = asyncio.get_running_loop().create_task(self._flush_all())
            self._flushers.add(flusher)
            flusher.add_done_callback(self._flushers.discard)
        # A caller that goes away (client disconnect) must not cancel its neighbours' write.
        return await asyncio.shield(future)

    async def _flush_all(self) -> None:
        try:
            while self._waiting:
                batch = self._take()
                try:
                    await self._write(batch)
                except BaseException as exc:  # every waiter gets the outcome
                    for waiting in batch:
                        if not waiting.future.done():
                            waiting.future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
        finally:
            self._flushing -= 1

    def _take(self) -> list[_Waiting]:
        """Up to ``max_batch`` waiting events with distinct keys; a repeat of a key already in
        this batch waits for the next one (it then answers ``duplicate``, as it would alone)."""
        batch: list[_Waiting] = []
        keys: set[str] = set()
        later: list[_Waiting] = []
        for waiting in self._waiting:
            if len(batch) < self.max_batch and waiting.key not in keys:
                keys.add(waiting.key)
                batch.append(waiting)
            else:
                later.append(waiting)
        self._waiting = later
        return batch

    async def _write(self, batch: list[_Waiting]) -> None:
        if len(batch) == 1:
            await self._one(batch[0])
            return
        try:
            answered = await inbox.accept_events(self.pool, [waiting.event for waiting in batch])
        except DataError:
            # One event carries a value PostgreSQL refuses: write each alone so only it fails.
            for waiting in batch:
                await self._one(waiting)
            return
        self.batches += 1
        for position, waiting in enumerate(batch, start=1):
            result = answered.get(position)
            if result is not None:
                waiting.future.set_result(result)
            else:
                # A concurrent repeat committed after this statement's snapshot: read it alone.
                await self._one(waiting)

    async def _one(self, waiting: _Waiting) -> None:
        try:
            result = await self.single(waiting.event)
        except Exception as exc:  # handed to the waiting caller
            waiting.future.set_exception(exc)
        else:
            waiting.future.set_result(result)


def _observe(future: asyncio.Future[inbox.Accepted]) -> None:
    if not future.cancelled():
        future.exception()
