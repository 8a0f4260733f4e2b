"""Admin API: manual pulls and reconciliations (queued as jobs), sync runs and cursors.

``POST /api/v1/sync/{entity}`` and ``POST /api/v1/reconcile`` answer 202 with the job; a
scheduler process runs it (``GET /api/v1/jobs/{id}`` follows it). Runs and cursors are what
every pull and reconciliation left behind, scheduled or manual.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field, StrictBool
from starlette.convertors import Convertor, register_url_convertor

from tds_core.api.auth import Operator, Viewer
from tds_core.api.context import ApiContext, Ctx, Db
from tds_core.api.inputs import RequestBody
from tds_core.api.schemas import MAX_ID, JobOut, job_out
from tds_core.db import cursors, sync_runs
from tds_core.db.connection import connected
from tds_core.jobs import runner as jobs
from tds_core.operations.sync_plan import SyncPlan, plan_from_database
from tds_core.source.pull import source_entities

router = APIRouter(prefix="/api/v1", tags=["sync"])
RunKind = Literal["incremental", "full", "reconcile", "manual"]
RunStatus = Literal["running", "succeeded", "failed", "cancelled", "paused"]


class ReconcileRequest(RequestBody):
    entity: str = Field(default="all", max_length=40, description="An entity, or 'all'")
    heal: StrictBool = Field(default=True, description="Queue fetches/tombstones for the drift found")


class SyncRun(BaseModel):
    id: int
    entity: str
    kind: str
    status: str
    triggered_by: str
    started_at: datetime
    finished_at: datetime | None = None
    fetched: int
    queued: int
    unchanged: int
    failed: int
    api_calls: int
    drift: int | None = None
    cursor_from: str | None = None
    cursor_to: str | None = None
    error: str | None = None
    seconds: float


class SyncRunDetail(SyncRun):
    details: dict[str, Any] = Field(
        description="A reconciliation's drifted ids by kind; a pull's pause (reason, resets_at) "
        "or a sort the answer did not apply"
    )


class Cursor(BaseModel):
    entity: str
    strategy: str
    watermark: datetime | None = None
    last_run_id: int | None = None
    last_full_scan_at: datetime | None = None
    updated_at: datetime


def _entities(ctx: ApiContext, entity: str) -> list[str]:
    settings = ctx.settings
    available = source_entities(use_inventory=settings.zoho_use_inventory or settings.uses_simulator)
    if entity != "all" and entity not in available:
        raise HTTPException(
            404, f"unknown or unavailable entity {entity!r}: one of all, {', '.join(available)}"
        )
    return available


class SyncTarget(Convertor[str]):
    """``{entity:sync_target}``: any path segment except the names of the sibling resources, so
    ``POST /api/v1/sync/runs`` is a 405 of ``/sync/runs`` (Allow: GET), not a sync of an entity
    called "runs". An unknown entity still reaches the route and gets its 404 naming the
    entities there are."""

    regex = "(?!(?:runs|cursors|plan)(?:/|$))[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("sync_target", SyncTarget())


@router.post(
    "/sync/{entity:sync_target}",
    response_model=JobOut,
    status_code=202,
    summary="Pull an entity (or all) from Zoho now; full=true for a full resync",
    responses={404: {"description": "Unknown or unavailable entity"}},
)
async def trigger_sync(
    principal: Operator,
    ctx: Ctx,
    entity: Annotated[str, Path(max_length=40)],
    full: Annotated[bool, Query(description="Ignore the watermark: a full resync")] = False,
) -> JobOut:
    available = _entities(ctx, entity)
    total = len(available) if entity == "all" else 1
    async with connected(ctx.pool) as connection:  # only once the entity is known (404 first)
        job = await jobs.create(
            connection, "sync", {"entity": entity, "full": full}, principal.actor, total=total
        )
    return job_out(job)


@router.post(
    "/reconcile",
    response_model=JobOut,
    status_code=202,
    summary="Compare every ERP record with Zoho now (and heal the drift unless heal=false)",
    responses={404: {"description": "Unknown or unavailable entity"}},
)
async def trigger_reconcile(body: ReconcileRequest, principal: Operator, ctx: Ctx) -> JobOut:
    available = _entities(ctx, body.entity)
    total = len(available) if body.entity == "all" else 1
    params = {"entity": body.entity, "heal": body.heal}
    async with connected(ctx.pool) as connection:  # only once the entity is known (404 first)
        job = await jobs.create(connection, "reconcile", params, principal.actor, total=total)
    return job_out(job)


@router.get(
    "/sync/plan",
    response_model=SyncPlan,
    summary="What a full sync would cost: API calls per entity and days at the quota (nothing runs)",
    responses={404: {"description": "Unknown or unavailable entity"}},
)
async def get_sync_plan(
    principal: Viewer,
    ctx: Ctx,
    entity: Annotated[str, Query(max_length=40, description="An entity or all")] = "all",
) -> SyncPlan:
    available = _entities(ctx, entity)
    quota = next(iter(ctx.daily_quotas.values()), ctx.settings.zoho_daily_quota)
    async with connected(ctx.pool) as connection:  # only once the entity is known (404 first)
        return await plan_from_database(
            connection,
            available if entity == "all" else [entity],
            daily_quota=quota,
            use_inventory=ctx.settings.zoho_use_inventory or ctx.settings.uses_simulator,
        )


@router.get("/sync/runs", response_model=list[SyncRun], summary="Pull and reconciliation runs, newest first")
async def list_runs(
    principal: Viewer,
    db: Db,
    entity: Annotated[str | None, Query(max_length=40)] = None,
    kind: Annotated[RunKind | None, Query()] = None,
    status: Annotated[RunStatus | None, Query()] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Page: ids below this")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[sync_runs.Run]:
    return await sync_runs.page(db, entity=entity, kind=kind, status=status, before_id=before_id, limit=limit)


@router.get(
    "/sync/runs/{run_id}",
    response_model=SyncRunDetail,
    summary="One run, with a reconciliation's drifted ids",
    responses={404: {"description": "No such run"}},
)
async def get_run(
    principal: Viewer, db: Db, run_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> sync_runs.RunDetail:
    row = await sync_runs.get(db, run_id=run_id)
    if row is None:
        raise HTTPException(404, f"no sync run {run_id}")
    return row


@router.get(
    "/sync/cursors", response_model=list[Cursor], summary="Where each entity's incremental pull stands"
)
async def list_cursors(principal: Viewer, db: Db) -> list[cursors.CursorListed]:
    return await cursors.list_all(db)
