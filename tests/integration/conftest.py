"""Integration helpers: a webhook sender bound to the test client and key, and queue readers."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tds_core import app as composition
from tds_core.app import simulator_zoho_config
from tds_core.settings import Settings
from tds_core.simulator.app import create_app
from tds_core.simulator.config import Faults, SimulatorConfig
from tds_core.simulator.store import Store
from tds_core.source.zoho.client import ZohoClient
from tds_core.source.zoho.rate_limit import PostgresRateLimiter

DEFAULT_KEY: Any = object()

Send = Callable[..., Awaitable[httpx.Response]]


def sender(client: httpx.AsyncClient, default_key: str | None) -> Send:
    async def send(
        entity: str,
        body: Any = None,
        *,
        event: str | None = None,
        key: Any = DEFAULT_KEY,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        content: Any = None,
    ) -> httpx.Response:
        """POST a webhook: ``body`` as JSON, or raw ``content`` (set the content type in headers)."""
        sent_headers: dict[str, str] = {}
        key = default_key if key is DEFAULT_KEY else key
        if key is not None:
            sent_headers["X-TDS-Key"] = key
        sent_headers.update(headers or {})
        query = dict(params or {})
        if event is not None:
            query["event"] = event
        url = f"/api/v1/webhooks/zoho/{entity}"
        if content is not None:
            return await client.post(url, content=content, headers=sent_headers, params=query)
        return await client.post(url, json=body, headers=sent_headers, params=query)

    return send


@pytest.fixture
def webhook(client: httpx.AsyncClient, api_key: str) -> Send:
    """Send a webhook with the test API key (``key=None`` sends none)."""
    return sender(client, api_key)


@pytest.fixture
def queue_states(pool: Any) -> Callable[..., Awaitable[list[str]]]:
    """The queue rows' states in enqueue order (optionally of one zoho id)."""

    async def read(zoho_id: str | None = None) -> list[str]:
        rows = await pool.fetch(
            "SELECT status::text AS status FROM tds_sync_queue WHERE $1::text IS NULL OR zoho_id = $1"
            " ORDER BY id",
            zoho_id,
        )
        return [r["status"] for r in rows]

    return read


# ---------------------------------------------------------------- the Zoho simulator as a source
SIM = "http://zoho.sim"


class Zoho:
    def __init__(self, store: Store, faults: Faults, client: ZohoClient) -> None:
        self.store, self.faults, self.client = store, faults, client


@pytest.fixture
async def zoho(pool: Any) -> AsyncIterator[Zoho]:
    store = Store(seed=7)
    store.seed(12)
    faults = Faults()
    sim = SimulatorConfig(api_domain=SIM)
    app = create_app(store, config=sim, faults=faults)
    config = simulator_zoho_config(
        SIM,
        sim,
        per_page=5,
        backoff_base_seconds=0.001,
        backoff_cap_seconds=0.01,
        daily_quota=100_000,
    )
    client = ZohoClient(
        config, PostgresRateLimiter.for_config(pool, config), transport=httpx.ASGITransport(app)
    )
    async with client:
        yield Zoho(store, faults, client)


async def live_ids(pool: Any, table: str) -> set[str]:
    rows = await pool.fetch(f"SELECT zoho_id FROM {table} WHERE deleted_at IS NULL")
    return {r["zoho_id"] for r in rows}


# ---------------------------------------------------------------------------- signed webhooks
WEBHOOK_SECRET = "abcdefghijkl123"
"""The Zoho webhook secret of :func:`signed_client`'s app."""


@pytest.fixture
async def signed_client(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with a Zoho webhook secret configured."""
    settings = Settings(
        env="test",
        home=tmp_path,
        api_key_cache_seconds=0,
        log_level="WARNING",
        zoho_webhook_secret=WEBHOOK_SECRET,
    )
    app = composition.build_api(settings, database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tds.test") as http:
            yield http


def zoho_signature(params: list[tuple[str, str]], raw_body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    """The recipe, computed here independently: sorted key+value pairs, then the raw body."""
    message = "".join(k + v for k, v in sorted(params)).encode() + raw_body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
