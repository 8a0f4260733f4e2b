"""The worker process: claim → apply → finish, with retries, a DLQ, a breaker and leases.

One process runs ``concurrency`` batch loops over one asyncpg pool, plus three small
services: a LISTEN doorbell (with a poll fallback), a lease rescuer, and a heartbeat that
publishes the circuit-breaker state to ``tds_workers``. SIGTERM stops claiming, lets in-flight
batches finish, hands back any lease still held, and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from tds_core.config.encryption import Keyring
from tds_core.config.runtime import RuntimeConfig, load
from tds_core.db import sync_logs, workers
from tds_core.db.connection import Connection, Pool, connected, transaction
from tds_core.db.errors import translate
from tds_core.db.pool import connect
from tds_core.domain.circuit_breaker import CircuitBreaker
from tds_core.domain.states import CircuitState
from tds_core.errors import DatabaseUnavailable, PermanentError, RetryableError, TDSError
from tds_core.processor.apply import BatchApplier, BatchResult
from tds_core.queue import leases, rescue
from tds_core.queue.leases import ClaimedEvent

log = structlog.get_logger("tds.worker")

QUEUE_CHANNEL = "tds_queue"
CONFIG_CHANNEL = "tds_config"


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class WorkerStats:
    processed: int = 0
    failed: int = 0
    batches: int = 0


class Worker:
    def __init__(
        self,
        pool: Pool,
        database_url: str,
        *,
        concurrency: int = 2,
        worker_id: str | None = None,
        config_refresh_seconds: float = 5.0,
        keyring: Keyring | None = None,
    ) -> None:
        self.pool = pool
        self.database_url = database_url
        self.keyring = keyring  # TDS_SECRET_KEY: the configuration it loads holds encrypted secrets
        self.concurrency = concurrency
        self.worker_id = worker_id or new_worker_id()
        self.config = RuntimeConfig()
        self.breaker = CircuitBreaker(self.config.breaker)
        self._outage_since: datetime | None = None  # set while the breaker is away from closed
        self._releases: set[asyncio.Task[None]] = set()
        self.applier = BatchApplier(self.worker_id)
        self.stats = WorkerStats()
        self.config_refresh_seconds = config_refresh_seconds
        self._stopping = asyncio.Event()
        self._doorbell = asyncio.Event()
        self._config_changed = asyncio.Event()
        self._alive = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle
    def stop(self) -> None:
        """Stop claiming; in-flight batches finish (SIGTERM handler)."""
        self._stopping.set()
        self._doorbell.set()

    async def run(self) -> None:
        await self._startup()
        services = [
            asyncio.create_task(self._listen(), name="listen"),
            asyncio.create_task(self._rescue_loop(), name="rescue"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self._config_loop(), name="config"),
        ]
        # Claim only once the liveness lock is held, so the rescuer never mistakes us for dead.
        while not self._alive.is_set() and not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._alive.wait(), 1.0)
        loops = [asyncio.create_task(self._batch_loop(n), name=f"batch-{n}") for n in range(self.concurrency)]
        log.info("worker started", worker_id=self.worker_id, concurrency=self.concurrency)
        try:
            await asyncio.gather(*loops)
        finally:
            for task in services:
                task.cancel()
            for task in services:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._shutdown()
        log.info("worker stopped", worker_id=self.worker_id, processed=self.stats.processed)

    async def _startup(self) -> None:
        while True:
            try:
                async with connected(self.pool) as connection:
                    await workers.register(
                        connection, worker_id=self.worker_id, hostname=socket.gethostname(), pid=os.getpid()
                    )
                    await self._reload_config(connection)
                return
            except Exception as exc:
                if self._stopping.is_set():
                    raise
                log.warning("worker cannot register yet; retrying", error=str(translate(exc)))
                await asyncio.sleep(1.0)

    async def _shutdown(self) -> None:
        with contextlib.suppress(Exception):
            async with connected(self.pool) as connection:
                released = await leases.release_worker(connection, worker=self.worker_id)
                await workers.stopped(connection, worker_id=self.worker_id)
                if released:
                    log.info("released leases", count=released)

    async def _reload_config(self, connection: Connection) -> None:
        config = await load(connection, self.keyring)
        if config != self.config:
            if config.breaker != self.config.breaker:
                self.breaker.config = config.breaker
            self.config = config
            self.applier.policies = {e: config.conflict_policy(e) for e in config.conflicts__policies}
            log.info("configuration loaded", batch_size=config.worker__batch_size)

    # ------------------------------------------------------------------ claiming
    async def _batch_loop(self, number: int) -> None:
        while not self._stopping.is_set():
            if not self.breaker.allow():
                await self._wait(self.config.worker__poll_interval_seconds)
                continue
            size = 1 if self.breaker.probing else self.config.worker__batch_size
            try:
                events = await self._claim(size)
            except TDSError as exc:
                await self._record(False)
                log.warning("claim failed", error=str(exc), error_class=exc.error_class)
                await self._wait(self.config.worker__poll_interval_seconds)
                continue
            if not events:
                if self.breaker.probing:
                    await self._record(True)
                await self._wait(self.config.worker__poll_interval_seconds)
                continue
            processed = self.stats.processed
            ok = await self.process(events)
            if ok is None:  # the database, not the target, is unavailable: no breaker failure
                await self._wait(self.config.worker__poll_interval_seconds)
                continue
            await self._record(ok, applied=self.stats.processed > processed)

    async def _record(self, ok: bool, *, applied: bool = False) -> None:
        """Feed the breaker. When it opens, the outage began at most a window ago. Once the
        breaker is closed and a batch has really been applied (an empty probe proves nothing),
        the events that failed for a retryable reason since then are retried now instead of
        after the rest of their backoff (which may be minutes), so the queue heals as soon as
        the ERP does."""
        before = self.breaker.state
        self.breaker.record(ok)
        after = self.breaker.state
        if before is CircuitState.CLOSED and after is CircuitState.OPEN:
            self._outage_since = datetime.now(UTC) - timedelta(seconds=self.breaker.config.window_seconds)
        elif after is CircuitState.CLOSED and applied and self._outage_since is not None:
            since, self._outage_since = self._outage_since, None
            try:
                async with connected(self.pool) as connection:
                    retried = await leases.retry_now_after_outage(connection, since=since)
            except Exception as exc:
                log.warning("could not release the outage's backoffs", error=str(translate(exc)))
                return
            if retried:
                log.info("ERP recovered: retrying the outage's failures now", count=retried)

    async def _wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._doorbell.wait(), timeout)
        self._doorbell.clear()

    async def _claim(self, size: int) -> list[ClaimedEvent]:
        try:
            async with connected(self.pool) as connection:
                events = await leases.claim_batch(
                    connection,
                    worker=self.worker_id,
                    size=size,
                    lease_seconds=self.config.worker__lease_seconds,
                )
        except Exception as exc:
            raise translate(exc) from exc
        if len(events) == size:
            self._doorbell.set()  # more may be waiting: let a sibling loop claim right away
        return events

    # ------------------------------------------------------------------ applying
    async def process(self, events: list[ClaimedEvent]) -> bool | None:
        """Apply one claimed batch. Returns False when the failure was infrastructure-wide (a
        breaker failure), None when the database itself was unavailable (the batch is released
        and the connections reopened: not the ERP's fault, so not a breaker failure)."""
        started = time.perf_counter()
        renew = asyncio.create_task(self._renew_leases([e.id for e in events]))
        try:
            try:
                async with connected(self.pool) as connection, transaction(connection):
                    result = await self.applier.apply(connection, events)
                self._count(result)
                return True
            except Exception as exc:
                error = translate(exc)
                if isinstance(error, DatabaseUnavailable):
                    log.warning("batch aborted: database unavailable", error=str(error), size=len(events))
                    self._release_soon([e.id for e in events])
                    return None
                log.info("batch failed; isolating events", error=str(error), size=len(events))
            return await self._process_one_by_one(events)
        except Exception as exc:
            log.warning("batch aborted", error=str(translate(exc)), size=len(events))
            return False
        finally:
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renew
            self.stats.batches += 1
            log.debug(
                "batch done",
                size=len(events),
                ms=round((time.perf_counter() - started) * 1000, 1),
                correlation_ids=[event.correlation_id for event in events],
            )

    def _release_soon(self, ids: list[int]) -> None:
        """Hand back a batch whose connection broke, as soon as the database answers again
        (it rolled back, so nothing of it was applied); until then, or should this worker die
        first, the lease and the rescue cover it."""
        task = asyncio.create_task(self._release(ids))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _release(self, ids: list[int]) -> None:
        deadline = time.monotonic() + self.config.worker__lease_seconds
        while time.monotonic() < deadline and not self._stopping.is_set():
            try:
                async with connected(self.pool) as connection:
                    released = await leases.release(connection, ids=ids, worker=self.worker_id)
            except Exception:
                await asyncio.sleep(0.25)
                continue
            if released:
                log.info("released the leases of an aborted batch", count=released)
                self._doorbell.set()
            return

    async def _process_one_by_one(self, events: list[ClaimedEvent]) -> bool:
        """Fallback after a failed batch: each event in its own savepoint, failures recorded.

        Returns False (a breaker failure) only when every event failed for a retryable reason."""
        retryable_failures = 0
        async with connected(self.pool) as connection, transaction(connection):
            for event in events:
                try:
                    async with transaction(connection):
                        result = await self.applier.apply(connection, [event])
                    self._count(result)
                except Exception as exc:
                    error = translate(exc)
                    if isinstance(error, DatabaseUnavailable):
                        raise error from exc
                    retryable_failures += isinstance(error, RetryableError)
                    await self._record_failure(connection, event, error)
        return retryable_failures < len(events)

    async def _record_failure(self, connection: Connection, event: ClaimedEvent, error: TDSError) -> None:
        entry = {
            "attempt": event.attempts,
            "at": datetime.now(UTC).isoformat(),
            "worker": self.worker_id,
            "error": str(error)[:2000],
            "class": error.error_class,
        }
        permanent = isinstance(error, PermanentError) or not isinstance(error, RetryableError)
        last = event.attempts >= self.config.worker__max_attempts
        if permanent or last:
            moved = await leases.dead_letter(
                connection,
                queue_id=event.id,
                worker=self.worker_id,
                error=str(error)[:2000],
                error_class=error.error_class,
                attempt=entry,
            )
            if not moved:
                self._lease_lost(event, "dead-letter")
                return
            outcome, message = "dead", f"dead-lettered after {event.attempts} attempt(s): {error}"
            log.warning(
                "event dead-lettered",
                queue_id=event.id,
                inbox_event_id=event.inbox_event_id,
                correlation_id=event.correlation_id,
                entity=event.entity,
                zoho_id=event.zoho_id,
                attempts=event.attempts,
                error=str(error),
                error_class=error.error_class,
            )
        else:
            delay = self.config.backoff.delay(event.attempts)
            moved = await leases.retry(
                connection,
                queue_id=event.id,
                worker=self.worker_id,
                delay_seconds=delay,
                error=str(error)[:2000],
                error_class=error.error_class,
                attempt=entry,
            )
            if not moved:
                self._lease_lost(event, "retry")
                return
            outcome, message = "retry", f"retry in {delay:.1f}s: {error}"
            log.info(
                "event will retry",
                queue_id=event.id,
                inbox_event_id=event.inbox_event_id,
                correlation_id=event.correlation_id,
                attempts=event.attempts,
                delay=round(delay, 2),
                error=str(error),
            )
        self.stats.failed += 1
        await sync_logs.insert_batch(
            connection,
            rows=[
                {
                    "queue_id": event.id,
                    "inbox_event_id": event.inbox_event_id,
                    "entity": event.entity,
                    "zoho_id": event.zoho_id,
                    "outcome": outcome,
                    "attempt": event.attempts,
                    "worker_id": self.worker_id,
                    "message": message[:2000],
                }
            ],
        )

    def _lease_lost(self, event: ClaimedEvent, step: str) -> None:
        """The event's lease was lost before its failure was recorded (it expired and was rescued,
        or another worker took it): the other owner decides its fate, so nothing is written, no
        dead letter and no sync log for an attempt that is not this worker's any more."""
        log.warning(
            "lease lost before the failure was recorded; nothing written",
            queue_id=event.id,
            inbox_event_id=event.inbox_event_id,
            entity=event.entity,
            zoho_id=event.zoho_id,
            step=step,
        )

    def _count(self, result: BatchResult) -> None:
        self.stats.processed += len(result.states)
        if result.deferred:
            self._doorbell.set()  # handed back, ready now: a loop claims them once their instance is free
        if result.lease_lost:
            log.warning("lease lost before apply; skipped", queue_ids=result.lease_lost)

    async def _renew_leases(self, ids: list[int]) -> None:
        while True:
            await asyncio.sleep(self.config.worker__lease_seconds / 3)
            with contextlib.suppress(Exception):
                async with connected(self.pool) as connection:
                    await leases.renew(
                        connection,
                        ids=ids,
                        worker=self.worker_id,
                        lease_seconds=self.config.worker__lease_seconds,
                    )

    # ------------------------------------------------------------------ services
    async def _listen(self) -> None:
        """LISTEN on a dedicated connection; reconnect forever. Payloads are ignored."""
        while not self._stopping.is_set():
            connection = None
            try:
                connection = await connect(self.database_url, application_name="tds-worker-listen")
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                await workers.hold_liveness_lock(connection, worker_id=self.worker_id)
                self._alive.set()
                await connection.add_listener(QUEUE_CHANNEL, lambda *_: self._doorbell.set())
                await connection.add_listener(CONFIG_CHANNEL, lambda *_: self._config_changed.set())
                self._doorbell.set()  # anything enqueued while we were not listening
                while not lost.is_set() and not self._stopping.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), 5.0)
                    if not lost.is_set():
                        await connection.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("listener reconnecting", error=str(exc))
            finally:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=1)
            await asyncio.sleep(0.5)

    async def rescue_once(self) -> int:
        """Hand back leases of gone workers (dead-lettering exhausted ones); returns how many."""
        result = await rescue.run_once(self.pool, self.config.worker__max_attempts)
        if result.rescued:
            self._doorbell.set()
        return result.rescued + result.dead_lettered

    async def _rescue_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.worker__rescue_interval_seconds)
            try:
                await self.rescue_once()
            except Exception as exc:
                log.warning("lease rescue failed", error=str(translate(exc)))

    async def _heartbeat_loop(self, every: float = 2.0, tick: float = 0.25) -> None:
        """Liveness and counters every ``every`` seconds; a breaker state change at once."""
        published = CircuitState.CLOSED
        last = 0.0
        while True:
            await asyncio.sleep(tick)
            state = self.breaker.state
            changed = state is not published
            if changed:
                log.warning("circuit breaker state changed", state=state.value, previous=published.value)
                published = state
            elif time.monotonic() - last < every:
                continue
            last = time.monotonic()
            with contextlib.suppress(Exception):
                async with connected(self.pool) as connection:
                    await workers.heartbeat(
                        connection,
                        worker_id=self.worker_id,
                        processed=self.stats.processed,
                        failed=self.stats.failed,
                        circuit_state=state.value,
                    )

    async def _config_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._config_changed.wait(), self.config_refresh_seconds)
            self._config_changed.clear()
            with contextlib.suppress(Exception):
                async with connected(self.pool) as connection:
                    await self._reload_config(connection)
