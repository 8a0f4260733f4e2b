"""``tds_metric_totals``, ``tds_metric_rollup``, ``tds_metrics`` and ``tds_metric_histograms``:
the counted events and observations per minute, their cumulative totals, the roll-up's
watermark, and the gauges of the current state.

Ranges are ``[since, until)`` with None meaning unbounded; time-dependent statements take an
optional ``now`` (None = the database's clock).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NotRequired, TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


class Total(TypedDict):
    """A cumulative total: a counter (``counts`` None), or a histogram (``value`` its sum)."""

    name: str
    labels: dict[str, Any]
    value: float
    counts: list[int] | None


class TotalAddition(TypedDict):
    """What :func:`totals_add` adds to one total (``counts``: a histogram's buckets)."""

    name: str
    labels: dict[str, Any]
    value: float
    counts: NotRequired[list[int]]


class EventCount(TypedDict):
    stream: str
    entity: str
    kind: str
    origin: str
    minute: datetime
    n: float


class SampleCount(TypedDict):
    name: str
    entity: str
    minute: datetime
    bucket: int
    n: int
    total: float


class MinuteValue(TypedDict):
    """One per-minute value of a series (``bucket_start`` in ISO 8601)."""

    name: str
    labels: dict[str, Any]
    bucket_start: str
    value: float


class MinuteHistogram(TypedDict):
    """One per-minute histogram (``bucket_start`` in ISO 8601)."""

    name: str
    entity: str
    bucket_start: str
    counts: list[int]
    total: float


class Gauge(TypedDict):
    name: str
    labels: dict[str, str]
    value: float


@statement
async def rollup_state(db: Executor) -> datetime | None:
    """Everything counted before this time is in the totals (None: nothing yet)."""
    rolled: datetime | None = await db.fetchval(QUERIES.metrics_rollup_state)
    return rolled


@statement
async def rollup_lock(db: Executor) -> datetime | None:
    """The roll-up's watermark, locked until the transaction ends."""
    rolled: datetime | None = await db.fetchval(QUERIES.metrics_rollup_lock)
    return rolled


@statement
async def rollup_advance(db: Executor, *, rolled_through: datetime) -> None:
    await db.execute(QUERIES.metrics_rollup_advance, rolled_through)


@statement
async def totals(db: Executor) -> list[Total]:
    return [cast(Total, dict(row)) for row in await db.fetch(QUERIES.metrics_totals)]


@statement
async def totals_add(db: Executor, *, additions: list[TotalAddition]) -> None:
    await db.execute(QUERIES.metrics_totals_add, additions)


@statement
async def events_by_minute(
    db: Executor, *, since: datetime | None, until: datetime | None
) -> list[EventCount]:
    rows = await db.fetch(QUERIES.metrics_events_by_minute, since, until)
    return [cast(EventCount, dict(row)) for row in rows]


@statement
async def samples_by_minute(
    db: Executor,
    *,
    since: datetime | None,
    until: datetime | None,
    bounds: list[float],
    names: list[str] | None,
) -> list[SampleCount]:
    rows = await db.fetch(QUERIES.metrics_samples_by_minute, since, until, bounds, names)
    return [cast(SampleCount, dict(row)) for row in rows]


@statement
async def earliest(db: Executor) -> datetime | None:
    """The time of the oldest counted row (None: nothing counted)."""
    at: datetime | None = await db.fetchval(QUERIES.metrics_earliest)
    return at


@statement
async def minutes_upsert(db: Executor, *, minutes: list[MinuteValue]) -> None:
    await db.execute(QUERIES.metrics_minutes_upsert, minutes)


@statement
async def histograms_upsert(db: Executor, *, histograms: list[MinuteHistogram]) -> None:
    await db.execute(QUERIES.metrics_histograms_upsert, histograms)


@statement
async def histograms_delete_before(db: Executor, *, before: datetime, limit: int) -> int:
    """Delete at most ``limit`` per-minute histograms older than ``before``; how many went."""
    deleted: int = await db.fetchval(QUERIES.metrics_histograms_delete_before, before, limit)
    return deleted


@statement
async def gauges(db: Executor, *, now: datetime | None, entities: list[str]) -> list[Gauge]:
    rows = await db.fetch(QUERIES.metrics_gauges, now, entities)
    return [cast(Gauge, dict(row)) for row in rows]


@statement
async def clock(db: Executor, *, now: datetime | None) -> datetime:
    """The database's clock, or ``now`` when pinned."""
    at: datetime = await db.fetchval(QUERIES.metrics_clock, now)
    return at
