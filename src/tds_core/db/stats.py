"""The stats API's reads of the rolled-up minutes (``tds_metrics``, ``tds_metric_histograms``)
in ``[since, until)``."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


class RolledCount(TypedDict):
    name: str
    entity: str | None
    """The series' entity label (None for a series kept in total only)."""
    value: float


class RolledMinute(TypedDict):
    minute: datetime
    value: float


class RolledBucket(TypedDict):
    entity: str
    bucket: int
    n: int


class HistoryStep(TypedDict):
    step: int
    total: float
    peak: float


@statement
async def rolled_counts(
    db: Executor, *, since: datetime, until: datetime, names: list[str]
) -> list[RolledCount]:
    rows = await db.fetch(QUERIES.stats_rolled_counts, since, until, names)
    return [cast(RolledCount, dict(row)) for row in rows]


@statement
async def rolled_minutes(
    db: Executor, *, since: datetime, until: datetime, names: list[str]
) -> list[RolledMinute]:
    rows = await db.fetch(QUERIES.stats_rolled_minutes, since, until, names)
    return [cast(RolledMinute, dict(row)) for row in rows]


@statement
async def rolled_histogram(
    db: Executor, *, since: datetime, until: datetime, name: str, buckets: int
) -> list[RolledBucket]:
    rows = await db.fetch(QUERIES.stats_rolled_histogram, since, until, name, buckets)
    return [cast(RolledBucket, dict(row)) for row in rows]


@statement
async def history(
    db: Executor,
    *,
    name: str,
    labels: dict[str, str] | None,
    since: datetime,
    until: datetime,
    step_seconds: int,
) -> list[HistoryStep]:
    """Series ``name`` over ``[since, until)`` in steps (``labels`` None: every label set, summed)."""
    rows = await db.fetch(QUERIES.stats_history, name, labels, since, until, step_seconds)
    return [cast(HistoryStep, dict(row)) for row in rows]
