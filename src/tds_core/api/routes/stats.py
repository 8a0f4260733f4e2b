"""Admin API: stats over a window, the history of a per-minute series, and the series' names.

Read-only, for every role (viewer and up). The numbers and their definitions are in
:mod:`tds_core.observability.stats`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from tds_core.api.auth import Viewer
from tds_core.api.context import Ctx
from tds_core.api.inputs import Instant
from tds_core.api.schemas import EntitySlug, ErrorBody
from tds_core.observability import stats
from tds_core.observability.series import SERIES
from tds_core.observability.stats import History, SeriesInfo, WindowStats

router = APIRouter(prefix="/api/v1", tags=["stats"])
Invalid: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "Invalid parameters; reasons name them"}
}


@router.get(
    "/stats",
    response_model=WindowStats,
    responses=Invalid,
    summary="Per-entity and total numbers over the last 5 minutes, hour or day, and the current state",
    description=(
        "Per entity and in total: received, rejected, applied, skipped, retried, failed (dead-lettered), "
        "success rate, throughput per second, end-to-end latency p50/p95/p99 (estimated from histogram "
        "buckets). Plus the queue by state and its lag, open dead letters, workers by breaker state, and "
        "the Zoho quota used and left today."
    ),
)
async def window_stats(
    principal: Viewer,
    ctx: Ctx,
    window: Annotated[Literal["5m", "1h", "24h"], Query(description="The window, ending now")] = "5m",
) -> WindowStats:
    return await stats.window_stats(ctx.pool, window, daily_quotas=ctx.daily_quotas)


@router.get(
    "/stats/history",
    response_model=History,
    responses=Invalid,
    summary="One per-minute series over a time range, for a chart",
    description=(
        "`name` is one of `GET /api/v1/stats/names`. `from` defaults to an hour before `to`, `to` to now "
        "(at most 31 days apart). `step` (seconds, a multiple of 60) defaults to about 720 points; counts "
        "add up over a step (zero where nothing happened), gauges and percentiles take the step's "
        "largest minute (null where no minute was written). `entity` narrows per-entity series."
    ),
)
async def history(
    principal: Viewer,
    ctx: Ctx,
    name: Annotated[
        str,
        Query(max_length=100, description="The series", json_schema_extra={"enum": list(SERIES)}),
    ],
    since: Annotated[
        Instant | None, Query(alias="from", description="Start (ISO 8601; UTC if no zone)")
    ] = None,
    until: Annotated[Instant | None, Query(alias="to", description="End (ISO 8601; UTC if no zone)")] = None,
    entity: Annotated[EntitySlug | None, Query(description="One entity (per-entity series only)")] = None,
    step: Annotated[
        int | None, Query(ge=60, le=86_400, multiple_of=60, description="Seconds per point")
    ] = None,
) -> History:
    return await stats.history(ctx.pool, name, since=since, until=until, entity=entity, step_seconds=step)


@router.get("/stats/names", response_model=list[SeriesInfo], summary="The series the history can chart")
async def names(principal: Viewer) -> list[SeriesInfo]:
    return stats.series_info()
