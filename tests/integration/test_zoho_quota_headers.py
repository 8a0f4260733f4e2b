"""Quota from Zoho's own word (reference section 10): the client reads ``x-rate-limit-limit``,
``-remaining`` and ``-reset`` from every answer; the limiter adopts the plan's quota, counts the
day from the organization's midnight instead of UTC's, counts calls other clients made, and
shares the plan's cap on calls in flight (5 on Free, 10 on paid plans) across processes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tds_core.app import simulator_zoho_config
from tds_core.simulator.app import create_app
from tds_core.simulator.clock import ManualClock
from tds_core.simulator.config import SimulatorConfig
from tds_core.simulator.store import Store
from tds_core.source.pull import PullConfig, Puller
from tds_core.source.zoho.client import ZohoClient
from tds_core.source.zoho.errors import QuotaExhausted
from tds_core.source.zoho.rate_limit import ObservedQuota, PostgresRateLimiter

SIM = "http://zoho.sim"
START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 17:30 in Kolkata (the simulated organization)
ORG_MIDNIGHT = datetime(2026, 3, 10, 18, 30, tzinfo=UTC)  # 00:00 on 11 March in Kolkata


class Concurrency(httpx.AsyncBaseTransport):
    """Passes requests to the simulator and records the most API calls in flight at once."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.now = 0
        self.most = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "/oauth/" in request.url.path:
            return await self.inner.handle_async_request(request)
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self.now -= 1


@dataclass
class Zoho:
    store: Store
    clock: ManualClock
    app: Any
    transport: Concurrency

    def client(self, pool: Any, *, daily_quota: int = 10**6, **config: Any) -> ZohoClient:
        """A TDS client, as one process would have it: its own limiter on the shared database."""
        sim = self.app.state.config
        zoho_config = simulator_zoho_config(
            SIM,
            sim,
            per_page=5,
            backoff_base_seconds=0.001,
            backoff_cap_seconds=0.01,
            requests_per_minute=10**6,
            daily_quota=daily_quota,
            **config,
        )
        limiter = PostgresRateLimiter.for_config(pool, zoho_config, clock=self.clock)
        return ZohoClient(
            zoho_config,
            limiter,
            transport=self.transport,
            clock=self.clock,
            monotonic=lambda: self.clock().timestamp(),
        )

    def other_client_calls(self, count: int) -> None:
        """Calls another client of the organization made (they spend the same quota)."""
        for _ in range(count):
            assert self.app.state.limits.charge(self.app.state.config.organization_id) is None


@contextlib.asynccontextmanager
async def zoho(*, daily: int, clock: ManualClock | None = None, **simulator: Any) -> AsyncIterator[Zoho]:
    clock = clock or ManualClock(START)
    store = Store(seed=7, clock=clock)
    store.seed(12)
    config = SimulatorConfig(
        api_domain=SIM, requests_per_minute=10**6, daily_request_limit=daily, **simulator
    )
    app = create_app(store, config=config)
    yield Zoho(store, clock, app, Concurrency(httpx.ASGITransport(app)))


async def test_the_plans_quota_and_the_organizations_day_come_from_the_headers(pool: Any) -> None:
    async with zoho(daily=2000) as sim, sim.client(pool, daily_quota=1000) as client:
        assert client.limiter.daily_quota == 1000  # configured (the Free plan's), before any answer
        await client.list_page("invoices")
        assert client.limiter.daily_quota == 2000  # Zoho said Standard
        assert client.limiter.next_reset == ORG_MIDNIGHT  # not UTC midnight
        assert await client.limiter.remaining_today() == 1999
        row = await pool.fetchrow("SELECT * FROM tds_zoho_quota")
        assert (row["daily_limit"], row["remaining"], row["resets_at"]) == (2000, 1999, ORG_MIDNIGHT)


async def test_calls_made_by_other_clients_count_against_the_day(pool: Any) -> None:
    async with zoho(daily=100) as sim, sim.client(pool) as client, sim.client(pool) as other_process:
        sim.other_client_calls(40)  # e.g. another integration of the same organization
        await client.list_page("invoices")
        assert await client.limiter.remaining_today() == 59  # Zoho's word, not TDS's count of 1
        # another TDS process has not called Zoho yet, and reads the same from the database
        assert await other_process.limiter.remaining_today() == 59
        assert other_process.limiter.daily_quota == 100
        await other_process.list_page("contacts")
        assert await client.limiter.remaining_today() == 58


async def test_a_pull_paces_itself_by_zohos_quota_and_resumes_at_the_organizations_midnight(
    pool: Any, drain: Any
) -> None:
    async with zoho(daily=40) as sim, sim.client(pool) as client:
        sim.other_client_calls(20)
        puller = Puller(pool, client, PullConfig(quota_reserve=0.25), clock=sim.clock)
        paused = await puller.run_once("invoices", full=True, triggered_by="test")
        # 40 a day, 10 kept back, 20 spent elsewhere: the pull had 10 calls, not 10**6 * 0.75
        assert paused.status == "paused", paused
        assert paused.api_calls <= 10
        assert paused.details["paused"]["resets_at"] == ORG_MIDNIGHT.isoformat()
        assert "daily quota of 40" in paused.details["paused"]["reason"]
        await drain()
        sim.clock.set(ORG_MIDNIGHT + timedelta(minutes=1))  # a new day in Kolkata, the same UTC day
        resumed = await puller.run_once("invoices", full=True, triggered_by="test")
        assert resumed.status == "succeeded", resumed


async def test_the_day_ends_at_the_organizations_midnight_when_the_quota_is_spent(pool: Any) -> None:
    async with zoho(daily=10) as sim, sim.client(pool) as client:
        sim.other_client_calls(9)
        await client.list_page("items")  # the 10th call of the day
        with pytest.raises(QuotaExhausted) as refused:
            await client.list_page("items")
        assert refused.value.retry_at == ORG_MIDNIGHT
        sim.clock.set(ORG_MIDNIGHT)  # 18:30 UTC: a UTC-day count would still refuse until 00:00
        client.limiter.block_until(ORG_MIDNIGHT, "")  # (the block ends now)
        page = await client.list_page("items")
        assert page.records
        assert await client.limiter.remaining_today() == 9


def test_malformed_headers_are_ignored() -> None:
    now = START
    assert ObservedQuota.from_headers({}, now) is None
    bad = {"x-rate-limit-limit": "lots", "x-rate-limit-remaining": "1", "x-rate-limit-reset": "5"}
    assert ObservedQuota.from_headers(bad, now) is None
    negative = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "-1", "x-rate-limit-reset": "5"}
    assert ObservedQuota.from_headers(negative, now) is None
    good = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "150", "x-rate-limit-reset": "60"}
    assert ObservedQuota.from_headers(good, now) == ObservedQuota(100, 100, now + timedelta(seconds=60), now)


# -- calls in flight -------------------------------------------------------------------------


async def many_calls(clients: list[ZohoClient], each: int) -> None:
    async def one(client: ZohoClient) -> None:
        await client.list_page("invoices")

    await asyncio.gather(*(one(client) for client in clients for _ in range(each)))


@pytest.mark.parametrize(("daily", "cap"), [(1000, 5), (2000, 10)], ids=["free", "paid"])
async def test_the_plans_cap_on_calls_in_flight_holds_across_processes(
    pool: Any, daily: int, cap: int
) -> None:
    async with zoho(daily=daily, clock=ManualClock(START)) as sim:
        sim.app.state.faults.latency_seconds = 0.05  # each call takes a while, so calls overlap
        clients = [sim.client(pool, max_concurrency=10) for _ in range(2)]  # two TDS processes
        try:
            await clients[0].list_page("items")  # the first answer names the plan
            await many_calls(clients, each=12)
        finally:
            for client in clients:
                await client.aclose()
        assert sim.transport.most == cap
        assert await pool.fetchval("SELECT count(*) FROM tds_zoho_inflight") == 0  # every slot given back


async def test_a_slot_left_by_a_killed_process_frees_itself(pool: Any) -> None:
    async with zoho(daily=1000) as sim, sim.client(pool) as client:
        await client.list_page("items")
        # a process died mid-call holding four of the five slots; one lease has already ended
        await pool.execute(
            "INSERT INTO tds_zoho_inflight (organization_id, slot, holder, lease_until)"
            " SELECT $1, s, 'dead', clock_timestamp() + CASE WHEN s = 4 THEN interval '-1 s'"
            " ELSE interval '1 hour' END FROM generate_series(1, 4) s",
            sim.app.state.config.organization_id,
        )
        sim.app.state.faults.latency_seconds = 0.05
        await many_calls([client], each=6)
        assert sim.transport.most == 2  # slots 4 (lease ended) and 5
