"""``tds_api_usage`` (Zoho API calls per organization and UTC second), ``tds_zoho_quota`` (what
Zoho last said of the quota) and ``tds_zoho_inflight`` (call slots leased), shared by every TDS
process. Time-dependent statements take an optional ``now`` (None = the database's clock)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


class Slot(TypedDict):
    calls: int | None
    """The calls counted in this second with the slot taken; None when the window or day is full."""
    now: datetime
    next_free: datetime
    next_day: datetime
    daily_quota: int
    used_today: int


class Today(TypedDict):
    calls: int
    daily_quota: int
    next_day: datetime


@statement
async def lock(db: Executor, *, organization_id: str) -> None:
    """Serialise slot-taking for the organization until the transaction ends."""
    await db.execute(QUERIES.api_usage_lock, organization_id)


@statement
async def take_slot(
    db: Executor,
    *,
    organization_id: str,
    calls_per_window: int,
    daily_quota: int,
    now: datetime | None,
    window_seconds: int,
) -> Slot:
    """Take one call slot (under :func:`lock`)."""
    row = await db.fetchrow(
        QUERIES.api_usage_take_slot, organization_id, calls_per_window, daily_quota, now, window_seconds
    )
    assert row is not None  # a select from one-row CTEs always returns its row
    return cast(Slot, dict(row))


@statement
async def today(db: Executor, *, organization_id: str, now: datetime | None, daily_quota: int) -> Today:
    """Calls made today, the quota that applies and when the day ends."""
    row = await db.fetchrow(QUERIES.api_usage_today, organization_id, now, daily_quota)
    assert row is not None  # a select from a one-row CTE always returns its row
    return cast(Today, dict(row))


@statement
async def zoho_quota_observe(
    db: Executor,
    *,
    organization_id: str,
    daily_limit: int,
    remaining: int,
    resets_at: datetime,
    observed_at: datetime,
) -> None:
    """Keep what a Zoho answer said of the quota (an older observation never wins)."""
    await db.execute(
        QUERIES.zoho_quota_observe, organization_id, daily_limit, remaining, resets_at, observed_at
    )


@statement
async def zoho_inflight_lock(db: Executor, *, organization_id: str) -> None:
    """Serialise call-slot leasing for the organization until the transaction ends."""
    await db.execute(QUERIES.zoho_inflight_lock, organization_id)


@statement
async def zoho_inflight_take(
    db: Executor, *, organization_id: str, cap: int, holder: str, lease_seconds: int
) -> int | None:
    """Lease the lowest free call slot among ``cap`` (under :func:`zoho_inflight_lock`); None when
    all are held."""
    slot: int | None = await db.fetchval(
        QUERIES.zoho_inflight_take, organization_id, cap, holder, lease_seconds
    )
    return slot


@statement
async def zoho_inflight_release(db: Executor, *, organization_id: str, slot: int, holder: str) -> None:
    await db.execute(QUERIES.zoho_inflight_release, organization_id, slot, holder)


@statement
async def delete_before(db: Executor, *, keep: timedelta, now: datetime | None) -> int:
    """Forget usage rows older than ``keep`` before ``now``; how many went."""
    deleted: int = await db.fetchval(QUERIES.api_usage_delete_before, keep, now)
    return deleted
