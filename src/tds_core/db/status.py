"""Database functions for status and housekeeping: the health summary, the retention clean-up
and the scheduler's leader lock."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


class RetentionDeleted(TypedDict):
    table_name: str
    deleted: int


@statement
async def health_summary(db: Executor, *, now: datetime | None) -> dict[str, Any]:
    """``tds_health_summary``: counts by state, DLQ size, oldest pending age, alerts, workers."""
    summary: dict[str, Any] = await db.fetchval(QUERIES.status_health_summary, now)
    return summary


@statement
async def retention_cleanup(
    db: Executor,
    *,
    now: datetime | None,
    inbox_days: int,
    queue_days: int,
    logs_days: int,
    metrics_days: int,
    batch: int,
) -> list[RetentionDeleted]:
    """One bounded pass of ``tds_retention_cleanup``: rows deleted per table."""
    rows = await db.fetch(
        QUERIES.retention_cleanup, now, inbox_days, queue_days, logs_days, metrics_days, batch
    )
    return [cast(RetentionDeleted, dict(row)) for row in rows]


@statement
async def scheduler_try_lead(db: Executor) -> bool:
    """Take the scheduler's session advisory lock if it is free (held until the session ends)."""
    return bool(await db.fetchval(QUERIES.scheduler_try_lead))
