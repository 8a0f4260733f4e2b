"""Report periods: whole days and calendar months in the schedule's time zone, and the periods
an operator names on the command line."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from tds_core.reports.digests import InvalidPeriod, ReportKind, parse_period, period_of

UTC_ZONE = ZoneInfo("UTC")


def test_periods_are_whole_days_and_months_in_the_schedule_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    monday = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 08:00 in Berlin
    week = period_of(ReportKind.DLQ_DIGEST, monday, berlin)
    assert (week.start, week.end) == (
        datetime(2026, 2, 22, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 23, 0, tzinfo=UTC),
    )
    # the whole of an ISO week (Monday to Sunday) is what a Monday run reports
    assert parse_period(ReportKind.DLQ_DIGEST, "2026-W09", berlin) == week
    assert parse_period(ReportKind.DLQ_DIGEST, "2026-03-02", berlin) == week
    month = period_of(ReportKind.PERFORMANCE, datetime(2026, 11, 1, 7, 0, tzinfo=UTC), berlin)
    # October in Berlin: 31 days and the hour the clocks went back
    assert (month.start, month.end) == (
        datetime(2026, 9, 30, 22, 0, tzinfo=UTC),
        datetime(2026, 10, 31, 23, 0, tzinfo=UTC),
    )
    assert parse_period(ReportKind.PERFORMANCE, "2026-10", berlin) == month
    december = parse_period(ReportKind.PERFORMANCE, "2025-12", UTC_ZONE)
    assert (december.start.date(), december.end.date()) == (date(2025, 12, 1), date(2026, 1, 1))
    for kind, text in (
        (ReportKind.PERFORMANCE, "2026-13"),
        (ReportKind.PERFORMANCE, "2026-W09"),
        (ReportKind.DLQ_DIGEST, "2026-W54"),
        (ReportKind.DLQ_DIGEST, "last week"),
    ):
        with pytest.raises(InvalidPeriod, match="period: "):
            parse_period(kind, text, UTC_ZONE)
