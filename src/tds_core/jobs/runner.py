"""Background jobs: long operator actions (bulk DLQ replay, inbox replay, manual sync,
reconciliation) run with progress, stop between batches when cancelled, and outlive their runner.

::

    create() ─> queued ──claim (SKIP LOCKED)──> running ──> completed | cancelled | failed
                  │                               │  ▲
    cancel(): ────┘ cancelled at once             │  └─ heartbeat older than stale_after_seconds: the
                                                  │     runner died, another one takes the job over
    cancel(): cancel_requested ───────────────────┘     and resumes from its last checkpoint
              (the handler stops after its current batch; what it did stays committed)

A handler is ``async def handler(ctx: JobContext) -> dict`` (its result). It works in bounded
batches and checks ``await ctx.cancelled()`` between them. A batch whose effect must happen
exactly once runs in ``async with ctx.step() as step:``: its writes on ``step.connection``,
its progress and its checkpoint (``step.progress(...)``) commit together, and only while this
runner still owns the job. A successor that takes the job over reads ``ctx.checkpoint`` and
continues after the last committed batch, so nothing is done twice.

Counters are absolute: ``done`` counts items handled (those skipped included), ``skipped``
the items handled without effect, ``total`` the items selected when the job started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from tds_core.access.actions import Actor, record
from tds_core.db import jobs as jobs_db
from tds_core.db.connection import Connection, Executor, Pool, connected, transaction
from tds_core.db.jobs import Job

__all__ = ["Job", "JobLost"]
from tds_core.domain.states import FINISHED_JOB_STATES, JobKind, JobState
from tds_core.errors import InvalidRequest, NotFound, WrongState

log = structlog.get_logger("tds.jobs")

KINDS = tuple(kind.value for kind in JobKind)
STATUSES = tuple(state.value for state in JobState)
FINISHED = tuple(state.value for state in JobState if state in FINISHED_JOB_STATES)


class JobLost(Exception):
    """Another runner took this job over (this runner's heartbeat was late): stop, write nothing."""


# ---------------------------------------------------------------------------- operator actions
async def create(
    connection: Connection, kind: str, params: dict[str, Any], actor: Actor, *, total: int = 0
) -> Job:
    """Queue a job (recorded as ``job.create``); the runners are woken when this commits."""
    if kind not in KINDS:
        raise InvalidRequest([f"kind: unknown job kind {kind!r}: one of {', '.join(KINDS)}"])
    async with transaction(connection):
        job = await jobs_db.insert(connection, kind=kind, params=params, total=total, created_by=actor.name)
        await record(
            connection,
            actor,
            "job.create",
            target=str(job.id),
            details={"kind": kind, "params": params, "total": total},
        )
    return job


async def get(connection: Executor, job_id: int) -> Job:
    job = await jobs_db.get(connection, job_id=job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


async def list_jobs(
    connection: Executor,
    *,
    status: str | None = None,
    kind: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[Job]:
    """Jobs, newest first; ``before_id`` pages (keyset)."""
    return await jobs_db.page(connection, status=status, kind=kind, before_id=before_id, limit=limit)


async def cancel(connection: Connection, job_id: int, actor: Actor) -> Job:
    """A queued job ends ``cancelled`` at once; a running one stops after its current batch.
    Raises :class:`NotFound`, or :class:`WrongState` when the job has already finished."""
    async with transaction(connection):
        current = await jobs_db.lock_one(connection, job_id=job_id)
        if current is None:
            raise NotFound(f"no job {job_id}")
        if current["status"] in FINISHED:
            raise WrongState(f"job {job_id} is already {current['status']}")
        job = await jobs_db.request_cancel(connection, job_id=job_id)
        assert job is not None  # locked above while queued or running
        await record(connection, actor, "job.cancel", target=str(job_id), details={"was": current["status"]})
    return job


# ---------------------------------------------------------------------------- running jobs
@dataclass(frozen=True)
class Progress:
    """A committed progress report, handed to the runner's ``on_progress`` listener."""

    job_id: int
    kind: str
    done: int
    total: int
    skipped: int


ProgressListener = Callable[[Progress], Awaitable[None]]


class Step:
    """One batch's transaction: write on ``connection``; ``progress`` is written at the end of the
    step, in the same transaction, guarded by the runner."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.staged: tuple[int, int | None, int, dict[str, Any] | None] | None = None

    def progress(
        self, done: int, total: int | None = None, skipped: int = 0, checkpoint: dict[str, Any] | None = None
    ) -> None:
        self.staged = (done, total, skipped, checkpoint)


class JobContext:
    """What a handler gets: the job's parameters, where a predecessor stopped, and the means to
    report progress and learn about cancellation."""

    def __init__(self, pool: Pool, job: Job, runner_id: str, listener: ProgressListener | None) -> None:
        self.job = job
        self.job_id = job.id
        self.kind = job.kind
        self.params = job.params
        self.created_by = job.created_by
        self.checkpoint = job.checkpoint
        """Saved by the last committed step of a previous runner of this job; None on a fresh start."""
        self.done, self.total, self.skipped = job.done, job.total, job.skipped
        self.cancel_seen = False
        self.lost = False
        self._pool = pool
        self._runner_id = runner_id
        self._listener = listener

    async def progress(self, done: int, total: int | None = None, skipped: int = 0) -> None:
        """Report progress (absolute counters) on its own; also a heartbeat. Raises :class:`JobLost`."""
        await self._write(self._pool, done, total, skipped, None)
        await self._committed(done, total, skipped)

    async def cancelled(self) -> bool:
        """True once an operator asked the job to stop (then finish the current batch and return);
        also a heartbeat. Raises :class:`JobLost` when another runner took the job over."""
        if self.lost:
            raise JobLost(f"job {self.job_id} was taken over by another runner")
        cancel_requested = await jobs_db.heartbeat(self._pool, job_id=self.job_id, runner=self._runner_id)
        if cancel_requested is None:
            self.lost = True
            raise JobLost(f"job {self.job_id} was taken over by another runner")
        if cancel_requested:
            self.cancel_seen = True
        return self.cancel_seen

    @contextlib.asynccontextmanager
    async def step(self) -> AsyncIterator[Step]:
        """A transaction for one batch; the batch and its progress commit together or not at all."""
        async with connected(self._pool) as connection:
            step = Step(connection)
            async with transaction(connection):
                yield step
                if step.staged is not None:
                    await self._write(connection, *step.staged)
        if step.staged is not None:
            done, total, skipped, _ = step.staged
            await self._committed(done, total, skipped)

    async def _write(
        self, db: Executor, done: int, total: int | None, skipped: int, checkpoint: dict[str, Any] | None
    ) -> None:
        written = await jobs_db.progress(
            db,
            job_id=self.job_id,
            runner=self._runner_id,
            done=done,
            total=total,
            skipped=skipped,
            checkpoint=checkpoint,
        )
        if written is None:
            self.lost = True
            raise JobLost(f"job {self.job_id} was taken over by another runner")

    async def _committed(self, done: int, total: int | None, skipped: int) -> None:
        self.done, self.skipped = done, skipped
        if total is not None:
            self.total = total
        if self._listener is not None:
            await self._listener(Progress(self.job_id, self.kind, self.done, self.total, self.skipped))


Handler = Callable[[JobContext], Awaitable[dict[str, Any]]]


def new_runner_id(prefix: str = "jobs") -> str:
    return f"{prefix}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class JobRunnerConfig:
    stale_after_seconds: float = 60.0
    """A running job whose heartbeat is older than this has lost its runner and is taken over."""
    heartbeat_seconds: float = 10.0
    """How often a runner beats while a handler works (progress reports beat too)."""
    poll_seconds: float = 2.0
    """How long :meth:`JobRunner.run` waits when no job is queued."""


class JobRunner:
    """Claims one job at a time and runs its handler; ``run_once`` for tests and the scheduler."""

    def __init__(
        self,
        pool: Pool,
        handlers: Mapping[str, Handler],
        *,
        runner_id: str | None = None,
        config: JobRunnerConfig = JobRunnerConfig(),
        on_progress: ProgressListener | None = None,
    ) -> None:
        self.pool = pool
        self.handlers = dict(handlers)
        self.runner_id = runner_id or new_runner_id()
        self.config = config
        self.on_progress = on_progress

    async def run_once(self, job_id: int | None = None, *, now: datetime | None = None) -> bool:
        """Claim one job (``job_id``: only that one) and run it to its end; False when there was none.

        ``now`` pins the clock that decides whether a running job's heartbeat is stale."""
        job = await jobs_db.claim(
            self.pool,
            runner=self.runner_id,
            now=now,
            job_id=job_id,
            stale_after_seconds=self.config.stale_after_seconds,
            kinds=list(self.handlers),
        )
        if job is None:
            return False
        ctx = JobContext(self.pool, job, self.runner_id, self.on_progress)
        log.info("job started", job_id=job.id, kind=job.kind, resumed=job.checkpoint is not None)
        beat = asyncio.create_task(self._heartbeat(ctx), name=f"job-{job.id}-heartbeat")
        try:
            result = await self.handlers[job.kind](ctx)
        except JobLost:
            log.warning("job taken over by another runner; stopping", job_id=job.id)
            return True
        except asyncio.CancelledError:
            # This process is stopping (or lost leadership): hand the job back for another runner.
            with contextlib.suppress(Exception):
                await jobs_db.release(self.pool, job_id=job.id, runner=self.runner_id)
            raise
        except Exception as exc:
            log.warning("job failed", job_id=job.id, kind=job.kind, error=str(exc)[:500])
            await self._finish(job, "failed", {}, f"{type(exc).__name__}: {exc}"[:2000])
            return True
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        status = "cancelled" if ctx.cancel_seen else "completed"
        await self._finish(job, status, result, None)
        log.info("job finished", job_id=job.id, kind=job.kind, status=status, done=ctx.done)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """The thin loop: run jobs until ``stop`` is set, waiting ``poll_seconds`` when idle."""
        while not stop.is_set():
            try:
                ran = await self.run_once()
            except Exception as exc:
                log.warning("job runner iteration failed", error=str(exc)[:300])
                ran = False
            if not ran:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.poll_seconds)

    async def _finish(self, job: Job, status: str, result: dict[str, Any], error: str | None) -> None:
        row = await jobs_db.finish(
            self.pool, job_id=job.id, runner=self.runner_id, status=status, result=result, error=error
        )
        if row is None:
            log.warning(
                "job taken over before it finished here; its result is the successor's", job_id=job.id
            )

    async def _heartbeat(self, ctx: JobContext) -> None:
        """Beat while the handler works between progress reports (a slow batch is not a dead runner)."""
        while True:
            await asyncio.sleep(self.config.heartbeat_seconds)
            try:
                cancel_requested = await jobs_db.heartbeat(
                    self.pool, job_id=ctx.job_id, runner=self.runner_id
                )
            except Exception as exc:
                log.warning("job heartbeat failed", job_id=ctx.job_id, error=str(exc)[:300])
                continue
            if cancel_requested is None:
                ctx.lost = True
                return
