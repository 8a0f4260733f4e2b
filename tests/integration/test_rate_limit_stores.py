"""Rate limits that cannot be evaded or turned against a user (issue 16, item 7): login and
webhook buckets live in separate stores; a webhook is limited per client address before
authentication and per authenticated key after it, so forged keys with a victim's public
prefix spend only the forger's bucket; ``X-Forwarded-For`` is believed from no one by default."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tds_core import app as composition
from tds_core.access import api_keys
from tds_core.cli.main import server_options
from tds_core.db.queries import QUERIES
from tds_core.settings import Settings

from . import samples

URL = "/api/v1/webhooks/zoho/items"


@pytest.fixture
async def app(tmp_path: Path, database_url: str, pool: Any) -> AsyncIterator[Any]:
    async with pool.acquire() as connection:
        await connection.fetch(QUERIES.configuration_set, "ratelimit.webhooks_per_second", 5, "tests", None)
        await connection.fetch(QUERIES.configuration_set, "ratelimit.login_per_minute", 2, "tests", None)
    settings = Settings(env="test", home=tmp_path, api_key_cache_seconds=0, log_level="WARNING")
    built = composition.build_api(settings, database_url)
    async with built.router.lifespan_context(built):
        yield built


def from_address(app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://tds.test")


async def test_forged_keys_with_a_victims_prefix_spend_only_the_forgers_bucket(app: Any, pool: Any) -> None:
    async with pool.acquire() as connection:
        victim_key = (await api_keys.create(connection, "victim")).key
    prefix = api_keys.split_prefix(victim_key)
    async with from_address(app, "10.0.0.66") as attacker, from_address(app, "10.0.0.9") as victim:
        answers = []
        for _ in range(20):
            forged = f"tds_{prefix}_{secrets.token_urlsafe(32)}"
            response = await attacker.post(URL, json={"item": samples.item()}, headers={"X-TDS-Key": forged})
            answers.append(response.status_code)
        assert set(answers) == {401, 429} and answers[:5] == [401] * 5  # the forger's address is throttled
        for number in range(5):  # the victim's whole burst is still there
            record = samples.item(item_id=f"9100000000{number}", name=f"victim item {number}")
            sent = await victim.post(URL, json={"item": record}, headers={"X-TDS-Key": victim_key})
            assert sent.status_code == 202, (number, sent.text)


async def test_the_per_key_bucket_holds_after_authentication(app: Any, pool: Any) -> None:
    async with pool.acquire() as connection:
        key = (await api_keys.create(connection, "busy")).key
    statuses = []
    for number in range(6):  # two addresses, one key: the key's bucket is what runs out
        async with from_address(app, f"10.0.1.{number}") as client:
            record = samples.item(item_id=f"9200000000{number}")
            statuses.append(
                (await client.post(URL, json={"item": record}, headers={"X-TDS-Key": key})).status_code
            )
    assert statuses == [202] * 5 + [429]


async def test_webhook_floods_never_touch_the_login_buckets(app: Any) -> None:
    ctx = app.state.context
    async with from_address(app, "10.0.2.1") as user, from_address(app, "10.0.2.2") as flooder:
        for _ in range(2):
            assert (
                await user.post("/api/v1/auth/token", data={"username": "x", "password": "y"})
            ).status_code == 401
        assert (
            await user.post("/api/v1/auth/token", data={"username": "x", "password": "y"})
        ).status_code == 429
        logins = dict(ctx.login_limiter._buckets)
        for _ in range(300):  # random keys: each one used to be a bucket of the shared store
            forged = f"tds_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"
            await flooder.post(URL, json={"item": samples.item()}, headers={"X-TDS-Key": forged})
        assert ctx.login_limiter._buckets.keys() == logins.keys()  # nothing evicted or added
        assert list(ctx.preauth_limiter._buckets) == ["10.0.2.2"]  # one bucket per address, not per key
        assert not ctx.webhook_limiter._buckets  # no forged key got past authentication
        assert (
            await user.post("/api/v1/auth/token", data={"username": "x", "password": "y"})
        ).status_code == 429


def test_forwarded_headers_are_believed_only_from_configured_proxies(tmp_path: Path) -> None:
    default = server_options(Settings(env="test", home=tmp_path), "127.0.0.1", 8000)
    assert default["proxy_headers"] is False  # not even from 127.0.0.1
    behind = server_options(
        Settings(env="test", home=tmp_path, trusted_proxies=["127.0.0.1", "10.1.0.5"]), "127.0.0.1", 8000
    )
    assert behind["proxy_headers"] is True and behind["forwarded_allow_ips"] == "127.0.0.1,10.1.0.5"
