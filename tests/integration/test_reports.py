"""The weekly dead-letter digest and the monthly performance summary, end to end: real dead
letters (the pipeline's, replayed and discarded by the operator functions), roll-ups written by
the roll-up, the figures checked against the dashboard's own stats and dead-letter functions,
and the reports delivered to a real SMTP server and local Slack, Telegram and webhook receivers
(the fixtures of ``test_alerts``) on pinned clocks — once per period, whoever runs the job.
"""

from __future__ import annotations

import asyncio
import json
import quopri
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import structlog
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from tds_core.access.actions import Actor
from tds_core.alerts.delivery import DeliveryConfig, DeliveryRunner
from tds_core.alerts.engine import AlertEngine
from tds_core.cli.main import app
from tds_core.db.pool import connect
from tds_core.db.queries import QUERIES
from tds_core.domain.backoff import BackoffPolicy
from tds_core.observability import stats
from tds_core.observability.histogram import Histogram, bucket_index
from tds_core.observability.rollup import MetricsRollup, RollupConfig
from tds_core.operations import dead_letters
from tds_core.operations.dead_letters import DeadLetterFilter
from tds_core.reports.digests import (
    Digests,
    ReportKind,
    get_report,
    list_reports,
    parse_period,
    period_of,
)
from tds_core.scheduler import retention
from tds_core.scheduler.service import Job, Scheduler
from tests.integration import samples
from tests.integration.conftest import Send
from tests.integration.test_alerts import (  # noqa: F401  (receivers is a fixture)
    BOT_TOKEN,
    HOOK_SECRET,
    Mailbox,
    Receivers,
    calm_host,
    configure,
    free_port,
    receivers,
)
from tests.integration.test_stats import dead_letter, log, receive

OPERATOR = Actor("olga", "operator", "cli")
UTC_ZONE = ZoneInfo("UTC")
T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday


def one_line(header: str) -> str:
    """A header as sent, unfolded."""
    return " ".join(str(header).split())


def mail_text(message: dict[str, Any]) -> str:
    """The body as written (long lines travel quoted-printable)."""
    return quopri.decodestring(message["body"].encode()).decode().replace("\r\n", "\n")


@pytest.fixture
async def reporting(pool: Any, receivers: Receivers) -> Receivers:  # noqa: F811
    """Every channel of the receivers; reports go to all of them (``reports.channels`` unset)."""
    await configure(
        pool,
        alerts__channels=receivers.channels(),
        reports__dashboard_url=json.dumps("https://tds.example.com/"),  # a JSON string
        alerts__db_connections_percent=100,
    )
    return receivers


@pytest.fixture
async def runner(pool: Any) -> Any:
    delivery = DeliveryRunner(pool, DeliveryConfig(backoff=BackoffPolicy(5.0, 60.0)))
    yield delivery
    await delivery.aclose()


def digests(pool: Any) -> Digests:
    return Digests(pool, daily_quota=1000)


# ---------------------------------------------------------------------------- weekly DLQ digest
@pytest.fixture
async def poisoned(pool: Any) -> None:
    """products refuse ids starting POISON- (a target-side failure): dead after 2 attempts."""
    await pool.execute(
        """
        CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ERP trigger refuses the product';
        END $$;
        CREATE TRIGGER test_poison BEFORE INSERT OR UPDATE ON products
            FOR EACH ROW WHEN (NEW.zoho_id LIKE 'POISON-%') EXECUTE FUNCTION test_poison();
        INSERT INTO tds_configuration (key, version, value, updated_by)
        VALUES ('worker.max_attempts', 2, '2', 'tests'), ('retry.backoff_base_seconds', 2, '0', 'tests');
        """
    )


async def letter(pool: Any, entity: str, error: str, error_class: str, created_at: datetime) -> int:
    """A dead letter as the lease rescuer or an older version left it (no queue row to replay)."""
    return int(
        await pool.fetchval(
            "INSERT INTO tds_dead_letter_queue (queue_id, entity, zoho_id, operation, source_version,"
            " payload, error, error_class, attempts, created_at)"
            " VALUES (0, $1, 'Z-' || $1, 'upsert', $4, '{}', $2, $3, 8, $4) RETURNING id",
            entity,
            error,
            error_class,
            created_at,
        )
    )


async def seed_dead_letters(pool: Any, webhook: Send, drain: Any) -> tuple[datetime, dict[str, int]]:
    """Dead letters over the week before ``now`` (tomorrow, so the real clock's replays and
    discards fall inside): three from the pipeline today, three older ones, one before the week."""
    today = (await pool.fetchval("SELECT now()")).astimezone(UTC).date()
    now = datetime.combine(today + timedelta(days=1), time(8, 0), tzinfo=UTC)
    for n in (1, 2, 3):
        response = await webhook("items", {"item": samples.item(item_id=f"POISON-{n}")})
        assert response.status_code == 202, response.text
    await drain()
    poisoned = [r["id"] for r in await pool.fetch("SELECT id FROM tds_dead_letter_queue ORDER BY id")]
    assert len(poisoned) == 3
    ids = {
        "contacts_1": await letter(
            pool, "contacts", "customer group missing", "permanent", now - timedelta(days=2)
        ),
        "contacts_2": await letter(
            pool, "contacts", "customer group missing", "permanent", now - timedelta(days=3)
        ),
        "invoices": await letter(pool, "invoices", "ERP timeout", "retryable", now - timedelta(days=5)),
        "bills_old": await letter(pool, "bills", "ERP timeout", "retryable", now - timedelta(days=12)),
    }
    async with pool.acquire() as connection:
        assert (await dead_letters.replay_ids(connection, [poisoned[0]], OPERATOR, "retry")).resolved
        discarded = await dead_letters.discard_ids(connection, [ids["contacts_1"]], OPERATOR, "duplicate")
        assert discarded.resolved == [ids["contacts_1"]]
    return now, ids | {"replayed": poisoned[0], "poison": poisoned[1]}


async def test_the_weekly_digest_matches_the_dashboard_and_reaches_every_channel(
    pool: Any, poisoned: None, webhook: Send, drain: Any, reporting: Receivers, runner: DeliveryRunner
) -> None:
    now, ids = await seed_dead_letters(pool, webhook, drain)
    service = digests(pool)
    result = await service.run_once(ReportKind.DLQ_DIGEST, now=now)
    assert (result.created, result.existing, result.deliveries) == (1, 0, 4)
    period = period_of(ReportKind.DLQ_DIGEST, now, UTC_ZONE)
    assert (period.start, period.end) == (now - timedelta(days=7, hours=8), now - timedelta(hours=8))
    async with pool.acquire() as connection:
        report = await get_report(connection, result.report_id)
    data = report["data"]

    # the period's movements: 3 from the pipeline + 3 older ones (the bills letter is older than the week)
    assert (data["added"], data["replayed"], data["discarded"], data["added_still_open"]) == (6, 1, 1, 4)
    async with pool.acquire() as connection:
        everything = await dead_letters.list_letters(connection, DeadLetterFilter(), limit=1000)
        in_period = [d for d in everything if period.start <= d["created_at"] < period.end]
        assert data["added"] == len(in_period)
        for row in data["by_entity"]:
            mine = [d for d in in_period if d["entity"] == row["entity"]]
            assert row["added"] == len(mine)
            assert row["added_open"] == sum(d["status"] == "open" for d in mine)
            opened = await dead_letters.list_letters(
                connection, DeadLetterFilter(status="open", entity=row["entity"]), limit=1000
            )
            assert row["open"] == len(opened)
        replayed = await dead_letters.list_letters(
            connection, DeadLetterFilter(status="replayed"), limit=1000
        )
        assert data["replayed"] == sum(period.start <= d["resolved_at"] < period.end for d in replayed)

    # what is open now is what the overview shows (the same gauges), per entity and the oldest
    overview = await stats.window_stats(pool, "5m", now=now)
    assert data["open"]["total"] == overview.dead_letters.open == 5
    assert data["open"]["by_entity"] == {"bills": 1, "contacts": 1, "invoices": 1, "items": 2}
    async with pool.acquire() as connection:
        for error_class, count in data["open"]["by_error_class"].items():
            found = await dead_letters.list_letters(
                connection, DeadLetterFilter(status="open", error_class=error_class), limit=1000
            )
            assert count == len(found) > 0
    assert sum(data["open"]["by_error_class"].values()) == 5
    oldest = data["open"]["oldest"]
    assert oldest["id"] == ids["bills_old"]
    assert oldest["age_seconds"] == overview.dead_letters.oldest_age_seconds == 12 * 86400
    assert oldest["link"] == f"https://tds.example.com/dead-letters/{ids['bills_old']}"

    # the top errors, each with as many letters as the Dead letters page's error filter finds
    top = data["top_errors"]
    assert [(t["letters"], t["entities"]) for t in top] == [
        (2, ["items"]),
        (2, ["bills", "invoices"]),
        (1, ["contacts"]),
    ]
    assert top[0]["error"] == "RaiseError [P0001]: ERP trigger refuses the product"
    assert top[0]["example_id"] == ids["poison"]
    async with pool.acquire() as connection:
        for error in top:
            found = await dead_letters.list_letters(
                connection, DeadLetterFilter(status="open", error=error["error"][:200]), limit=1000
            )
            assert len(found) == error["letters"]
            assert min(f["id"] for f in found) == error["example_id"]
    assert data["link"] == "https://tds.example.com/dead-letters"

    # delivered through every channel, the figures in each
    sent = await runner.run_once(now=now)
    assert (sent.sent, sent.failed, sent.notify_seconds) == (4, 0, [])
    got = reporting
    mail = got.mailbox.taken()
    assert [m["to"] for m in mail] == [["ops@example.com"]]
    assert one_line(mail[0]["subject"]) == report["subject"]
    assert report["subject"].startswith("[TDS] Weekly dead-letter digest")
    assert mail_text(mail[0]) == report["text_body"] + "\n"
    assert "Added:     6 (still open: 4)" in report["text_body"]
    assert "Open now:  5" in report["text_body"]
    assert "https://tds.example.com/dead-letters" in report["text_body"]
    assert got.slack[0]["json"]["text"] == report["chat_body"]
    assert "*TDS weekly dead-letter digest*" in report["chat_body"]
    assert "open now *5*" in report["chat_body"]
    assert got.telegram[0]["json"]["text"] == report["chat_body"]
    assert got.telegram[0]["json"]["chat_id"] == "-100"
    hook = got.hooks[0]
    assert hook["headers"]["Authorization"] == HOOK_SECRET
    assert hook["json"]["event"] == "report"
    assert hook["json"]["report"]["data"] == data
    assert hook["json"]["report"]["id"] == result.report_id

    # the same period again (a second run, a restarted scheduler): nothing new is sent
    again = await digests(pool).run_once(ReportKind.DLQ_DIGEST, now=now + timedelta(hours=2))
    assert (again.created, again.existing, again.deliveries, again.report_id) == (0, 1, 0, result.report_id)
    assert not await runner.run_once(now=now + timedelta(hours=2))
    assert got.total() == 4

    # an operator resends it: the stored text again, and the action is on record
    resent = await service.resend(result.report_id, OPERATOR, now=now + timedelta(hours=3))
    assert resent.deliveries == 4
    assert (await runner.run_once(now=now + timedelta(hours=3))).sent == 4
    assert [one_line(m["subject"]) for m in got.mailbox.taken()] == [report["subject"]] * 2
    assert got.slack[1]["json"]["text"] == report["chat_body"]
    actions = await pool.fetch(
        "SELECT actor, action, target FROM tds_operator_actions WHERE action LIKE 'report.%'"
    )
    assert [tuple(a) for a in actions] == [("olga", "report.resend", str(result.report_id))]
    async with pool.acquire() as connection:
        listed = await list_reports(connection)
    assert [(r["id"], r["kind"], r["deliveries"], r["sent"], r["failed"]) for r in listed] == [
        (result.report_id, "dlq_digest", 8, 8, 0)
    ]


async def test_two_schedulers_make_and_send_one_report_per_period(
    pool: Any, database_url: str, reporting: Receivers, runner: DeliveryRunner
) -> None:
    await dead_letter(pool, "items", datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    first, second = digests(pool), digests(pool)
    schedulers = [
        Scheduler(
            database_url,
            [Job("dlq_digest", "0 8 * * 1", lambda d=d: d.run_once(ReportKind.DLQ_DIGEST, now=T))],
        )
        for d in (first, second)
    ]
    for scheduler in schedulers:
        for job in scheduler.jobs:
            job.schedule(T - timedelta(minutes=1))
            assert job.next_at == T
    started = await asyncio.gather(*(s.run_due(T) for s in schedulers))
    assert started == [["dlq_digest"], ["dlq_digest"]]
    assert [job.failures for s in schedulers for job in s.jobs] == [0, 0]
    reports = await pool.fetch("SELECT id, kind, period_start FROM tds_reports")
    assert len(reports) == 1 and reports[0]["period_start"] == datetime(2026, 2, 23, tzinfo=UTC)
    assert await pool.fetchval("SELECT count(*) FROM tds_alert_deliveries") == 4
    # both race through run_once itself too: the unique period lets one in
    results = await asyncio.gather(
        *(
            d.run_once(ReportKind.DLQ_DIGEST, now=T + timedelta(days=7))
            for d in (first, second, digests(pool))
        )
    )
    assert sorted(r.created for r in results) == [0, 0, 1]
    assert await pool.fetchval("SELECT count(*) FROM tds_reports") == 2
    assert (await runner.run_once(now=T + timedelta(days=7))).sent == 8
    assert reporting.total() == 8


async def test_a_failing_channel_is_retried_and_recorded_like_an_alert(
    pool: Any, reporting: Receivers, runner: DeliveryRunner
) -> None:
    got = reporting
    got.fail["slack"] = [(500, "internal_error")]
    got.fail["telegram"] = [
        (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    ]
    await dead_letter(pool, "items", T - timedelta(days=1))
    made = await digests(pool).run_once(ReportKind.DLQ_DIGEST, now=T)
    first = await runner.run_once(now=T)
    assert (first.sent, first.retrying, first.failed) == (2, 1, 1)
    async with pool.acquire() as connection:
        by_channel = {d["channel"]: d for d in (await get_report(connection, made.report_id))["deliveries"]}
    slack, telegram = by_channel["slack"], by_channel["telegram"]
    assert (slack["status"], slack["attempts"], slack["last_error"]) == (
        "pending",
        1,
        "Slack answered 500: internal_error",
    )
    assert T < slack["next_attempt_at"] <= T + timedelta(seconds=5)
    assert (telegram["status"], telegram["last_error"]) == (
        "failed",
        "Telegram 400: Bad Request: chat not found",
    )
    later = await runner.run_once(now=T + timedelta(minutes=1))
    assert later.sent == 1
    async with pool.acquire() as connection:
        slack = {d["channel"]: d for d in (await get_report(connection, made.report_id))["deliveries"]}[
            "slack"
        ]
    assert (slack["status"], slack["attempts"], slack["sent_at"]) == ("sent", 2, T + timedelta(minutes=1))
    assert got.slack[0]["json"] == got.slack[1]["json"]
    stored = json.dumps(
        [dict(r) for r in await pool.fetch("SELECT * FROM tds_alert_deliveries")], default=str
    )
    assert BOT_TOKEN not in stored and "slack-url-secret" not in stored and "hook-header-secret" not in stored


async def test_report_channels_choose_the_receivers(
    pool: Any, reporting: Receivers, runner: DeliveryRunner
) -> None:
    await configure(pool, reports__channels=["mail", "hook"])
    made = await digests(pool).run_once(ReportKind.DLQ_DIGEST, now=T)
    assert (made.deliveries, made.channels) == (2, ["mail", "hook"])
    assert (await runner.run_once(now=T)).sent == 2
    assert (len(reporting.mailbox.taken()), len(reporting.hooks), len(reporting.slack)) == (1, 1, 0)
    async with pool.acquire() as connection:
        report = await get_report(connection, made.report_id)
    # a quiet week says so plainly
    assert (report["data"]["added"], report["data"]["open"]["total"], report["data"]["open"]["oldest"]) == (
        0,
        0,
        None,
    )
    assert "Open now:  0" in report["text_body"] and "Most frequent" not in report["text_body"]
    # nobody to tell: the report is still recorded, once
    await configure(pool, reports__channels=[])
    quiet = await digests(pool).run_once(ReportKind.DLQ_DIGEST, now=T + timedelta(days=7))
    assert (quiet.created, quiet.deliveries) == (1, 0)
    # a channel the reports name cannot be removed from alerts.channels
    async with pool.acquire() as connection:
        await configure(pool, reports__channels=["slack"])
        from tds_core.config.runtime import load

        assert (await load(connection)).reports__channels == ["slack"]


# ---------------------------------------------------------------------------- monthly summary
MARCH_1 = datetime(2030, 3, 1, 8, 0, tzinfo=UTC)
FEB = [datetime(2030, 2, day, 10, 0, tzinfo=UTC) for day in (1, 9, 14, 28)]


async def seed_month(pool: Any) -> Histogram:
    """February 2030 (and a little of January and March around it); returns the latencies'
    histogram as the dashboard's estimator builds it."""
    latency = Histogram()
    for number, day in enumerate(FEB):
        for second in range(10):
            await receive(pool, "items", day + timedelta(seconds=second))
            ms = 40.0 + 10 * second + 100 * number
            await log(pool, "items", "completed", day + timedelta(seconds=30 + second), ms)
            latency.add(bucket_index(ms), 1, ms)
        await receive(pool, "contacts", day, status="rejected")
        await log(pool, "contacts", "skipped_unchanged", day + timedelta(minutes=5), 30.0)
        latency.add(bucket_index(30.0), 1, 30.0)
        await log(pool, "contacts", "retry", day + timedelta(minutes=6))
    await dead_letter(pool, "invoices", FEB[1] + timedelta(hours=1))
    # the busiest minute: 25 applied on Feb 14 at 15:07
    for second in range(25):
        await log(pool, "invoices", "completed", datetime(2030, 2, 14, 15, 7, second, tzinfo=UTC), 80.0)
        latency.add(bucket_index(80.0), 1, 80.0)
    # outside February
    await log(pool, "items", "completed", datetime(2030, 1, 31, 23, 59, tzinfo=UTC), 10.0)
    await log(pool, "items", "completed", datetime(2030, 3, 1, 0, 0, tzinfo=UTC), 10.0)
    await dead_letter(pool, "items", datetime(2030, 3, 1, 1, 0, tzinfo=UTC))
    # Zoho calls: 120 on Feb 9, 300 on Feb 14, 50 in January
    for when, calls in (
        (datetime(2030, 2, 9, 3, 0, tzinfo=UTC), 120),
        (datetime(2030, 2, 14, 3, 0, tzinfo=UTC), 200),
        (datetime(2030, 2, 14, 4, 0, tzinfo=UTC), 100),
        (datetime(2030, 1, 20, 3, 0, tzinfo=UTC), 50),
    ):
        await pool.execute(
            "INSERT INTO tds_api_usage (organization_id, second, calls) VALUES ('org-1', $1, $2)", when, calls
        )
    runs = (
        "INSERT INTO tds_sync_runs (entity, kind, status, started_at, finished_at, drift)"
        " VALUES ($1, 'reconcile', $2, $3::timestamptz, $3::timestamptz + interval '5 minutes', $4)"
    )
    await pool.execute(runs, "items", "succeeded", datetime(2030, 2, 2, 2, 0, tzinfo=UTC), 0)
    await pool.execute(runs, "items", "succeeded", datetime(2030, 2, 3, 2, 0, tzinfo=UTC), 3)
    await pool.execute(runs, "invoices", "failed", datetime(2030, 2, 4, 2, 0, tzinfo=UTC), None)
    await pool.execute(runs, "items", "succeeded", datetime(2030, 1, 30, 2, 0, tzinfo=UTC), 9)
    # the alert engine, on its own pinned clock, opens a dlq_age alert in February
    await configure(pool, alerts__db_connections_percent=100, alerts__dlq_max_age_hours=24)
    engine = AlertEngine(pool, daily_quota=1000, organization_id=None, host_probe=calm_host)
    opened = await engine.run_once(now=FEB[1] + timedelta(days=2))
    assert opened.opened >= 1
    return latency


async def test_the_monthly_summary_matches_the_performance_page(
    pool: Any, reporting: Receivers, runner: DeliveryRunner
) -> None:
    latency = await seed_month(pool)
    rolled = await MetricsRollup(pool, RollupConfig(step_minutes=24 * 60, max_steps=60)).run_once(MARCH_1)
    assert rolled.caught_up
    made = await digests(pool).run_once(ReportKind.PERFORMANCE, now=MARCH_1)
    assert (made.created, made.deliveries, made.period_start) == (1, 4, datetime(2030, 2, 1, tzinfo=UTC))
    async with pool.acquire() as connection:
        report = await get_report(connection, made.report_id)
    data = report["data"]
    since, until = datetime(2030, 2, 1, tzinfo=UTC), datetime(2030, 3, 1, tzinfo=UTC)

    # the counts are the Performance page's series added up over the month
    async def month_total(name: str, entity: str | None = None) -> float:
        history = await stats.history(pool, name, since=since, until=until, entity=entity, step_seconds=86400)
        return sum(p.value or 0.0 for p in history.points)

    events = data["events"]
    assert events == {
        "received": await month_total("events_received"),
        "rejected": await month_total("events_rejected"),
        "accepted": await month_total("events_received") - await month_total("events_rejected"),
        "applied": await month_total("events_applied"),
        "skipped": await month_total("events_skipped"),
        "retried": await month_total("events_retried"),
        "failed": await month_total("events_dead_lettered"),
    }
    assert events == {
        "received": 44,
        "rejected": 4,
        "accepted": 40,
        "applied": 65,
        "skipped": 4,
        "retried": 4,
        "failed": 1,
    }
    assert data["dead_letters_added"] == 1
    assert data["success_rate"] == pytest.approx(69 / 70)
    assert (data["success_slo"], data["success_met"]) == (0.995, False)
    # latency percentiles: the dashboard's bucket estimator over the month's samples
    assert data["latency"]["samples"] == latency.count == 69
    for key, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
        assert data["latency"][key] == pytest.approx(latency.quantile(q))
    assert data["latency"]["p95_met"] is (latency.quantile(0.95) <= 100.0)
    # the busiest minute, which the page's history shows as the day's peak
    assert data["throughput"]["busiest_minute"] == "2030-02-14T15:07:00+00:00"
    assert data["throughput"]["busiest_minute_events"] == 25
    busiest_day = datetime(2030, 2, 14, tzinfo=UTC)
    minutes = await stats.history(
        pool, "events_applied", since=busiest_day, until=busiest_day + timedelta(days=1), step_seconds=60
    )
    assert max(p.value or 0 for p in minutes.points) == 25
    assert data["throughput"]["average_per_second"] == pytest.approx(70 / (28 * 86400))
    # Zoho: the month's calls and the busiest (UTC) day against the daily quota
    assert data["zoho"] == {
        "calls": await month_total("zoho_calls"),
        "busiest_day": "2030-02-14",
        "busiest_day_calls": 300,
        "daily_quota": 1000,
        "busiest_day_quota_share": 0.3,
    }
    assert data["zoho"]["calls"] == 420
    assert data["reconciliation"]["runs"] == 3
    assert (data["reconciliation"]["with_drift"], data["reconciliation"]["drift"]) == (1, 3)
    assert (data["reconciliation"]["succeeded"], data["reconciliation"]["failed"]) == (2, 1)
    alerts = await pool.fetch(
        "SELECT rule FROM tds_alerts WHERE first_seen_at >= $1 AND first_seen_at < $2", since, until
    )
    assert data["alerts_opened"]["total"] == len(alerts) >= 1
    assert {a["rule"] for a in data["alerts_opened"]["by_rule"]} == {a["rule"] for a in alerts}
    assert data["coverage"]["read_live_before"] is None
    assert data["link"] == "https://tds.example.com/performance"

    # delivered
    # (only the report's deliveries: the alerts opened in February wait for their own run)
    assert (await runner.run_once(now=MARCH_1, report_id=made.report_id)).sent == 4
    mail = reporting.mailbox.taken()[0]
    assert one_line(mail["subject"]) == report["subject"]
    assert report["subject"].startswith("[TDS] Monthly performance February 2030: success 98.57%")
    assert mail_text(mail) == report["text_body"] + "\n"
    assert "against the 99.5% SLO: MISSED" in report["text_body"]
    assert (
        "Zoho API calls 420; busiest day (UTC) 2030-02-14 with 300 of 1,000 (30.0% of the daily quota)"
        in report["text_body"]
    )
    assert reporting.slack[0]["json"]["text"] == report["chat_body"]
    assert reporting.hooks[0]["json"]["report"]["data"] == data
    assert (
        await digests(pool).run_once(ReportKind.PERFORMANCE, now=MARCH_1 + timedelta(days=1))
    ).existing == 1

    # weeks later, past the 30-day per-minute retention: the same month from the sync logs
    later = datetime(2030, 3, 12, 8, 0, tzinfo=UTC)
    await retention.run_once(pool, now=later)
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM tds_metrics WHERE bucket_start < $1", later - timedelta(days=30)
        )
        == 0
    )
    again = await digests(pool).build(
        ReportKind.PERFORMANCE, parse_period(ReportKind.PERFORMANCE, "2030-02", UTC_ZONE), now=later
    )
    assert again.data["coverage"]["read_live_before"] == "2030-02-10T08:00:00+00:00"
    assert again.data["events"]["applied"] == events["applied"]
    assert again.data["events"]["failed"] == events["failed"]
    assert again.data["latency"] == data["latency"]
    assert "per-minute metrics are kept 30 days" in again.text


# ---------------------------------------------------------------------------- the command line
def test_the_command_line_prints_sends_once_lists_and_resends(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    for name, value in {
        "TDS_DATABASE_URL": database_url,
        "TDS_LOG_LEVEL": "WARNING",
        "TDS_HOME": str(tmp_path),
        "TDS_OPERATOR": "ops-lead",
    }.items():
        monkeypatch.setenv(name, value)
    mail = {
        "type": "email",
        "name": "mail",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": "none",
        "sender": "tds@example.com",
        "to": ["ops@example.com"],
    }

    async def seed() -> None:
        connection = await connect(database_url)
        try:
            await connection.fetch(QUERIES.configuration_set, "alerts.channels", [mail], "tests", None)
            await connection.execute(
                "INSERT INTO tds_dead_letter_queue (queue_id, entity, zoho_id, operation, source_version,"
                " payload, error, error_class, attempts, created_at)"
                " VALUES (0, 'items', 'Z1', 'upsert', $1, '{}', 'boom', 'permanent', 8, $1)",
                datetime(2026, 2, 25, 12, 0, tzinfo=UTC),
            )
        finally:
            await connection.close()

    asyncio.run(seed())
    cli = CliRunner()

    def tds(*args: str, code: int = 0) -> Any:
        result = cli.invoke(app, ["reports", *args])
        assert result.exit_code == code, result.output
        return result

    try:
        shown = json.loads(tds("dlq-digest", "--period", "2026-W09", "--json").output)
        assert shown["data"]["added"] == 1 and shown["data"]["period"]["start"] == "2026-02-23T00:00:00+00:00"
        assert "Added:     1" in tds("dlq-digest", "--period", "2026-W09").output
        assert mailbox.taken() == []  # printing sends nothing

        sent = json.loads(tds("dlq-digest", "--period", "2026-W09", "--send", "--json").output)
        assert sent["created"] is True
        assert [(d["channel"], d["status"]) for d in sent["deliveries"]] == [("mail", "sent")]
        assert [one_line(m["subject"]) for m in mailbox.taken()] == [sent["subject"]]
        again = tds("dlq-digest", "--period", "2026-W09", "--send")
        assert "already made; not sent again" in again.output and len(mailbox.taken()) == 1

        listed = json.loads(tds("list", "--json").output)
        assert [(r["id"], r["kind"], r["created_by"], r["sent"]) for r in listed] == [
            (sent["report_id"], "dlq_digest", "ops-lead", 1)
        ]
        assert "mail (email): sent" in tds("show", str(sent["report_id"])).output
        assert "queued again" in tds("resend", str(sent["report_id"])).output
        assert len(mailbox.taken()) == 2

        performance = json.loads(tds("performance", "--period", "2026-02", "--json").output)
        assert performance["data"]["period"]["label"] == "February 2026"
        assert "is not a month" in tds("performance", "--period", "2026-W09", code=2).output
        assert "no report 999" in tds("show", "999", code=1).output
        assert "no report 999" in tds("resend", "999", code=1).output
    finally:
        controller.stop()
        structlog.reset_defaults()
