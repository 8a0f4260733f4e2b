"""Admin API: background jobs (bulk DLQ replay, inbox replay, manual sync, reconciliation).

Viewers follow progress; operators cancel (a running job stops after its current batch, with
what it did kept).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field

from tds_core import errors
from tds_core.api.auth import Operator, Viewer
from tds_core.api.context import ApiContext, context
from tds_core.db.errors import translated
from tds_core.domain.states import JobKind, JobState
from tds_core.operations import jobs

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
Ctx = Annotated[ApiContext, Depends(context)]
MAX_ID = 2**53 - 1  # ids beyond this cannot be told apart in JSON numbers (the dashboard, JSON Schema)
JobId = Annotated[int, Path(ge=1, le=MAX_ID)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such job"}}


class JobOut(BaseModel):
    id: int
    kind: str
    status: str
    params: dict[str, Any] = Field(description="What the job works on (its filter)")
    total: int = Field(description="Items selected when the job started")
    done: int = Field(description="Items handled so far (skipped ones included)")
    skipped: int = Field(description="Items handled without effect")
    progress: float | None = Field(description="done / total, 0..1 (null while the total is unknown)")
    cancel_requested: bool
    result: dict[str, Any] = Field(description="The outcome (and, while running, the checkpoint)")
    runner: str | None = None
    created_by: str
    created_at: datetime
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None


@contextlib.contextmanager
def answered() -> Iterator[None]:
    """An operation's refusal as the HTTP answer: 404 not found, 409 wrong state, 422 invalid."""
    try:
        yield
    except errors.NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except errors.WrongState as exc:
        raise HTTPException(409, str(exc)) from exc
    except errors.InvalidRequest as exc:
        raise HTTPException(422, "; ".join(exc.reasons)) from exc


def job_out(job: jobs.Job) -> JobOut:
    progress = min(1.0, job.done / job.total) if job.total > 0 else None
    return JobOut(**job.as_dict(), progress=progress)


@router.get("", response_model=list[JobOut], summary="Background jobs, newest first")
async def list_jobs(
    principal: Viewer,
    ctx: Ctx,
    status: Annotated[JobState | None, Query()] = None,
    kind: Annotated[JobKind | None, Query()] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Page: ids below this")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[JobOut]:
    with translated():
        async with ctx.pool.acquire() as connection:
            found = await jobs.list_jobs(
                connection, status=status, kind=kind, before_id=before_id, limit=limit
            )
    return [job_out(job) for job in found]


@router.get("/{job_id}", response_model=JobOut, summary="One job and its progress", responses=NOT_FOUND)
async def show_job(job_id: JobId, principal: Viewer, ctx: Ctx) -> JobOut:
    with answered(), translated():
        async with ctx.pool.acquire() as connection:
            return job_out(await jobs.get(connection, job_id))


@router.post(
    "/{job_id}/cancel",
    response_model=JobOut,
    summary="Cancel a job: a queued one at once, a running one after its current batch",
    responses={**NOT_FOUND, 409: {"description": "The job has already finished"}},
)
async def cancel_job(job_id: JobId, principal: Operator, ctx: Ctx) -> JobOut:
    with answered(), translated():
        async with ctx.pool.acquire() as connection:
            return job_out(await jobs.cancel(connection, job_id, principal.actor))
