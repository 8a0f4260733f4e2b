"""What the admin API's routes share: the error body, id bounds, the entity slugs and the job
answer. Routes import these from here, never from one another. A refusal an operation raises
(:class:`tds_core.errors.Refusal`) is answered by the app's one handler (404 / 409 / 422)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from tds_core.jobs import runner as jobs

MAX_ID = 2**53 - 1  # ids beyond this cannot be told apart in JSON numbers (the dashboard, JSON Schema)
EntitySlug = Literal["items", "contacts", "invoices", "bills", "creditnotes", "stock", "pricebooks"]


class ErrorBody(BaseModel):
    error: str
    reasons: list[str] = []
    event_id: int | None = None


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


def job_out(job: jobs.Job) -> JobOut:
    progress = min(1.0, job.done / job.total) if job.total > 0 else None
    return JobOut(**job.as_dict(), progress=progress)
