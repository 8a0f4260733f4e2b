"""An access token that expires in the middle of a pull: Zoho (the simulator) answers 401 code
57, the client refreshes once, and the run completes with every record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tds_core.app import simulator_zoho_config
from tds_core.simulator.app import create_app
from tds_core.simulator.clock import ManualClock
from tds_core.simulator.config import SimulatorConfig
from tds_core.simulator.store import Store
from tds_core.source.pull import PullConfig, Puller
from tds_core.source.zoho import PostgresRateLimiter, ZohoClient

from .conftest import SIM, live_ids

pytestmark = pytest.mark.asyncio


class ExpireAfter:
    """ASGI wrapper: after ``calls`` API requests, moves the simulator's clock past the token's
    hour, so the token the client holds is refused from then on. The client's own clock moves two
    minutes: its token is no longer just minted, but not yet due for renewal either (Zoho ended
    it early, as it does when a token is revoked or its hour is counted from an earlier mint)."""

    def __init__(self, app: Any, clock: ManualClock, calls: int, seconds: float) -> None:
        self.app, self.clock, self.calls, self.seconds = app, clock, calls, seconds
        self.api_requests = 0
        self.refused = 0
        self.client_ticks = 1000.0

    def monotonic(self) -> float:
        return self.client_ticks

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/oauth"):
            self.api_requests += 1
            if self.api_requests == self.calls + 1:
                self.clock.advance(self.seconds)
                self.client_ticks += 120

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.refused += 1
            await send(message)

        await self.app(scope, receive, watch)


async def test_a_token_expiring_mid_pull_is_refreshed_once_and_the_run_completes(pool: Any) -> None:
    clock = ManualClock(datetime.now(UTC))
    store = Store(seed=11, clock=clock)
    store.seed(12)
    sim = SimulatorConfig(api_domain=SIM)
    app = ExpireAfter(create_app(store, config=sim), clock, calls=5, seconds=sim.access_token_seconds + 1)
    config = simulator_zoho_config(SIM, sim, per_page=5, daily_quota=100_000)
    client = ZohoClient(
        config,
        PostgresRateLimiter.for_config(pool, config),
        transport=httpx.ASGITransport(app),
        monotonic=app.monotonic,
    )
    async with client:
        result = await Puller(pool, client, PullConfig()).run_once("invoices", full=True)
        assert client.tokens.refreshes == 2  # the first token, and one refresh after the 401
    assert result.status == "succeeded" and result.error is None
    assert result.fetched == len(list(store.records("invoices"))) == 12
    assert app.refused == 1
    run = await pool.fetchrow(
        "SELECT status, fetched, failed FROM tds_sync_runs WHERE id = $1", result.run_id
    )
    assert (run["status"], run["fetched"], run["failed"]) == ("succeeded", 12, 0)
    queued = await pool.fetchval(
        "SELECT count(DISTINCT zoho_id) FROM tds_sync_queue WHERE entity = 'invoices'"
    )
    assert queued == 12
    assert await live_ids(pool, "invoices") == set()  # queued, not yet applied: nothing skipped the queue
