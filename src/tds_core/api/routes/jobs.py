"""Admin API: background jobs (bulk DLQ replay, inbox replay, manual sync, reconciliation).

Viewers follow progress; operators cancel (a running job stops after its current batch, with
what it did kept).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from tds_core.api.auth import Operator, Viewer
from tds_core.api.context import Db
from tds_core.api.schemas import MAX_ID, JobOut, job_out
from tds_core.domain.states import JobKind, JobState
from tds_core.jobs import runner as jobs

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
JobId = Annotated[int, Path(ge=1, le=MAX_ID)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such job"}}


@router.get("", response_model=list[JobOut], summary="Background jobs, newest first")
async def list_jobs(
    principal: Viewer,
    db: Db,
    status: Annotated[JobState | None, Query()] = None,
    kind: Annotated[JobKind | None, Query()] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Page: ids below this")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[JobOut]:
    found = await jobs.list_jobs(db, status=status, kind=kind, before_id=before_id, limit=limit)
    return [job_out(job) for job in found]


@router.get("/{job_id}", response_model=JobOut, summary="One job and its progress", responses=NOT_FOUND)
async def show_job(job_id: JobId, principal: Viewer, db: Db) -> JobOut:
    return job_out(await jobs.get(db, job_id))


@router.post(
    "/{job_id}/cancel",
    response_model=JobOut,
    summary="Cancel a job: a queued one at once, a running one after its current batch",
    responses={**NOT_FOUND, 409: {"description": "The job has already finished"}},
)
async def cancel_job(job_id: JobId, principal: Operator, db: Db) -> JobOut:
    return job_out(await jobs.cancel(db, job_id, principal.actor))
