"""The numbers of the stats API: per-entity counts and latency over a window, the current state,
and the history of one per-minute series for the dashboard's charts.

A window ``[until - length, until)`` is read from two places in one snapshot: whole minutes the
roll-up has written (``tds_metrics`` counts, ``tds_metric_histograms`` arrays) and, for the
rest (the part of the first minute inside the window, and everything after the roll-up's
watermark), the rows themselves through the same views the roll-up counts. So a window's
numbers are exact, do not depend on whether the roll-up has run, and a 24-hour window costs
about 1,440 rows per entity rather than a scan of a day of logs.

Definitions: *received* = events that entered the inbox (any source, including rejected);
*applied* / *skipped* (stale or unchanged) / *retried* (failed attempts that will be retried)
= worker outcomes; *failed* = events dead-lettered; *success rate* = (applied + skipped) /
(applied + skipped + failed); *throughput* = (applied + skipped + failed) per second of the
window; *latency* = end to end (received by TDS until applied or skipped), percentiles
estimated from the fixed buckets of :mod:`.histogram`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from tds_core import errors
from tds_core.db import metrics
from tds_core.db import stats as rolled_stats
from tds_core.db.connection import Executor, Pool, connected
from tds_core.domain.entities import ENTITY_SLUGS
from tds_core.observability.histogram import BOUNDS_MS, BUCKETS, QUANTILES, Histogram
from tds_core.observability.series import SERIES, Series, count_series

Window = Literal["5m", "1h", "24h"]
WINDOWS: dict[str, timedelta] = {
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
}
COUNTS = ("events_received", "events_rejected", "events_applied", "events_skipped", "events_retried")
FAILED = "events_dead_lettered"
FINISHED = ["events_applied", "events_skipped", FAILED]
"""The count series of finished events (what throughput counts)."""
MAX_HISTORY = timedelta(days=31)
MAX_POINTS = 1440
DEFAULT_POINTS = 720


class InvalidRequest(errors.InvalidRequest):
    """A stats request that cannot be answered as asked (the API answers 422)."""


class Latency(BaseModel):
    p50_ms: float | None = Field(description="Median end-to-end latency (estimated from buckets)")
    p95_ms: float | None
    p99_ms: float | None
    samples: int = Field(description="Events the percentiles are computed from")


class EntityStats(BaseModel):
    entity: str = Field(description="The entity, or `all`")
    received: int
    rejected: int
    applied: int
    skipped: int
    retried: int
    failed: int = Field(description="Events dead-lettered in the window")
    success_rate: float | None = Field(
        description="(applied + skipped) / (applied + skipped + failed); null when none finished"
    )
    throughput_per_second: float = Field(description="Finished events (applied, skipped, failed) per second")
    latency: Latency


class QueueStats(BaseModel):
    pending: int
    ready: int
    processing: int
    oldest_ready_age_seconds: float = Field(description="The lag: how long the oldest ready event has waited")


class DeadLetterStats(BaseModel):
    open: int
    oldest_age_seconds: float | None


class WorkerStats(BaseModel):
    alive: int
    breakers: dict[str, int] = Field(description="Live workers by circuit-breaker state")


class QuotaStats(BaseModel):
    organization: str
    calls_today: int
    daily_quota: int | None
    remaining: int | None


class WindowStats(BaseModel):
    window: Window
    since: datetime
    until: datetime
    seconds: float
    rolled_through: datetime | None = Field(description="Minutes before this come from the roll-up")
    total: EntityStats
    entities: list[EntityStats]
    queue: QueueStats
    dead_letters: DeadLetterStats
    workers: WorkerStats
    zoho: list[QuotaStats]


class SeriesInfo(BaseModel):
    name: str
    kind: Literal["count", "gauge", "percentile"]
    unit: str
    per_entity: bool = Field(description="Whether `entity` may be given")
    aggregate: Literal["sum", "max"] = Field(description="How the minutes of a longer step combine")
    description: str


class HistoryPoint(BaseModel):
    at: datetime
    value: float | None


class History(BaseModel):
    name: str
    kind: Literal["count", "gauge", "percentile"]
    unit: str
    aggregate: Literal["sum", "max"]
    entity: str | None
    since: datetime
    until: datetime
    step_seconds: int
    points: list[HistoryPoint]


def series_info() -> list[SeriesInfo]:
    return [
        SeriesInfo(
            name=s.name,
            kind=s.kind,
            unit=s.unit,
            per_entity=s.scope != "total",
            aggregate=s.aggregate,
            description=s.description,
        )
        for s in SERIES.values()
    ]


def _ceil_minute(value: datetime) -> datetime:
    floor = value.replace(second=0, microsecond=0)
    return floor if floor == value else floor + timedelta(minutes=1)


def _entity_stats(entity: str, counts: dict[str, float], latency: Histogram, seconds: float) -> EntityStats:
    applied, skipped, failed = (int(counts.get(n, 0)) for n in ("events_applied", "events_skipped", FAILED))
    finished = applied + skipped + failed
    p50, p95, p99 = (latency.quantile(q) for q in QUANTILES)
    return EntityStats(
        entity=entity,
        received=int(counts.get("events_received", 0)),
        rejected=int(counts.get("events_rejected", 0)),
        applied=applied,
        skipped=skipped,
        retried=int(counts.get("events_retried", 0)),
        failed=failed,
        success_rate=(applied + skipped) / finished if finished else None,
        throughput_per_second=finished / seconds if seconds > 0 else 0.0,
        latency=Latency(p50_ms=p50, p95_ms=p95, p99_ms=p99, samples=latency.count),
    )


async def window_stats(
    pool: Pool, window: str, *, now: datetime | None = None, daily_quotas: dict[str, int] | None = None
) -> WindowStats:
    if window not in WINDOWS:
        raise InvalidRequest(f"window must be one of {', '.join(WINDOWS)}")
    async with (
        connected(pool) as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        return await _window_stats(connection, window, now, daily_quotas or {})


async def _window_stats(
    connection: Executor, window: str, pinned: datetime | None, daily_quotas: dict[str, int]
) -> WindowStats:
    until = (await metrics.clock(connection, now=pinned)).astimezone(UTC)
    since = until - WINDOWS[window]
    rolled = await metrics.rollup_state(connection)
    span = await _span(connection, since, until, rolled, _ceil_minute(since))
    gauges = await metrics.gauges(connection, now=until, entities=list(ENTITY_SLUGS))
    return WindowStats(
        window=window,
        since=since,
        until=until,
        seconds=span.seconds,
        rolled_through=rolled,
        total=span.total,
        entities=span.entities,
        **_state([(r["name"], r["labels"], float(r["value"])) for r in gauges], daily_quotas),
    )


class PeriodStats(BaseModel):
    """Counts and latency over any period (the monthly performance summary)."""

    since: datetime
    until: datetime
    seconds: float
    rolled_through: datetime | None
    read_live_before: datetime | None = Field(
        description="Minutes before this are past the per-minute retention and were counted from the "
        "rows (sync logs, dead letters; inbox arrivals older than its 7 days are gone)"
    )
    total: EntityStats
    entities: list[EntityStats]
    busiest_minute: datetime | None = Field(description="The minute with the most finished events")
    busiest_minute_events: int = Field(description="Finished events (applied, skipped, failed) in it")


async def period_stats(
    pool: Pool,
    since: datetime,
    until: datetime,
    *,
    now: datetime | None = None,
    retention: timedelta = timedelta(days=30),
) -> PeriodStats:
    """The window numbers of :func:`window_stats` over ``[since, until)``: rolled minutes where
    the roll-up has them, the rows themselves elsewhere (including minutes older than the
    per-minute ``retention`` at ``now``)."""
    since, until = _utc(since), _utc(until)
    if until <= since:
        raise InvalidRequest("the period must end after it starts")
    async with (
        connected(pool) as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        clock = (await metrics.clock(connection, now=now)).astimezone(UTC)
        rolled = await metrics.rollup_state(connection)
        horizon = _ceil_minute(clock - retention)
        rolled_from = min(max(_ceil_minute(since), horizon), until)
        span = await _span(connection, since, until, rolled, rolled_from)
    return PeriodStats(
        since=since,
        until=until,
        seconds=span.seconds,
        rolled_through=rolled,
        read_live_before=rolled_from if rolled_from > _ceil_minute(since) else None,
        total=span.total,
        entities=span.entities,
        busiest_minute=span.busiest[0] if span.busiest else None,
        busiest_minute_events=span.busiest[1] if span.busiest else 0,
    )


@dataclass
class _Span:
    seconds: float
    total: EntityStats
    entities: list[EntityStats]
    busiest: tuple[datetime, int] | None


async def _span(
    connection: Executor, since: datetime, until: datetime, rolled: datetime | None, rolled_from: datetime
) -> _Span:
    """Counts and latency over ``[since, until)``: whole minutes the roll-up wrote in
    ``[rolled_from, rolled_to)``, the rest read live through the views the roll-up counts."""
    rolled_to = max(rolled_from, min(rolled or rolled_from, until.replace(second=0, microsecond=0)))
    live = [(since, rolled_from), (rolled_to, until)]

    # a series kept in total only has no entity (None): counted, never reported per entity
    counts: dict[str | None, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    latency: dict[str, Histogram] = defaultdict(Histogram)
    names = [*COUNTS, FAILED]
    for total in await rolled_stats.rolled_counts(
        connection, since=rolled_from, until=rolled_to, names=names
    ):
        counts[total["entity"]][total["name"]] += total["value"]
    for bucket in await rolled_stats.rolled_histogram(
        connection, since=rolled_from, until=rolled_to, name="latency", buckets=BUCKETS
    ):
        latency[bucket["entity"]].add(bucket["bucket"], int(bucket["n"]), 0.0)
    finished_by_minute: dict[datetime, float] = defaultdict(float)
    if rolled_from < rolled_to:
        for minute in await rolled_stats.rolled_minutes(
            connection, since=rolled_from, until=rolled_to, names=FINISHED
        ):
            finished_by_minute[minute["minute"]] += minute["value"]
    for start, end in live:
        if start >= end:
            continue
        for event in await metrics.events_by_minute(connection, since=start, until=end):
            for name in count_series(event["stream"], event["kind"]):
                if name in names:
                    counts[event["entity"]][name] += event["n"]
                if name in FINISHED:
                    finished_by_minute[event["minute"]] += event["n"]
        for sample in await metrics.samples_by_minute(
            connection, since=start, until=end, bounds=list(BOUNDS_MS), names=["latency"]
        ):
            latency[sample["entity"]].add(sample["bucket"], int(sample["n"]), float(sample["total"]))

    seconds = (until - since).total_seconds()
    entities = [_entity_stats(e, counts[e], latency[e], seconds) for e in ENTITY_SLUGS]
    all_counts: dict[str, float] = defaultdict(float)
    all_latency = Histogram()
    for entity in ENTITY_SLUGS:
        for name, value in counts[entity].items():
            all_counts[name] += value
        all_latency.merge(latency[entity])
    busiest = max(finished_by_minute.items(), key=lambda item: (item[1], item[0]), default=None)
    return _Span(
        seconds=seconds,
        total=_entity_stats("all", all_counts, all_latency, seconds),
        entities=entities,
        busiest=(busiest[0].astimezone(UTC), int(busiest[1])) if busiest else None,
    )


def _state(rows: list[tuple[str, dict[str, Any], float]], daily_quotas: dict[str, int]) -> dict[str, Any]:
    queue = {"pending": 0, "ready": 0, "processing": 0}
    lag = 0.0
    dead_open, dead_oldest = 0, None
    breakers: dict[str, int] = {"closed": 0, "open": 0, "half_open": 0}
    calls: dict[str, int] = {}
    for name, labels, value in rows:
        if name == "queue_depth":
            queue[labels["state"]] += int(value)
        elif name == "queue_ready":
            queue["ready"] += int(value)
        elif name == "queue_oldest_ready_age_seconds":
            lag = max(lag, value)
        elif name == "dlq_open":
            dead_open += int(value)
        elif name == "dlq_oldest_age_seconds":
            dead_oldest = value if dead_oldest is None else max(dead_oldest, value)
        elif name == "workers":
            breakers[labels["circuit_state"]] = breakers.get(labels["circuit_state"], 0) + int(value)
        elif name == "zoho_calls_today":
            calls[labels["organization"]] = int(value)
    zoho = []
    for organization in sorted(set(calls) | set(daily_quotas)):
        used, quota = calls.get(organization, 0), daily_quotas.get(organization)
        remaining = max(0, quota - used) if quota is not None else None
        zoho.append(
            QuotaStats(organization=organization, calls_today=used, daily_quota=quota, remaining=remaining)
        )
    return {
        "queue": QueueStats(oldest_ready_age_seconds=lag, **queue),
        "dead_letters": DeadLetterStats(open=dead_open, oldest_age_seconds=dead_oldest),
        "workers": WorkerStats(alive=sum(breakers.values()), breakers=breakers),
        "zoho": zoho,
    }


def _utc(value: datetime) -> datetime:
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidRequest(f"time out of range: {value.isoformat()}") from exc


async def history(
    pool: Pool,
    name: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    entity: str | None = None,
    step_seconds: int | None = None,
) -> History:
    """One series of ``tds_metrics`` for a chart: ``until`` defaults to now, ``since`` to an hour
    before; counts are zero where no minute was written, other series are ``None`` there."""
    series = _series(name, entity)
    async with connected(pool) as connection:
        now = await metrics.clock(connection, now=None)
        end = _utc(until) if until is not None else now.astimezone(UTC)
        try:
            start = _utc(since) if since is not None else end - timedelta(hours=1)
        except OverflowError as exc:
            raise InvalidRequest("until is too early to take an hour before it") from exc
        step = _step(start, end, step_seconds)
        if series.scope == "total":
            labels: dict[str, str] | None = {}
        elif entity is not None:
            labels = {"entity": entity}
        else:
            labels = None if series.scope == "entity" else {}
        rows = await rolled_stats.history(
            connection, name=name, labels=labels, since=start, until=end, step_seconds=step
        )
    by_step = {r["step"]: (r["total"] if series.aggregate == "sum" else r["peak"]) for r in rows}
    count = math.ceil((end - start).total_seconds() / step)
    empty = 0.0 if series.kind == "count" else None
    points = [
        HistoryPoint(at=start + timedelta(seconds=i * step), value=by_step.get(i, empty))
        for i in range(count)
    ]
    return History(
        name=name,
        kind=series.kind,
        unit=series.unit,
        aggregate=series.aggregate,
        entity=entity,
        since=start,
        until=end,
        step_seconds=step,
        points=points,
    )


def _series(name: str, entity: str | None) -> Series:
    series = SERIES.get(name)
    if series is None:
        raise InvalidRequest(f"unknown series {name[:60]!r}: expected one of {', '.join(SERIES)}")
    if entity is not None and series.scope == "total":
        raise InvalidRequest(f"{name} is not kept per entity: leave out entity")
    if entity is not None and entity not in ENTITY_SLUGS:
        raise InvalidRequest(f"unknown entity {entity[:40]!r}: expected one of {', '.join(ENTITY_SLUGS)}")
    return series


def _step(start: datetime, end: datetime, step_seconds: int | None) -> int:
    if end <= start:
        raise InvalidRequest("from must be before to")
    span = end - start
    if span > MAX_HISTORY:
        raise InvalidRequest(f"the range may span at most {MAX_HISTORY.days} days (metrics are kept 30 days)")
    seconds = span.total_seconds()
    if step_seconds is None:
        return max(60, math.ceil(seconds / DEFAULT_POINTS / 60) * 60)
    if step_seconds < 60 or step_seconds % 60 or step_seconds > 86_400:
        raise InvalidRequest("step must be a whole number of minutes in seconds, from 60 to 86400")
    if seconds / step_seconds > MAX_POINTS:
        raise InvalidRequest(
            f"that is more than {MAX_POINTS} points: choose a longer step or a shorter range"
        )
    return step_seconds
