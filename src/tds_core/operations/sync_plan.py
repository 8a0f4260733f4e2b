"""The sync plan: what a full sync of some entities costs in Zoho API calls and how long it takes
(``tds sync --plan``, ``GET /api/v1/sync/plan``, the dashboard's Sync page). Nothing changes.

Zoho's lists carry no total, so each entity's record count comes from, best first:

1. the latest successful full pull or reconciliation (``tds_sync_runs``: both list every record);
2. the ERP's live rows (an undercount while the first pull has not finished);
3. a counting scan, only when asked (``--count``): every list page, ceil(N / 200) calls, no GETs.

The arithmetic is :mod:`tds_core.source.estimate`'s; the detail GETs follow today's pull plans.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from tds_core.db import sync_plan as sync_plan_db
from tds_core.db.connection import Executor
from tds_core.db.erp import LIVE_COUNTS
from tds_core.source import estimate
from tds_core.source.pacing import configured_reserve
from tds_core.source.plans import plan_for
from tds_core.source.zoho.client import ZohoClient

CountSource = Literal["full_scan", "reconcile", "erp", "counting_scan", "unknown"]


class EntityPlan(BaseModel):
    entity: str
    records: int | None = Field(description="Records to sync; null when unknown (count them with --count)")
    source: CountSource = Field(
        description="Where the count comes from: the latest full pull (full_scan) or reconciliation, "
        "the ERP's live rows, a counting scan just made, or unknown"
    )
    counted_at: datetime | None = Field(default=None, description="When that run finished")
    run_id: int | None = Field(default=None, description="The run that counted the records")
    detail: bool = Field(description="The pull GETs each new or changed record (list rows lack its lines)")
    list_calls: int | None = Field(description="ceil(records / per_page) list pages")
    detail_calls: int | None = Field(description="One GET per record where the pull needs details")
    calls: int | None


class PlanDuration(BaseModel):
    plan: str = Field(description="'configured' (TDS_ZOHO_DAILY_QUOTA), then Zoho's Standard and Premium")
    daily_quota: int
    reserve: int = Field(description="Calls a day kept for webhook hints and reconciliation")
    calls_per_day: int = Field(description="What the sync may spend a day: quota less reserve")
    days: float | None = Field(description="Days of quota the sync needs; null when the reserve leaves none")
    calendar_days: int | None = Field(description="Quota days it spans (it resumes each day)")
    minutes: float = Field(description="The least time at Zoho's 100 calls a minute")


class SyncPlan(BaseModel):
    entities: list[EntityPlan]
    list_calls: int
    detail_calls: int
    calls: int = Field(description="Calls of the entities whose count is known")
    complete: bool = Field(description="False when some count is unknown (left out of the totals)")
    per_page: int
    requests_per_minute: int
    durations: list[PlanDuration]
    counting_calls: int = Field(default=0, description="Calls the counting scan (--count) just made")


Counted = dict[str, tuple[int | None, CountSource, datetime | None, int | None]]
"""entity → (records, source, counted_at, run_id)."""


async def counted_records(connection: Executor, entities: list[str]) -> Counted:
    """Each entity's record count from its runs, else from the ERP, else unknown."""
    runs = {r["entity"]: r for r in await sync_plan_db.latest_counts(connection, entities=entities)}
    counted: Counted = {}
    for entity in entities:
        run = runs.get(entity)
        if run is not None:
            source: CountSource = "full_scan" if run["kind"] == "full" else "reconcile"
            counted[entity] = (run["records"], source, run["finished_at"], run["run_id"])
            continue
        held = await connection.fetchval(LIVE_COUNTS[entity])
        counted[entity] = (held, "erp", None, None) if held else (None, "unknown", None, None)
    return counted


async def count_by_listing(
    client: ZohoClient, entities: list[str], *, use_inventory: bool
) -> tuple[Counted, int]:
    """A counting scan: list every page of each entity (no GETs, nothing staged). Returns the
    counts and the API calls it made."""
    before = client.calls_made
    counted: Counted = {}
    for entity in entities:
        plan = plan_for(entity, use_inventory=use_inventory)
        records = 0
        params: dict[str, Any] = dict(plan.params)
        async for page in client.iterate_pages(plan.module, **params):
            records += len(page.records)
        counted[entity] = (records, "counting_scan", None, None)
    return counted, client.calls_made - before


def sync_plan(
    counted: Counted,
    *,
    daily_quota: int,
    reserve_share: float,
    use_inventory: bool,
    per_page: int = estimate.MAX_PER_PAGE,
    counting_calls: int = 0,
) -> SyncPlan:
    """The plan of a full sync of ``counted``'s entities (in its order)."""
    result = estimate.estimate(
        {entity: (records, source) for entity, (records, source, _, _) in counted.items()},
        daily_quota=daily_quota,
        reserve_share=reserve_share,
        detail=estimate.detail_of(use_inventory=use_inventory),
        per_page=per_page,
    )
    entities = [
        EntityPlan(
            entity=cost.entity,
            records=cost.records,
            source=counted[cost.entity][1],
            counted_at=counted[cost.entity][2],
            run_id=counted[cost.entity][3],
            detail=cost.detail,
            list_calls=cost.list_calls,
            detail_calls=cost.detail_calls,
            calls=cost.calls,
        )
        for cost in result.entities
    ]
    return SyncPlan(
        entities=entities,
        list_calls=result.list_calls,
        detail_calls=result.detail_calls,
        calls=result.calls,
        complete=result.complete,
        per_page=result.per_page,
        requests_per_minute=estimate.REQUESTS_PER_MINUTE,
        durations=[
            PlanDuration(
                plan=d.quota.name,
                daily_quota=d.quota.daily,
                reserve=d.reserve,
                calls_per_day=d.per_day,
                days=None if d.days is None else round(d.days, 2),
                calendar_days=d.calendar_days,
                minutes=round(d.minutes, 1),
            )
            for d in result.durations
        ],
        counting_calls=counting_calls,
    )


async def plan_from_database(
    connection: Executor,
    entities: list[str],
    *,
    daily_quota: int,
    use_inventory: bool,
    reserve_share: float | None = None,
) -> SyncPlan:
    """The plan with every count from the runs or the ERP (no Zoho call); the reserve is
    ``sync.quota_reserve`` unless given."""
    share = await configured_reserve(connection) if reserve_share is None else reserve_share
    return sync_plan(
        await counted_records(connection, entities),
        daily_quota=daily_quota,
        reserve_share=share,
        use_inventory=use_inventory,
    )
