"""``GET /metrics``: parses as Prometheus text, counters move as events flow and never go back
(not when the roll-up folds minutes, not when retention deletes rows), gauges show the state."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tds_core.observability import metrics
from tds_core.observability.counters import WebhookOutcomes, ZohoThrottles
from tds_core.observability.rollup import MetricsRollup
from tds_core.source.zoho.client import ZohoClient
from tds_core.source.zoho.rate_limit import PostgresRateLimiter
from tests.integration import samples
from tests.integration.conftest import Send
from tests.zoho_fakes import FakeClock, FakeZoho, envelope, make_config, zoho_error

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[Samples, dict[str, str]]:
    """Every sample by (name, labels), and every family's type."""
    values: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return values, types


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)[0]


async def collect(pool: Any, now: datetime | None = None, **options: Any) -> tuple[Samples, dict[str, str]]:
    return parse(metrics.exposition(await metrics.collect(pool, now=now, **options)).decode())


def cumulative(samples: Samples) -> Samples:
    """The counter and histogram samples (those that must never go down)."""
    return {
        key: v
        for key, v in samples.items()
        if key[0].endswith(("_total", "_bucket", "_count", "_sum")) and key[0].startswith("tds_")
    }


def item(number: int) -> dict[str, Any]:
    return {"item": samples.item(item_id=f"46000000000{number:04d}", name=f"Item {number}")}


async def test_scrape_parses_and_counters_move_as_events_flow(
    client: httpx.AsyncClient, webhook: Send, drain: Any
) -> None:
    before = await scrape(client)
    _, types = parse((await client.get("/metrics")).text)
    assert types["tds_webhooks"] == "counter"
    assert types["tds_event_latency_seconds"] == "histogram"
    assert types["tds_queue_depth"] == "gauge"

    for number in range(3):
        assert (await webhook("items", item(number))).status_code == 202
    assert (await webhook("items", {"hello": "world"})).status_code == 422
    queued = await scrape(client)

    def moved(after: Samples, name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved(queued, "tds_webhooks_total", entity="items", outcome="queued") == 3
    assert moved(queued, "tds_webhooks_total", entity="items", outcome="rejected") == 1
    assert moved(queued, "tds_events_received_total", entity="items", source="webhook") == 4
    assert value(queued, "tds_queue_depth", entity="items", state="pending") == 3
    assert value(queued, "tds_queue_ready", entity="items") == 3
    assert value(queued, "tds_queue_oldest_ready_age_seconds", entity="items") >= 0
    assert moved(queued, "tds_sync_outcomes_total", entity="items", outcome="completed") == 0

    await drain()
    drained = await scrape(client)
    assert moved(drained, "tds_sync_outcomes_total", entity="items", outcome="completed") == 3
    for histogram in ("tds_event_latency_seconds", "tds_apply_duration_seconds", "tds_claim_wait_seconds"):
        assert moved(drained, f"{histogram}_count", entity="items") == 3
        assert moved(drained, f"{histogram}_bucket", entity="items", le="+Inf") == 3
        assert moved(drained, f"{histogram}_sum", entity="items") > 0
    assert value(drained, "tds_queue_depth", entity="items", state="pending") == 0
    assert value(drained, "tds_queue_ready", entity="items") == 0
    assert moved(drained, "tds_webhooks_total", entity="items", outcome="queued") == 3
    assert moved(drained, "tds_sync_outcomes_total", entity="invoices", outcome="completed") == 0


async def test_histogram_buckets_are_cumulative_and_consistent(
    client: httpx.AsyncClient, webhook: Send, drain: Any
) -> None:
    for number in range(5):
        await webhook("items", item(number))
    await webhook("contacts", {"contact": samples.contact()})
    await drain()
    text = (await client.get("/metrics")).text
    checked = 0
    for family in text_string_to_metric_families(text):
        if family.type != "histogram":
            continue
        by_entity: dict[str, dict[str, float]] = {}
        for sample in family.samples:
            by_entity.setdefault(sample.labels["entity"], {})[
                sample.name.removeprefix(family.name) + sample.labels.get("le", "")
            ] = sample.value
        for entity, series in by_entity.items():
            buckets = sorted(
                ((float(k.removeprefix("_bucket")), v) for k, v in series.items() if k.startswith("_bucket")),
            )
            assert buckets[-1][0] == float("inf")
            counts = [v for _, v in buckets]
            assert counts == sorted(counts), f"{family.name}{{{entity}}} buckets are not cumulative"
            assert buckets[-1][1] == series["_count"]
            assert series["_sum"] >= 0
            checked += 1
        assert by_entity["items"]["_count"] == 5
        assert by_entity["contacts"]["_count"] == 1
    assert checked == 3 * 7


async def age_rows(pool: Any, age: timedelta) -> None:
    """Move every counted row back in time, as if the events had happened ``age`` ago."""
    await pool.execute("UPDATE tds_sync_logs SET created_at = created_at - $1::interval", age)
    await pool.execute("UPDATE tds_inbox_events SET received_at = received_at - $1::interval", age)
    await pool.execute("UPDATE tds_dead_letter_queue SET created_at = created_at - $1::interval", age)
    await pool.execute(
        "UPDATE tds_sync_queue SET finished_at = finished_at - $1::interval,"
        " claimed_at = claimed_at - $1::interval, enqueued_at = enqueued_at - $1::interval",
        age,
    )


async def test_counters_stay_put_when_minutes_are_rolled_up_and_rows_deleted(
    pool: Any, client: httpx.AsyncClient, webhook: Send, drain: Any
) -> None:
    for number in range(4):
        await webhook("items", item(number))
    await webhook("invoices", {"invoice": samples.invoice()})
    await webhook("invoices", {"bad": "body"})
    await drain()
    await age_rows(pool, timedelta(minutes=10))  # so that the roll-up, at the real time, folds them
    live = cumulative(await scrape(client))

    result = await MetricsRollup(pool).run_once()
    assert result.caught_up and result.steps >= 1
    rolled = cumulative(await scrape(client))
    assert rolled == pytest.approx(live)
    assert await pool.fetchval("SELECT count(*) FROM tds_metric_totals") > 0

    # retention deletes every finished row: the counters do not notice
    await pool.fetch("SELECT * FROM tds_retention_cleanup(now() + interval '400 days', 1, 1, 1, 1, 100000)")
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_logs") == 0
    assert await pool.fetchval("SELECT count(*) FROM tds_inbox_events") == 0
    assert cumulative(await scrape(client)) == pytest.approx(live)

    # and they move on from there
    await webhook("items", item(99))
    await drain()
    after = await scrape(client)
    assert value(after, "tds_sync_outcomes_total", entity="items", outcome="completed") == (
        value(live, "tds_sync_outcomes_total", entity="items", outcome="completed") + 1
    )
    assert value(after, "tds_event_latency_seconds_count", entity="items") == 5


NOW = datetime(2030, 3, 2, 12, 0, 30, tzinfo=UTC)


async def test_gauges_show_the_state(pool: Any) -> None:
    queue = """
        INSERT INTO tds_sync_queue (entity, zoho_id, operation, source_version, content_hash, payload, status,
                                    next_attempt_at, locked_by, locked_until)
        VALUES ($1, $2, 'upsert', $3, 'h', '{}', $4, $5, $6, $7)"""
    # items: two ready (waiting 30 s and 90 s), one in backoff, one leased; bills: one ready
    for zoho_id, at in (("A", NOW - timedelta(seconds=30)), ("B", NOW - timedelta(seconds=90))):
        await pool.execute(queue, "items", zoho_id, NOW, "pending", at, None, None)
    await pool.execute(queue, "items", "C", NOW, "pending", NOW + timedelta(minutes=5), None, None)
    await pool.execute(queue, "items", "D", NOW, "processing", NOW, "w1", NOW + timedelta(seconds=15))
    await pool.execute(queue, "bills", "E", NOW, "pending", NOW - timedelta(seconds=5), None, None)
    letter = """
        INSERT INTO tds_dead_letter_queue (queue_id, entity, zoho_id, operation, source_version, payload,
                                           error, error_class, attempts, status, created_at)
        VALUES (1, $1, 'X', 'upsert', $2, '{}', 'boom', 'permanent', 1, $3, $2)"""
    await pool.execute(letter, "invoices", NOW - timedelta(hours=2), "open")
    await pool.execute(letter, "invoices", NOW - timedelta(minutes=10), "open")
    await pool.execute(letter, "bills", NOW - timedelta(days=3), "discarded")
    worker = (
        "INSERT INTO tds_workers (worker_id, hostname, pid, heartbeat_at, circuit_state, stopped_at)"
        " VALUES ($1, 'h', 1, $2, $3, $4)"
    )
    await pool.execute(worker, "w1", NOW - timedelta(seconds=3), "closed", None)
    await pool.execute(worker, "w2", NOW - timedelta(seconds=5), "open", None)
    await pool.execute(worker, "w3", NOW - timedelta(minutes=5), "closed", None)  # silent: not alive
    await pool.execute(worker, "w4", NOW - timedelta(seconds=1), "closed", NOW)  # stopped
    run = """
        INSERT INTO tds_sync_runs (entity, kind, status, started_at, finished_at, drift)
        VALUES ($1, $2, $3, $4::timestamptz, $4::timestamptz + interval '10 seconds', $5)"""
    await pool.execute(run, "items", "incremental", "succeeded", NOW - timedelta(minutes=20), None)
    await pool.execute(run, "items", "incremental", "failed", NOW - timedelta(minutes=5), None)
    await pool.execute(run, "items", "reconcile", "succeeded", NOW - timedelta(hours=1), 4)
    usage = "INSERT INTO tds_api_usage (organization_id, second, calls) VALUES ('org', $1, $2)"
    await pool.execute(usage, NOW - timedelta(hours=1), 40)
    await pool.execute(usage, NOW - timedelta(minutes=1), 2)
    await pool.execute(usage, NOW - timedelta(days=1), 500)  # yesterday

    samples_, types = await collect(pool, NOW, daily_quotas={"org": 1000})
    assert value(samples_, "tds_queue_depth", entity="items", state="pending") == 3
    assert value(samples_, "tds_queue_depth", entity="items", state="processing") == 1
    assert value(samples_, "tds_queue_depth", entity="contacts", state="pending") == 0
    assert value(samples_, "tds_queue_ready", entity="items") == 2
    assert value(samples_, "tds_queue_oldest_ready_age_seconds", entity="items") == pytest.approx(90)
    assert value(samples_, "tds_queue_oldest_ready_age_seconds", entity="bills") == pytest.approx(5)
    assert value(samples_, "tds_queue_oldest_ready_age_seconds", entity="stock") == 0
    assert value(samples_, "tds_dlq_open", entity="invoices") == 2
    assert value(samples_, "tds_dlq_open", entity="bills") == 0
    assert value(samples_, "tds_dlq_oldest_age_seconds", entity="invoices") == pytest.approx(7200)
    assert value(samples_, "tds_workers_alive") == 2
    assert value(samples_, "tds_circuit_breakers", state="closed") == 1
    assert value(samples_, "tds_circuit_breakers", state="open") == 1
    assert value(samples_, "tds_circuit_breakers", state="half_open") == 0
    assert value(samples_, "tds_pull_lag_seconds", entity="items") == pytest.approx(20 * 60 - 10)
    assert ("tds_pull_lag_seconds", frozenset({("entity", "bills")})) not in samples_  # never pulled
    assert value(samples_, "tds_reconcile_drift", entity="items") == 4
    assert value(samples_, "tds_reconcile_age_seconds", entity="items") == pytest.approx(3600 - 10)
    assert value(samples_, "tds_zoho_calls_today", organization="org") == 42
    assert value(samples_, "tds_zoho_daily_quota", organization="org") == 1000
    assert value(samples_, "tds_zoho_quota_remaining", organization="org") == 958
    assert types["tds_queue_depth"] == types["tds_zoho_quota_remaining"] == "gauge"
    # Zoho calls and dead letters are counters too (the live rows: nothing rolled up yet)
    assert value(samples_, "tds_zoho_calls_total", organization="org") == 542
    assert value(samples_, "tds_dead_lettered_total", entity="invoices", error_class="permanent") == 2


async def test_webhook_answers_that_store_nothing_are_counted(pool: Any, client: httpx.AsyncClient) -> None:
    outcomes = WebhookOutcomes()
    outcomes.duplicate("items")
    outcomes.duplicate("items")
    outcomes.refused("items", 401)
    outcomes.refused("no-such-entity", 404)
    outcomes.refused("items", 418)
    assert outcomes.pending == 5
    assert await outcomes.flush(pool) == 5
    assert await outcomes.flush(pool) == 0
    outcomes.duplicate("items")
    assert await outcomes.flush(pool) == 1

    after = await scrape(client)
    assert value(after, "tds_webhooks_total", entity="items", outcome="duplicate") == 3
    assert value(after, "tds_webhooks_total", entity="items", outcome="unauthorized") == 1
    assert value(after, "tds_webhooks_total", entity="unknown", outcome="unknown_entity") == 1
    assert value(after, "tds_webhooks_total", entity="items", outcome="http_418") == 1


async def test_webhook_counts_survive_a_failed_flush(pool: Any) -> None:
    class Down:
        async def execute(self, *args: Any) -> None:
            raise ConnectionRefusedError("database down")

    outcomes = WebhookOutcomes()
    outcomes.duplicate("bills")
    with pytest.raises(Exception, match="database"):
        await outcomes.flush(Down())
    assert outcomes.pending == 1
    assert await outcomes.flush(pool) == 1


async def test_zoho_calls_and_429s_are_counted(pool: Any) -> None:
    clock = FakeClock()
    zoho = FakeZoho()
    config = make_config(backoff_base_seconds=0.001, backoff_cap_seconds=0.01)
    zoho.reply(zoho_error(429, 44, "too many requests"), envelope(invoice={"invoice_id": "1"}))
    limiter = PostgresRateLimiter.for_config(pool, config, clock=clock, sleep=clock.sleep)
    async with ZohoClient(
        config,
        limiter,
        transport=zoho.transport(),
        clock=clock,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        rng=random.Random(1),
        on_throttled=ZohoThrottles(pool, config.organization_id),
    ) as zoho_client:
        assert (await zoho_client.get("invoices", "1"))["invoice_id"] == "1"
    found, _ = await collect(pool)
    organization = config.organization_id
    assert value(found, "tds_zoho_throttled_total", organization=organization, reason="per_minute") == 1
    assert value(found, "tds_zoho_calls_total", organization=organization) == 2
