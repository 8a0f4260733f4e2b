"""``tds_jobs``: background jobs (bulk replays, manual syncs, reconciliations) with their progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, cast

from tds_core.db.connection import Connection, Executor, dataclass_from, statement
from tds_core.db.queries import QUERIES


@dataclass(frozen=True)
class Job:
    """One job row: what it does, how far it got, who runs it."""

    id: int
    kind: str
    status: str
    params: dict[str, Any]
    total: int
    done: int
    skipped: int
    cancel_requested: bool
    result: dict[str, Any]
    runner: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    error: str | None

    @property
    def checkpoint(self) -> dict[str, Any] | None:
        value = self.result.get("checkpoint")
        return value if isinstance(value, dict) else None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class JobStatus(TypedDict):
    id: int
    status: str


@statement
async def insert(db: Executor, *, kind: str, params: dict[str, Any], total: int, created_by: str) -> Job:
    """Queue a job; the runners are woken when this commits."""
    row = await db.fetchrow(QUERIES.jobs_insert, kind, params, total, created_by)
    assert row is not None  # INSERT ... RETURNING always returns its row
    return dataclass_from(Job, row)


@statement
async def get(db: Executor, *, job_id: int) -> Job | None:
    row = await db.fetchrow(QUERIES.jobs_get, job_id)
    return None if row is None else dataclass_from(Job, row)


@statement
async def lock_one(db: Connection, *, job_id: int) -> JobStatus | None:
    """The job's state, locked for the rest of the transaction."""
    row = await db.fetchrow(QUERIES.jobs_lock_one, job_id)
    return None if row is None else cast(JobStatus, dict(row))


@statement
async def page(
    db: Executor, *, status: str | None, kind: str | None, before_id: int | None, limit: int
) -> list[Job]:
    """Jobs newest first, each filter optional, keyset-paged by id."""
    rows = await db.fetch(QUERIES.jobs_page, status, kind, before_id, limit)
    return [dataclass_from(Job, row) for row in rows]


@statement
async def request_cancel(db: Executor, *, job_id: int) -> Job | None:
    """A queued job ends cancelled; a running one is asked to stop. None when it is neither."""
    row = await db.fetchrow(QUERIES.jobs_request_cancel, job_id)
    return None if row is None else dataclass_from(Job, row)


@statement
async def claim(
    db: Executor,
    *,
    runner: str,
    now: datetime | None,
    job_id: int | None,
    stale_after_seconds: float,
    kinds: list[str],
) -> Job | None:
    """Take the oldest queued job of ``kinds`` (or one whose runner stopped beating
    ``stale_after_seconds`` before ``now``); ``job_id`` only that one. None when there is none."""
    row = await db.fetchrow(QUERIES.jobs_claim, runner, now, job_id, stale_after_seconds, kinds)
    return None if row is None else dataclass_from(Job, row)


@statement
async def heartbeat(db: Executor, *, job_id: int, runner: str) -> bool | None:
    """Whether an operator asked the job to stop; None when ``runner`` no longer runs it."""
    row = await db.fetchrow(QUERIES.jobs_heartbeat, job_id, runner)
    return None if row is None else bool(row["cancel_requested"])


@statement
async def progress(
    db: Executor,
    *,
    job_id: int,
    runner: str,
    done: int,
    total: int | None,
    skipped: int,
    checkpoint: dict[str, Any] | None,
) -> bool | None:
    """Write progress (and the checkpoint, when given): whether an operator asked the job to
    stop; None when ``runner`` no longer runs it (nothing written)."""
    row = await db.fetchrow(QUERIES.jobs_progress, job_id, runner, done, total, skipped, checkpoint)
    return None if row is None else bool(row["cancel_requested"])


@statement
async def finish(
    db: Executor, *, job_id: int, runner: str, status: str, result: dict[str, Any], error: str | None
) -> Job | None:
    """End the run; None when ``runner`` no longer runs it (nothing written)."""
    row = await db.fetchrow(QUERIES.jobs_finish, job_id, runner, status, result, error)
    return None if row is None else dataclass_from(Job, row)


@statement
async def release(db: Executor, *, job_id: int, runner: str) -> None:
    """Hand the job back (queued again, checkpoint kept)."""
    await db.execute(QUERIES.jobs_release, job_id, runner)


@statement
async def initial_sync_open(db: Executor) -> int | None:
    """The initial sync job that is queued or running, if any."""
    found = await db.fetchval(QUERIES.jobs_initial_sync_open)
    return None if found is None else int(found)
