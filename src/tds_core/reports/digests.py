"""The periodic reports as a service: the weekly dead-letter digest and the monthly performance
summary, each made once per period and sent through the alert channels.

``Digests(pool, daily_quota=...).run_once(kind, now=None)`` is what the scheduler runs on
``schedule.dlq_digest_cron`` (Mondays 08:00) and ``schedule.performance_report_cron`` (the 1st,
08:00), both read in ``schedule.timezone``:

1. the period a run at ``now`` reports on (:func:`period_of`): the seven whole days before the
   day it runs (Monday to Sunday with the default schedule), or the previous calendar month;
2. if that kind and period already has its ``tds_reports`` row, nothing (another scheduler or a
   restart got there first);
3. otherwise the figures are read (:mod:`.figures`) and, in one transaction, the report is
   recorded (unique per kind and period: of two concurrent runs one inserts, the other finds
   the row taken and queues nothing) together with one delivery per target channel.

Sending is the :class:`~tds_core.alerts.delivery.DeliveryRunner`'s job, as for alerts: retries
with backoff, results recorded on each delivery, secrets scrubbed. The target channels are
``reports.channels`` (default: every enabled alert channel). An operator sends a report again
with :meth:`Digests.resend` (``tds reports resend ID``): new deliveries of the stored text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from tds_core.access.actions import Actor, record
from tds_core.config.encryption import Keyring
from tds_core.config.runtime import RuntimeConfig
from tds_core.config.runtime import load as load_config
from tds_core.db import metrics
from tds_core.db import reports as stored_reports
from tds_core.db.connection import Connection, Executor, Pool, connected, transaction
from tds_core.errors import NotFound
from tds_core.reports import figures
from tds_core.reports.figures import Period, Rendered

log = structlog.get_logger("tds.reports")

SCHEDULER = Actor("scheduler", None, "scheduler")


class ReportKind(StrEnum):
    DLQ_DIGEST = "dlq_digest"
    """The weekly dead-letter review: the seven days before the day it runs."""

    PERFORMANCE = "performance"
    """The monthly performance summary: the previous calendar month."""


class ReportNotFound(NotFound):
    """No report with that id (the API answers 404)."""


class InvalidPeriod(ValueError):
    """A period that cannot be read as asked (the CLI exits 2, the API answers 422)."""


@dataclass(frozen=True)
class DigestConfig:
    metrics_retention: timedelta = timedelta(days=30)
    """How long per-minute metrics are kept (older minutes are counted from the rows)."""
    week_days: int = 7
    """Days the dead-letter digest covers."""


@dataclass
class DigestResult:
    """What one run did: ``created`` 1 when it recorded the period's report, ``existing`` 1 when
    the period already had one; ``deliveries`` queued."""

    kind: str
    period_start: datetime
    report_id: int | None = None
    created: int = 0
    existing: int = 0
    deliveries: int = 0
    channels: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created)


# ---------------------------------------------------------------------------- periods
def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _previous_month(day: date) -> date:
    first = _month_start(day)
    return _month_start(first - timedelta(days=1))


def period_of(kind: ReportKind, now: datetime, zone: ZoneInfo, *, week_days: int = 7) -> Period:
    """The period a run at ``now`` reports on: for the digest the ``week_days`` whole days
    before the day of ``now``; for the summary the calendar month before the one of ``now``
    (days and months in ``zone``)."""
    today = now.astimezone(zone).date()
    if kind == ReportKind.DLQ_DIGEST:
        return Period(_midnight(today - timedelta(days=week_days), zone), _midnight(today, zone), zone)
    first = _month_start(today)
    return Period(_midnight(_previous_month(first), zone), _midnight(first, zone), zone)


WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_period(kind: ReportKind, text: str, zone: ZoneInfo, *, week_days: int = 7) -> Period:
    """A period named on the command line: for the digest an ISO week (``2026-W09``: Monday to
    Sunday) or a day (``2026-03-02``: the days before it, as a run that day reports); for the
    summary a month (``2026-02``)."""
    text = text.strip()
    try:
        if kind == ReportKind.PERFORMANCE:
            match = MONTH.match(text)
            if match is None:
                raise InvalidPeriod(f"period: {text[:40]!r} is not a month like 2026-02")
            first = date(int(match.group(1)), int(match.group(2)), 1)
            following = _month_start(first + timedelta(days=31))
            return Period(_midnight(first, zone), _midnight(following, zone), zone)
        week = WEEK.match(text)
        if week is not None:
            monday = date.fromisocalendar(int(week.group(1)), int(week.group(2)), 1)
            return Period(_midnight(monday, zone), _midnight(monday + timedelta(days=7), zone), zone)
        if DAY.match(text):
            day = date.fromisoformat(text)
            return Period(_midnight(day - timedelta(days=week_days), zone), _midnight(day, zone), zone)
    except ValueError as exc:
        if isinstance(exc, InvalidPeriod):
            raise
        raise InvalidPeriod(f"period: {text[:40]!r}: {exc}") from None
    raise InvalidPeriod(f"period: {text[:40]!r} is not an ISO week like 2026-W09 or a day like 2026-03-02")


def targets(config: RuntimeConfig) -> list[tuple[str, str]]:
    """(name, type) of the channels that receive reports: ``reports.channels`` or every enabled one."""
    wanted = config.reports__channels
    return [
        (c.name, c.type)
        for c in config.alerts__channels
        if c.enabled and (wanted is None or c.name in wanted)
    ]


# ---------------------------------------------------------------------------- the service
class Digests:
    def __init__(
        self,
        pool: Pool,
        *,
        daily_quota: int | None,
        config: DigestConfig | None = None,
        keyring: Keyring | None = None,
    ) -> None:
        self.pool = pool
        self.daily_quota = daily_quota
        self.config = config or DigestConfig()
        self.keyring = keyring  # the configuration's channel secrets are stored encrypted

    async def _clock_and_config(
        self, now: datetime | None, config: RuntimeConfig | None
    ) -> tuple[datetime, RuntimeConfig]:
        async with connected(self.pool) as connection:
            if config is None:
                config = await load_config(connection, self.keyring)
            at = await metrics.clock(connection, now=now)
        return at.astimezone(UTC), config

    def period(self, kind: ReportKind, now: datetime, config: RuntimeConfig) -> Period:
        return period_of(kind, now, ZoneInfo(config.schedule__timezone), week_days=self.config.week_days)

    async def build(
        self,
        kind: ReportKind,
        period: Period,
        *,
        now: datetime | None = None,
        config: RuntimeConfig | None = None,
    ) -> Rendered:
        """The report of ``period`` as of ``now`` (nothing is recorded or sent)."""
        at, config = await self._clock_and_config(now, config)
        url = str(config.reports__dashboard_url) if config.reports__dashboard_url else None
        if kind == ReportKind.DLQ_DIGEST:
            async with (
                connected(self.pool) as connection,
                connection.transaction(isolation="repeatable_read", readonly=True),
            ):
                return await figures.dlq_digest(
                    connection, period, now=at, top_errors=config.reports__top_errors, dashboard_url=url
                )
        return await figures.performance(
            self.pool,
            period,
            now=at,
            daily_quota=self.daily_quota,
            dashboard_url=url,
            retention=self.config.metrics_retention,
        )

    async def run_once(
        self,
        kind: ReportKind,
        now: datetime | None = None,
        *,
        period: Period | None = None,
        actor: Actor = SCHEDULER,
        config: RuntimeConfig | None = None,
    ) -> DigestResult:
        """Make and queue the report of ``period`` (default: the one a run at ``now`` covers),
        unless that period already has its report."""
        at, config = await self._clock_and_config(now, config)
        period = period or self.period(kind, at, config)
        result = DigestResult(kind=kind.value, period_start=period.start)
        existing = await stored_reports.find(self.pool, kind=kind.value, period_start=period.start)
        if existing is not None:
            result.report_id, result.existing = existing["id"], 1
            return result
        rendered = await self.build(kind, period, now=at, config=config)
        channels = targets(config)
        async with connected(self.pool) as connection, transaction(connection):
            report_id = await stored_reports.insert(
                connection,
                kind=kind.value,
                period_start=period.start,
                period_end=period.end,
                created_at=at,
                created_by=actor.name,
                subject=rendered.subject,
                text_body=rendered.text,
                chat_body=rendered.chat,
                data=rendered.data,
            )
            if report_id is None:  # a concurrent run recorded it between our look and now
                found = await stored_reports.find(connection, kind=kind.value, period_start=period.start)
                result.report_id, result.existing = (found["id"] if found else None), 1
                return result
            result.report_id, result.created = report_id, 1
            result.deliveries = await self._queue(connection, report_id, channels, at)
            result.channels = [name for name, _ in channels]
            if actor.via != "scheduler":
                await record(
                    connection, actor, "report.send", target=str(report_id), details={"kind": kind.value}
                )
        log.info(
            "report made",
            kind=kind.value,
            period_start=period.start.isoformat(),
            report_id=result.report_id,
            deliveries=result.deliveries,
        )
        return result

    async def resend(
        self,
        report_id: int,
        actor: Actor,
        *,
        now: datetime | None = None,
        config: RuntimeConfig | None = None,
    ) -> DigestResult:
        """Queue new deliveries of a stored report (same text) to today's target channels."""
        at, config = await self._clock_and_config(now, config)
        channels = targets(config)
        async with connected(self.pool) as connection, transaction(connection):
            report = await stored_reports.get(connection, report_id=report_id)
            if report is None:
                raise ReportNotFound(f"no report {report_id}")
            result = DigestResult(
                kind=report["kind"], period_start=report["period_start"], report_id=report_id
            )
            result.deliveries = await self._queue(connection, report_id, channels, at)
            result.channels = [name for name, _ in channels]
            await record(
                connection,
                actor,
                "report.resend",
                target=str(report_id),
                details={"channels": result.channels},
            )
        log.info("report queued again", report_id=report_id, deliveries=result.deliveries, by=actor.name)
        return result

    async def _queue(
        self, connection: Connection, report_id: int, channels: list[tuple[str, str]], at: datetime
    ) -> int:
        if not channels:
            return 0
        ids = await stored_reports.deliveries_insert(
            connection,
            now=at,
            report_id=report_id,
            channels=[name for name, _ in channels],
            channel_types=[kind for _, kind in channels],
        )
        return len(ids)


# ---------------------------------------------------------------------------- reading
async def list_reports(
    connection: Executor, *, kind: str | None = None, before: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Reports newest first, with how their deliveries stand."""
    rows = await stored_reports.list_all(connection, kind=kind, before=before, limit=limit)
    return [dict(r) for r in rows]


async def get_report(connection: Executor, report_id: int) -> dict[str, Any]:
    """One report with its bodies, figures and deliveries; raises :class:`ReportNotFound`."""
    row = await stored_reports.get(connection, report_id=report_id)
    if row is None:
        raise ReportNotFound(f"no report {report_id}")
    deliveries = await stored_reports.deliveries(connection, report_id=report_id)
    return dict(row) | {"deliveries": [dict(d) for d in deliveries]}
