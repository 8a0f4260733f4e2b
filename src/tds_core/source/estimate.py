"""What a sync costs in Zoho API calls, and how long it takes at a plan's quota. Pure: no I/O.

A full sync of one entity lists every record, ``per_page`` (200) to a call, and, where its pull
plan needs the full record (:func:`tds_core.source.pull.plan_for` ``detail``: list rows lack line
items), makes one GET per new or changed record: a first backfill GETs them all. So::

    calls = ceil(records / per_page) + (records if plan.detail else 0)

Zoho allows a daily quota per organization (Free 1,000, Standard 2,000, Professional 5,000,
Premium 10,000 calls) and 100 calls a minute. A backfill may spend the quota less a reserve
kept for webhook hints and reconciliation (``sync.quota_reserve``, a share of each plan's
quota, as the pull's pacing keeps it), so it needs ``calls / (quota - reserve)`` days, and at
least ``calls / 100`` minutes. Zoho's lists carry no total: the record counts come from elsewhere
(:mod:`tds_core.operations.sync_plan` says from where).

:func:`steady_daily_calls` gives the other half of the budget: what the schedule (a pull every 15
minutes, a nightly reconciliation) spends a day once the backfill is done.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter

from tds_core.source.plans import PullPlan, plan_for
from tds_core.source.zoho.config import MAX_PER_PAGE

__all__ = ["MAX_PER_PAGE", "REQUESTS_PER_MINUTE", "estimate", "steady_daily_calls"]

REQUESTS_PER_MINUTE = 100
"""Zoho's per-minute limit per organization (reference section 4)."""
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class Quota:
    name: str
    daily: int


FREE = Quota("Free", 1_000)
STANDARD = Quota("Standard", 2_000)
PROFESSIONAL = Quota("Professional", 5_000)
PREMIUM = Quota("Premium", 10_000)
PLAN_QUOTAS = (STANDARD, PREMIUM)
"""The plans every estimate is also shown at, whatever the configured quota."""

DEFAULT_RESERVE_SHARE = 0.2
"""The share of the daily quota a backfill leaves for webhook hints and reconciliation (the
default of ``sync.quota_reserve``)."""


def reserve_of(daily_quota: int, share: float) -> int:
    """Calls a day kept back: the pull's pacing rounds the same way (``source/pacing.py``)."""
    return math.ceil(share * daily_quota)


class Source:
    """Where a record count comes from, best first."""

    FULL_SCAN = "full_scan"
    """The records the latest successful full pull listed (``tds_sync_runs.fetched``)."""
    RECONCILE = "reconcile"
    """The records the latest successful reconciliation listed (its scan is complete)."""
    ERP = "erp"
    """The live rows the ERP holds (an undercount before the first full pull finishes)."""
    COUNTING_SCAN = "counting_scan"
    """Counted just now by listing every page (``--count``: ceil(N / 200) calls)."""
    UNKNOWN = "unknown"
    """No figure: never pulled, the ERP holds none; ``tds sync --plan --count`` counts them."""


@dataclass(frozen=True)
class EntityCost:
    """One entity's full sync: its records (and where that figure came from) and its calls."""

    entity: str
    records: int | None
    source: str
    detail: bool
    list_calls: int | None
    detail_calls: int | None

    @property
    def calls(self) -> int | None:
        if self.list_calls is None or self.detail_calls is None:
            return None
        return self.list_calls + self.detail_calls


@dataclass(frozen=True)
class Duration:
    """How long ``calls`` take at one daily quota, keeping ``reserve`` calls a day aside."""

    quota: Quota
    reserve: int
    calls: int
    requests_per_minute: int = REQUESTS_PER_MINUTE

    @property
    def per_day(self) -> int:
        """Calls a day the sync may spend: the quota less the reserve, at most what the
        per-minute limit lets through in a day."""
        return max(0, min(self.quota.daily - self.reserve, self.requests_per_minute * MINUTES_PER_DAY))

    @property
    def days(self) -> float | None:
        """Days of quota the calls need (fractional); None when the reserve leaves nothing."""
        if self.calls == 0:
            return 0.0
        if self.per_day == 0:
            return None
        return self.calls / self.per_day

    @property
    def calendar_days(self) -> int | None:
        """Quota days the sync spans: it stops when the day's share is spent, and resumes the
        next day (1 when it fits in one day's share)."""
        days = self.days
        return None if days is None else math.ceil(days)

    @property
    def minutes(self) -> float:
        """The least time the calls take at the per-minute limit (a sync within one day's share)."""
        return self.calls / self.requests_per_minute


@dataclass(frozen=True)
class SyncEstimate:
    entities: tuple[EntityCost, ...]
    durations: tuple[Duration, ...]
    """At the configured quota first, then at each of :data:`PLAN_QUOTAS`."""
    per_page: int = MAX_PER_PAGE

    @property
    def list_calls(self) -> int:
        return sum(e.list_calls or 0 for e in self.entities)

    @property
    def detail_calls(self) -> int:
        return sum(e.detail_calls or 0 for e in self.entities)

    @property
    def calls(self) -> int:
        """Calls of every entity whose count is known (see :attr:`complete`)."""
        return self.list_calls + self.detail_calls

    @property
    def complete(self) -> bool:
        """False when some entity's count is unknown (its calls are not in the totals)."""
        return all(e.records is not None for e in self.entities)


Detail = Callable[[str], bool]
"""Whether an entity's pull GETs each new or changed record (default: its :func:`plan_for`)."""


def detail_of(*, use_inventory: bool = False) -> Detail:
    """Today's pull plans: ``plan_for(entity).detail``."""
    return lambda entity: plan_for(entity, use_inventory=use_inventory).detail


def pages(records: int, per_page: int = MAX_PER_PAGE) -> int:
    """List calls to read ``records``: an empty list still costs one call."""
    if records < 0:
        raise ValueError("records must be zero or more")
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    return max(1, math.ceil(records / per_page))


def entity_cost(
    entity: str, records: int | None, source: str, *, detail: bool, per_page: int = MAX_PER_PAGE
) -> EntityCost:
    """The calls of one entity's full sync (None where the count is unknown)."""
    if records is None:
        return EntityCost(entity, None, source, detail, None, None)
    return EntityCost(entity, records, source, detail, pages(records, per_page), records if detail else 0)


def durations(
    calls: int,
    *,
    daily_quota: int,
    reserve_share: float = DEFAULT_RESERVE_SHARE,
    plans: Sequence[Quota] = PLAN_QUOTAS,
    requests_per_minute: int = REQUESTS_PER_MINUTE,
) -> tuple[Duration, ...]:
    """How long ``calls`` take at the configured quota, then at each plan's (each keeping its
    own share in reserve)."""
    if daily_quota < 1 or not 0 <= reserve_share < 1 or requests_per_minute < 1:
        raise ValueError("daily_quota and requests_per_minute must be at least 1, reserve_share in [0, 1)")
    quotas = (Quota("configured", daily_quota), *plans)
    return tuple(Duration(q, reserve_of(q.daily, reserve_share), calls, requests_per_minute) for q in quotas)


def estimate(
    counts: Mapping[str, tuple[int | None, str]],
    *,
    daily_quota: int,
    reserve_share: float = DEFAULT_RESERVE_SHARE,
    detail: Detail | None = None,
    plans: Sequence[Quota] = PLAN_QUOTAS,
    per_page: int = MAX_PER_PAGE,
    requests_per_minute: int = REQUESTS_PER_MINUTE,
) -> SyncEstimate:
    """A full sync of ``counts`` (entity → (records or None, :class:`Source`)), in its order."""
    needs_detail = detail or detail_of()
    costs = tuple(
        entity_cost(entity, records, source, detail=needs_detail(entity), per_page=per_page)
        for entity, (records, source) in counts.items()
    )
    calls = sum(c.calls or 0 for c in costs)
    return SyncEstimate(
        costs,
        durations(
            calls,
            daily_quota=daily_quota,
            reserve_share=reserve_share,
            plans=plans,
            requests_per_minute=requests_per_minute,
        ),
        per_page,
    )


# ---------------------------------------------------------------------------- the schedule
def runs_per_day(cron: str, *, start: datetime | None = None) -> int:
    """How often a cron expression fires in one day (from ``start``, default 2026-01-05 00:00)."""
    first = start or datetime(2026, 1, 5)
    end = first + timedelta(days=1)
    runs = 0
    schedule = croniter(cron, first - timedelta(microseconds=1))
    while schedule.get_next(datetime) < end:
        runs += 1
    return runs


@dataclass(frozen=True)
class SteadyCost:
    """One entity's calls a day under the schedule, once its backfill is done."""

    entity: str
    records: int
    changes: int
    pull_list_calls: int
    detail_calls: int
    reconcile_calls: int

    @property
    def calls(self) -> int:
        return self.pull_list_calls + self.detail_calls + self.reconcile_calls


def steady_cost(
    plan: PullPlan,
    records: int,
    changes_per_day: int,
    *,
    pulls_per_day: int,
    reconciles_per_day: int,
    overlap_minutes: float = 5.0,
    per_page: int = MAX_PER_PAGE,
) -> SteadyCost:
    """Calls a day of one entity: every pull lists what its strategy reads, each change is
    fetched once by id where the plan needs details, every reconciliation lists everything.

    - ``modified_filter``: the records modified since the last pull, less the overlap;
    - ``sorted_watermark``: the newest first, until one older than the window (one more row);
    - ``full_scan``: every page, every time.

    Reconciliation's GETs (healing drift, confirming a delete) are not counted: in step, there
    is no drift."""
    if pulls_per_day < 1:
        per_run = 0.0
    else:
        interval = MINUTES_PER_DAY / pulls_per_day
        per_run = changes_per_day / pulls_per_day * (1 + overlap_minutes / interval)
    if plan.strategy == "full_scan":
        listed = pages(records, per_page)
    elif plan.strategy == "sorted_watermark":
        listed = pages(math.ceil(per_run) + 1, per_page)
    else:
        listed = pages(math.ceil(per_run), per_page)
    return SteadyCost(
        plan.entity,
        records,
        changes_per_day,
        pulls_per_day * listed,
        changes_per_day if plan.detail else 0,
        reconciles_per_day * pages(records, per_page),
    )


def steady_daily_calls(
    organization: Mapping[str, tuple[int, int]],
    *,
    pull_cron: str,
    reconcile_cron: str,
    use_inventory: bool = False,
    plan: Callable[[str], PullPlan] | None = None,
    overlap_minutes: float = 5.0,
    per_page: int = MAX_PER_PAGE,
) -> tuple[SteadyCost, ...]:
    """The schedule's calls a day for ``organization`` (entity → (records, changes a day))."""
    plan_of = plan or (lambda entity: plan_for(entity, use_inventory=use_inventory))
    pulls, reconciles = runs_per_day(pull_cron), runs_per_day(reconcile_cron)
    return tuple(
        steady_cost(
            plan_of(entity),
            records,
            changes,
            pulls_per_day=pulls,
            reconciles_per_day=reconciles,
            overlap_minutes=overlap_minutes,
            per_page=per_page,
        )
        for entity, (records, changes) in organization.items()
    )
