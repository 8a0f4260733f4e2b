"""Stats over a window (exact on a pinned clock, with or without the roll-up), the roll-up itself
(idempotent, catches up in bounded steps), and the history and stats endpoints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tds_core.observability import stats
from tds_core.observability.rollup import MetricsRollup, RollupConfig
from tests.integration import samples
from tests.integration.conftest import Send

NOW = datetime(2030, 3, 2, 12, 0, 30, tzinfo=UTC)
Headers = Callable[..., Awaitable[dict[str, str]]]


def at(hh_mm_ss: str) -> datetime:
    hour, minute, second = (int(part) for part in hh_mm_ss.split(":"))
    return NOW.replace(hour=hour, minute=minute, second=second)


async def log(pool: Any, entity: str, outcome: str, when: datetime, latency: float | None = None) -> None:
    await pool.execute(
        "INSERT INTO tds_sync_logs (entity, outcome, latency_ms, duration_ms, created_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        entity,
        outcome,
        latency,
        None if latency is None else 5.0,
        when,
    )


async def receive(
    pool: Any, entity: str, when: datetime, status: str = "queued", source: str = "webhook"
) -> None:
    await pool.execute(
        "INSERT INTO tds_inbox_events (entity, source, status, body, received_at)"
        " VALUES ($1, $2, $3, '\\x00', $4)",
        entity,
        source,
        status,
        when,
    )


async def dead_letter(pool: Any, entity: str, when: datetime) -> None:
    await pool.execute(
        "INSERT INTO tds_dead_letter_queue (queue_id, entity, zoho_id, operation, source_version, payload,"
        " error, error_class, attempts, created_at)"
        " VALUES (1, $1, 'X', 'upsert', $2, '{}', 'boom', 'permanent', 8, $2)",
        entity,
        when,
    )


async def seed(pool: Any) -> None:
    """A known hour. The 5-minute window ending at NOW is [11:55:30, 12:00:30)."""
    # items, inside the window: 10 received by webhook (one at the very start) and 1 rejected
    for second in range(10):
        await receive(pool, "items", at("11:55:30") if second == 0 else at(f"11:58:{second:02d}"))
    await receive(pool, "items", at("11:59:10"), status="rejected")
    # 8 applied and 2 skipped, all with a latency of 110 ms; one of them in the window's first,
    # partial minute, next to one just before the window
    for second in range(7):
        await log(pool, "items", "completed", at(f"11:58:{30 + second:02d}"), 110.0)
    await log(pool, "items", "completed", at("11:55:40"), 110.0)
    await log(pool, "items", "skipped_unchanged", at("11:59:00"), 110.0)
    await log(pool, "items", "skipped_stale", at("11:59:01"), 110.0)
    for second in range(3):
        await log(pool, "items", "retry", at(f"11:57:{second:02d}"))
    await dead_letter(pool, "items", at("11:57:00"))
    # invoices: 4 applied, slow
    for second in range(4):
        await log(pool, "invoices", "completed", at(f"11:59:{50 + second:02d}"), 2400.0)
    # outside the window: just before it, at its end, and earlier in the hour
    await log(pool, "items", "completed", at("11:55:20"), 110.0)
    await receive(pool, "items", at("11:55:29"))
    await log(pool, "items", "completed", at("12:00:30"), 110.0)
    await log(pool, "items", "completed", at("11:10:00"), 5000.0)
    await receive(pool, "contacts", at("11:05:00"), source="pull")


def check_five_minutes(window: stats.WindowStats) -> None:
    items = next(e for e in window.entities if e.entity == "items")
    assert (items.received, items.rejected, items.applied, items.skipped, items.retried, items.failed) == (
        11,
        1,
        8,
        2,
        3,
        1,
    )
    assert items.success_rate == pytest.approx(10 / 11)
    assert items.throughput_per_second == pytest.approx(11 / 300)
    assert items.latency.samples == 10
    # all ten in the (100, 120] ms bucket: interpolated inside it
    assert items.latency.p50_ms == pytest.approx(110.0)
    assert items.latency.p95_ms == pytest.approx(119.0)
    assert items.latency.p99_ms == pytest.approx(119.8)
    invoices = next(e for e in window.entities if e.entity == "invoices")
    assert (invoices.applied, invoices.latency.samples) == (4, 4)
    assert invoices.success_rate == 1.0
    contacts = next(e for e in window.entities if e.entity == "contacts")
    assert (contacts.received, contacts.success_rate, contacts.latency.p50_ms) == (0, None, None)
    total = window.total
    assert (total.entity, total.received, total.applied, total.skipped, total.failed) == ("all", 11, 12, 2, 1)
    assert total.latency.samples == 14
    # 10 at 110 ms and 4 at 2400 ms: the median in (100, 120], p95 and p99 in (2000, 2500]
    assert total.latency.p50_ms == pytest.approx(100 + 20 * 7 / 10)
    assert total.latency.p95_ms == pytest.approx(2000 + 500 * (0.95 * 14 - 10) / 4)
    assert total.latency.p99_ms == pytest.approx(2000 + 500 * (0.99 * 14 - 10) / 4)
    assert (window.since, window.until, window.seconds) == (NOW - timedelta(minutes=5), NOW, 300.0)


async def test_window_numbers_are_exact_with_and_without_the_rollup(pool: Any) -> None:
    await seed(pool)
    before = await stats.window_stats(pool, "5m", now=NOW)
    assert before.rolled_through is None
    check_five_minutes(before)

    hour = await stats.window_stats(pool, "1h", now=NOW)
    items = next(e for e in hour.entities if e.entity == "items")
    assert (items.received, items.applied, items.latency.samples) == (12, 10, 12)
    assert next(e for e in hour.entities if e.entity == "contacts").received == 1

    result = await MetricsRollup(pool).run_once(NOW)
    assert result.caught_up
    assert result.rolled_through == at("11:59:00")  # the minute that ended a settle time ago
    after = await stats.window_stats(pool, "5m", now=NOW)
    assert after.rolled_through == at("11:59:00")
    check_five_minutes(after)
    assert after.model_dump(exclude={"rolled_through"}) == before.model_dump(exclude={"rolled_through"})
    rolled_hour = await stats.window_stats(pool, "1h", now=NOW)
    assert rolled_hour.model_dump(exclude={"rolled_through"}) == hour.model_dump(exclude={"rolled_through"})

    with pytest.raises(stats.InvalidRequest, match="window must be one of 5m, 1h, 24h"):
        await stats.window_stats(pool, "7m", now=NOW)


async def metric_rows(pool: Any) -> list[tuple[Any, ...]]:
    rows = await pool.fetch(
        "SELECT name, labels::text, bucket_start, value FROM tds_metrics"
        " ORDER BY name, labels::text, bucket_start"
    )
    return [tuple(r) for r in rows]


async def test_rollup_writes_minutes_once(pool: Any) -> None:
    await seed(pool)
    first = await MetricsRollup(pool).run_once(NOW)
    assert first.steps == 1 and first.minutes == 54  # from 11:05 (the oldest row) to 11:59
    minutes = await metric_rows(pool)
    totals = await pool.fetch("SELECT name, labels, value, counts FROM tds_metric_totals ORDER BY 1, 2::text")

    again = await MetricsRollup(pool).run_once(NOW)
    assert (again.steps, again.caught_up) == (0, True)
    assert await metric_rows(pool) == minutes
    assert (
        await pool.fetch("SELECT name, labels, value, counts FROM tds_metric_totals ORDER BY 1, 2::text")
        == totals
    )

    def series(name: str, labels: str) -> dict[str, float]:
        return {row[2].strftime("%H:%M"): row[3] for row in minutes if row[0] == name and row[1] == labels}

    assert series("events_applied", '{"entity": "items"}') == {"11:10": 1, "11:55": 2, "11:58": 7}
    assert series("events_retried", '{"entity": "items"}') == {"11:57": 3}
    assert series("events_dead_lettered", '{"entity": "items"}') == {"11:57": 1}
    assert series("events_received", '{"entity": "contacts"}') == {"11:05": 1}
    assert series("latency_p50_ms", '{"entity": "items"}')["11:58"] == pytest.approx(110.0)
    assert series("latency_p50_ms", "{}")["11:10"] == pytest.approx(4000 + 1000 * 0.5)
    assert "11:59" not in series("events_applied", '{"entity": "invoices"}')  # not settled yet
    # the gauges are sampled into the current minute
    assert series("queue_pending", "{}") == {"12:00": 0.0}
    histograms = await pool.fetchval("SELECT count(*) FROM tds_metric_histograms WHERE name = 'latency'")
    assert histograms == 3  # items at 11:10, 11:55, 11:58

    later = await MetricsRollup(pool).run_once(NOW + timedelta(minutes=2))
    assert later.steps == 1 and later.minutes == 2
    assert series("events_applied", '{"entity": "invoices"}') == {}
    assert {
        row[2].strftime("%H:%M"): row[3]
        for row in await metric_rows(pool)
        if row[0] == "events_applied" and row[1] == '{"entity": "invoices"}'
    } == {"11:59": 4}


async def test_rollup_catches_up_in_bounded_steps(pool: Any) -> None:
    await seed(pool)
    rollup = MetricsRollup(pool, RollupConfig(step_minutes=10, max_steps=2))
    runs = []
    while True:
        result = await rollup.run_once(NOW)
        runs.append(
            (result.steps, result.rolled_through.strftime("%H:%M") if result.rolled_through else None)
        )
        if result.caught_up:
            break
    assert runs == [(2, "11:25"), (2, "11:45"), (2, "11:59"), (0, "11:59")]
    check_five_minutes(await stats.window_stats(pool, "5m", now=NOW))


async def test_minutes_older_than_the_retention_go_to_the_totals_only(pool: Any) -> None:
    start = NOW.replace(second=0) - timedelta(days=5)  # the roll-up stopped five days ago
    await log(pool, "bills", "completed", NOW - timedelta(days=3), 50.0)
    await pool.execute("UPDATE tds_metric_rollup SET rolled_through = $1", start)
    rollup = MetricsRollup(pool, RollupConfig(retention_days=1, max_steps=100))
    result = await rollup.run_once(NOW)
    assert result.caught_up
    assert result.steps == 4 + 24  # a day per step up to the retention, then an hour per step
    assert result.minutes == 24 * 60 - 1  # 11:59 yesterday to 11:59 today
    retained = NOW.replace(second=0) - timedelta(days=1)
    assert await pool.fetchval("SELECT count(*) FROM tds_metrics WHERE bucket_start < $1", retained) == 0
    assert await pool.fetchval("SELECT count(*) FROM tds_metric_histograms") == 0
    totals = await pool.fetch("SELECT labels, value, counts FROM tds_metric_totals ORDER BY name")
    assert [(r["labels"]["entity"], r["value"], sum(r["counts"] or [0])) for r in totals] == [
        ("bills", 5.0, 1),  # apply_duration: one observation of 5 ms (see log())
        ("bills", 50.0, 1),  # latency: one observation of 50 ms
        ("bills", 1.0, 0),  # the sync outcome
    ]


async def test_old_histograms_are_deleted(pool: Any) -> None:
    await pool.execute(
        "INSERT INTO tds_metric_histograms (name, entity, bucket_start, counts, total) VALUES"
        " ('latency', 'items', $1, '{1}', 1), ('latency', 'items', $2, '{1}', 1)",
        NOW - timedelta(days=31),
        NOW - timedelta(days=29),
    )
    await pool.execute("UPDATE tds_metric_rollup SET rolled_through = $1", NOW)
    result = await MetricsRollup(pool).run_once(NOW)
    assert result.histograms_deleted == 1
    assert await pool.fetchval("SELECT count(*) FROM tds_metric_histograms") == 1


async def test_history_endpoint(pool: Any, client: httpx.AsyncClient, auth_headers: Headers) -> None:
    await seed(pool)
    await MetricsRollup(pool).run_once(NOW)
    headers = await auth_headers("viewer")
    params = {
        "name": "events_applied",
        "from": "2030-03-02T11:55:00Z",
        "to": "2030-03-02T12:00:00Z",
        "step": "60",
    }

    response = await client.get(
        "/api/v1/stats/history", params={**params, "entity": "items"}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["kind"], body["aggregate"], body["step_seconds"], body["entity"]) == (
        "count",
        "sum",
        60,
        "items",
    )
    assert [p["value"] for p in body["points"]] == [2, 0, 0, 7, 0]
    assert body["points"][0]["at"].startswith("2030-03-02T11:55:00")

    everything = await client.get("/api/v1/stats/history", params={**params, "step": "300"}, headers=headers)
    assert [p["value"] for p in everything.json()["points"]] == [9]  # invoices' 11:59 is not rolled up yet

    p95 = await client.get(
        "/api/v1/stats/history", params={**params, "name": "latency_p95_ms"}, headers=headers
    )
    values = [p["value"] for p in p95.json()["points"]]
    assert values[1] is None and values[3] == pytest.approx(119.0)  # no minute: null, not zero

    names = await client.get("/api/v1/stats/names", headers=headers)
    assert {"events_applied", "latency_p99_ms", "queue_pending", "zoho_calls"} <= {
        n["name"] for n in names.json()
    }

    assert (await client.get("/api/v1/stats/history", params=params)).status_code == 401


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"name": "nope"}, "unknown series 'nope'"),
        ({"name": "queue_pending", "entity": "items"}, "not kept per entity"),
        ({"name": "events_applied", "entity": "widgets"}, "entity"),
        ({"name": "events_applied", "from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"}, "before"),
        ({"name": "events_applied", "from": "2030-01-01T00:00:00Z", "to": "2030-03-01T00:00:00Z"}, "31 days"),
        ({"name": "events_applied", "step": "90"}, "multiple of 60"),
        ({"name": "events_applied", "step": "30"}, "step"),
        (
            {
                "name": "events_applied",
                "from": "2030-01-01T00:00:00Z",
                "to": "2030-01-03T00:00:00Z",
                "step": "60",
            },
            "points",
        ),
        ({"name": "events_applied", "to": "0001-01-01T00:10:00Z"}, "too early"),
        ({"name": "events_applied", "from": "9999-12-31T23:00:00-05:00"}, "out of range"),
    ],
)
async def test_history_refuses_bad_requests(
    client: httpx.AsyncClient, auth_headers: Headers, params: dict[str, str], reason: str
) -> None:
    response = await client.get("/api/v1/stats/history", params=params, headers=await auth_headers("viewer"))
    assert response.status_code == 422, response.text
    body = response.json()
    assert reason in " ".join([body["error"], *body["reasons"]])


async def test_history_checks_the_step_for_python_callers_too(pool: Any) -> None:
    with pytest.raises(stats.InvalidRequest, match="whole number of minutes"):
        await stats.history(pool, "events_applied", step_seconds=90)
    default = await stats.history(pool, "events_applied", since=NOW - timedelta(days=1), until=NOW)
    assert default.step_seconds == 120 and len(default.points) == 720


async def test_stats_endpoint(
    client: httpx.AsyncClient, webhook: Send, drain: Any, auth_headers: Headers
) -> None:
    headers = await auth_headers("viewer")
    await webhook("invoices", {"invoice": samples.invoice()})
    await webhook("invoices", {"invoice": samples.invoice()})  # the same content: a duplicate
    await drain()
    response = await client.get("/api/v1/stats", params={"window": "1h"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    invoices = next(e for e in body["entities"] if e["entity"] == "invoices")
    assert (invoices["received"], invoices["applied"], invoices["latency"]["samples"]) == (1, 1, 1)
    assert invoices["latency"]["p50_ms"] > 0
    assert body["total"]["applied"] == 1
    assert body["queue"] == {"pending": 0, "ready": 0, "processing": 0, "oldest_ready_age_seconds": 0.0}
    assert body["dead_letters"] == {"open": 0, "oldest_age_seconds": None}
    assert body["workers"]["breakers"] == {"closed": 0, "open": 0, "half_open": 0}
    assert [z["daily_quota"] for z in body["zoho"]] == [10_000]  # the simulator's
    assert body["window"] == "1h" and body["seconds"] == 3600

    bad = await client.get("/api/v1/stats", params={"window": "7m"}, headers=headers)
    assert bad.status_code == 422
    assert "window" in " ".join(bad.json()["reasons"])
    assert (await client.get("/api/v1/stats")).status_code == 401
