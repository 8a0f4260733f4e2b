"""Quota-aware pulls: a backfill larger than one day's budget stops at the reserve, ends
``paused`` without moving the cursor, resumes after the quota resets (the clock is pinned and
moved a day at a time, never slept), and ends with the ERP equal to the simulator and no record
fetched twice."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from tds_core.app import simulator_zoho_config
from tds_core.simulator.app import create_app
from tds_core.simulator.clock import ManualClock
from tds_core.simulator.config import SimulatorConfig
from tds_core.simulator.store import Store
from tds_core.simulator.truth import differences
from tds_core.source.pull import PullConfig, Puller
from tds_core.source.zoho.client import ZohoClient
from tds_core.source.zoho.rate_limit import PostgresRateLimiter

SIM = "http://zoho.sim"
ENTITIES = ("items", "contacts", "invoices", "bills", "creditnotes", "stock", "pricebooks")
START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


class Recorder(httpx.AsyncBaseTransport):
    """Passes requests to the simulator and remembers every API URL asked for."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.urls: list[httpx.URL] = []
        self.strip_quota_headers = False
        """Answer as a Zoho whose responses carry no ``x-rate-limit-*`` headers."""

    @property
    def paths(self) -> list[str]:
        return [url.path for url in self.urls]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "/oauth/" not in request.url.path:
            self.urls.append(request.url)
        response = await self.inner.handle_async_request(request)
        if self.strip_quota_headers:
            for name in ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"):
                response.headers.pop(name, None)
        return response


@dataclass
class Source:
    store: Store
    clock: ManualClock
    client: ZohoClient
    recorder: Recorder

    def fetched_by_id(self) -> Counter[str]:
        """GETs by id (``/books/v3/invoices/123``), counted per path."""
        return Counter(p for p in self.recorder.paths if p.rstrip("/").count("/") >= 4)


@contextlib.asynccontextmanager
async def source(
    pool: Any, *, records: int = 12, per_page: int = 5, daily: int = 10**6, **simulator: Any
) -> AsyncIterator[Source]:
    """The simulator on a pinned clock, and a TDS client whose limiter and tokens read it."""
    clock = ManualClock(START)
    store = Store(seed=7, clock=clock)
    store.seed(records)
    sim = SimulatorConfig(api_domain=SIM, requests_per_minute=10**6, daily_request_limit=daily, **simulator)
    recorder = Recorder(httpx.ASGITransport(create_app(store, config=sim)))
    config = simulator_zoho_config(
        SIM,
        sim,
        per_page=per_page,
        backoff_base_seconds=0.001,
        backoff_cap_seconds=0.01,
        requests_per_minute=10**6,
        daily_quota=daily,
    )
    limiter = PostgresRateLimiter.for_config(pool, config, clock=clock)
    client = ZohoClient(
        config, limiter, transport=recorder, clock=clock, monotonic=lambda: clock().timestamp()
    )
    async with client:
        yield Source(store, clock, client, recorder)


async def test_a_backfill_larger_than_a_days_quota_pauses_at_the_reserve_and_resumes_next_day(
    pool: Any, drain: Any
) -> None:
    quota, reserve = 40, 0.25  # 10 calls kept back: 30 a day for pulls
    async with source(pool, daily=quota) as zoho:
        puller = Puller(pool, zoho.client, PullConfig(quota_reserve=reserve), clock=zoho.clock)
        done: set[str] = set()
        paused_runs: list[Any] = []
        for day in range(8):
            calls_before = len(zoho.recorder.paths)
            for entity in ENTITIES:
                if entity in done:
                    continue
                result = await puller.run_once(entity, full=True, triggered_by="test")
                assert result.status in ("succeeded", "paused"), result
                if result.status == "succeeded":
                    done.add(entity)
                    continue
                paused_runs.append(result)
                paused = result.details["paused"]
                # the organization's midnight (Asia/Kolkata, 18:30 UTC), from x-rate-limit-reset
                org_midnight = zoho.clock().replace(hour=18, minute=30)
                assert zoho.clock() < org_midnight
                assert paused["resets_at"] == org_midnight.isoformat()
                assert "reserve of 10 calls" in paused["reason"]
                # a paused backfill leaves the cursor where it was (none yet: first pull)
                cursor = await pool.fetchval(
                    "SELECT watermark FROM tds_sync_cursors WHERE entity = $1", entity
                )
                assert cursor is None
                run = await pool.fetchrow(
                    "SELECT status, details FROM tds_sync_runs WHERE id = $1", result.run_id
                )
                assert run["status"] == "paused" and run["details"]["paused"] == paused
            spent = len(zoho.recorder.paths) - calls_before
            assert spent <= quota - 10, (day, spent)  # the reserve is never touched
            if day == 0:
                assert spent == quota - 10 and paused_runs  # the budget was the limit
                again = await puller.run_once(paused_runs[-1].entity, triggered_by="test")
                assert again.status == "paused" and again.api_calls == 0  # no call past the reserve
            await drain()
            if done == set(ENTITIES):
                break
            zoho.clock.advance(24 * 3600)  # the quota resets at the next midnight
        assert done == set(ENTITIES), f"not finished after {day + 1} days: {set(ENTITIES) - done}"
        assert day >= 2  # the backfill really needed several days
        problems = await differences(pool, zoho.store)
        assert not problems, problems
        twice = {path: n for path, n in zoho.fetched_by_id().items() if n > 1}
        assert not twice, f"records fetched more than once: {twice}"
        assert zoho.fetched_by_id()  # documents and contacts were fetched by id


async def test_the_reserve_is_read_from_the_runtime_configuration(pool: Any) -> None:
    async with source(pool, daily=100) as zoho:
        await pool.execute(
            "INSERT INTO tds_configuration (key, version, value, updated_by, note)"
            " SELECT 'sync.quota_reserve', coalesce(max(version), 0) + 1, '0.99'::jsonb, 'test', 'all'"
            " FROM tds_configuration WHERE key = 'sync.quota_reserve'"
        )
        result = await Puller(pool, zoho.client, PullConfig(), clock=zoho.clock).run_once("invoices")
        # 1 call above the reserve: one list page, and none of its records fetched by id
        assert result.status == "paused" and result.api_calls == 1 and result.fetched == 0
        assert "reserve of 99 calls (99% of the daily quota of 100)" in result.details["paused"]["reason"]


async def test_a_paused_incremental_pull_keeps_its_watermark_and_the_next_day_resumes(
    pool: Any, drain: Any
) -> None:
    async with source(pool, daily=100) as zoho:
        first = await Puller(pool, zoho.client, PullConfig(quota_reserve=0), clock=zoho.clock).run_once(
            "invoices"
        )
        assert first.status == "succeeded" and first.api_calls == 15  # 3 pages + 12 GETs
        await drain()
        zoho.clock.advance(3600)
        changed = zoho.store.ids("invoices")[:3]
        for record_id in changed:
            zoho.store.update("invoices", record_id)
        before = zoho.fetched_by_id()
        # 85 left, 83 reserved: one list page and one GET, then the pull pauses
        tight = Puller(pool, zoho.client, PullConfig(quota_reserve=0.83), clock=zoho.clock)
        paused = await tight.run_once("invoices")
        assert paused.status == "paused" and paused.api_calls == 2 and paused.queued == 1
        watermark = await pool.fetchval("SELECT watermark FROM tds_sync_cursors WHERE entity = 'invoices'")
        assert watermark == first.watermark  # the cursor stays: the window is fetched again
        await drain()
        zoho.clock.advance(24 * 3600)
        resumed = await tight.run_once("invoices")
        assert resumed.status == "succeeded" and resumed.queued == 2  # the other two changes
        await drain()
        # Each changed invoice was fetched by id once after its change, across the paused run
        # and the resumed one (the paused run's GET is not repeated); nothing else was fetched.
        again = zoho.fetched_by_id() - before
        assert again == Counter({f"/books/v3/invoices/{record_id}": 1 for record_id in changed})
        assert resumed.watermark is not None and first.watermark is not None
        assert resumed.watermark > first.watermark


async def test_zoho_refusing_a_call_for_the_daily_quota_pauses_the_pull(pool: Any, drain: Any) -> None:
    async with source(pool, daily=10**6) as zoho:
        zoho.recorder.strip_quota_headers = True  # TDS cannot see the quota coming: Zoho refuses
        zoho.recorder.inner.app.state.limits._config = SimulatorConfig(  # type: ignore[attr-defined]
            api_domain=SIM, requests_per_minute=10**6, daily_request_limit=8
        )
        puller = Puller(pool, zoho.client, PullConfig(quota_reserve=0), clock=zoho.clock)
        paused = await puller.run_once("invoices", full=True)
        assert paused.status == "paused", paused
        assert "exceeded the maximum call rate limit of 8" in paused.details["paused"]["reason"]
        assert await pool.fetchval("SELECT watermark FROM tds_sync_cursors WHERE entity = 'invoices'") is None
        await drain()
        zoho.clock.advance(24 * 3600)
        assert (await puller.run_once("invoices", full=True)).status in ("paused", "succeeded")
