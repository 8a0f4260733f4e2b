"""``tds_reports``: the periodic reports, one per kind and period, their deliveries (rows of
``tds_alert_deliveries`` with a ``report_id``) and the period aggregates they need."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


class ReportListed(TypedDict):
    id: int
    kind: str
    period_start: datetime
    period_end: datetime
    created_at: datetime
    created_by: str
    subject: str
    deliveries: int
    sent: int
    pending: int
    failed: int


class Report(TypedDict):
    id: int
    kind: str
    period_start: datetime
    period_end: datetime
    created_at: datetime
    created_by: str
    subject: str
    text_body: str
    chat_body: str
    data: dict[str, Any]


class Delivery(TypedDict):
    id: int
    channel: str
    channel_type: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None


class AlertsOpened(TypedDict):
    rule: str
    severity: str
    opened: int


class Reconciliations(TypedDict):
    entity: str
    runs: int
    succeeded: int
    failed: int
    with_drift: int
    drift: int


class CallsPerDay(TypedDict):
    day: datetime
    calls: float


@statement
async def insert(
    db: Executor,
    *,
    kind: str,
    period_start: datetime,
    period_end: datetime,
    created_at: datetime | None,
    created_by: str,
    subject: str,
    text_body: str,
    chat_body: str,
    data: dict[str, Any],
) -> int | None:
    """The new report's id; None when that kind and period already has one."""
    report_id: int | None = await db.fetchval(
        QUERIES.reports_insert,
        kind,
        period_start,
        period_end,
        created_at,
        created_by,
        subject,
        text_body,
        chat_body,
        data,
    )
    return report_id


@statement
async def deliveries_insert(
    db: Executor, *, now: datetime | None, report_id: int, channels: list[str], channel_types: list[str]
) -> list[int]:
    """Queue one delivery per channel (``channel_types`` in the same order); their ids."""
    rows = await db.fetch(QUERIES.reports_deliveries_insert, now, report_id, channels, channel_types)
    return [row["id"] for row in rows]


@statement
async def list_all(db: Executor, *, kind: str | None, before: int | None, limit: int) -> list[ReportListed]:
    rows = await db.fetch(QUERIES.reports_list, kind, before, limit)
    return [cast(ReportListed, dict(row)) for row in rows]


@statement
async def get(db: Executor, *, report_id: int) -> Report | None:
    row = await db.fetchrow(QUERIES.reports_get, report_id)
    return None if row is None else cast(Report, dict(row))


@statement
async def find(db: Executor, *, kind: str, period_start: datetime) -> Report | None:
    row = await db.fetchrow(QUERIES.reports_find, kind, period_start)
    return None if row is None else cast(Report, dict(row))


@statement
async def deliveries(db: Executor, *, report_id: int) -> list[Delivery]:
    return [cast(Delivery, dict(row)) for row in await db.fetch(QUERIES.reports_deliveries, report_id)]


@statement
async def alerts_opened(db: Executor, *, since: datetime, until: datetime) -> list[AlertsOpened]:
    rows = await db.fetch(QUERIES.reports_alerts_opened, since, until)
    return [cast(AlertsOpened, dict(row)) for row in rows]


@statement
async def reconciliations(db: Executor, *, since: datetime, until: datetime) -> list[Reconciliations]:
    rows = await db.fetch(QUERIES.reports_reconciliations, since, until)
    return [cast(Reconciliations, dict(row)) for row in rows]


@statement
async def zoho_calls_by_day(db: Executor, *, since: datetime, until: datetime) -> list[CallsPerDay]:
    rows = await db.fetch(QUERIES.reports_zoho_calls_by_day, since, until)
    return [cast(CallsPerDay, dict(row)) for row in rows]
