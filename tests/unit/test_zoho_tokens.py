"""The access-token manager: refresh grant, cache, early renewal, single flight, minting limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import structlog

from tds_core.source.zoho import AuthError, TokenManager, TokenMintLimited, ZohoUnavailable
from tests.zoho_fakes import SECRETS, FakeClock, FakeZoho, form, make_config


@pytest.fixture
def zoho() -> FakeZoho:
    return FakeZoho()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def http(zoho: FakeZoho) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=zoho.transport()) as client:
        yield client


def manager(http: httpx.AsyncClient, clock: FakeClock, **overrides: Any) -> TokenManager:
    return TokenManager(make_config(**overrides), http, clock=clock.monotonic, wall_clock=clock)


async def test_refresh_grant_posts_a_form_to_the_accounts_server(
    http: httpx.AsyncClient, zoho: FakeZoho, clock: FakeClock
) -> None:
    tokens = manager(http, clock, data_centre="ca")
    assert await tokens.access_token() == "access-1"
    (request,) = zoho.token_requests
    assert request.method == "POST"
    assert str(request.url) == "https://accounts.zohocloud.ca/oauth/v2/token"
    assert request.url.query == b""
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(request) == {
        "grant_type": "refresh_token",
        "client_id": SECRETS[0],
        "client_secret": SECRETS[1],
        "refresh_token": SECRETS[2],
    }


async def test_token_is_cached_and_renewed_five_minutes_early(
    http: httpx.AsyncClient, zoho: FakeZoho, clock: FakeClock
) -> None:
    tokens = manager(http, clock)
    assert await tokens.access_token() == "access-1"
    clock.advance(3600 - 300 - 1)
    assert await tokens.access_token() == "access-1"
    assert len(zoho.token_requests) == 1
    clock.advance(1)
    assert await tokens.access_token() == "access-2"
    assert tokens.refreshes == 2


async def test_concurrent_tasks_share_one_refresh(zoho: FakeZoho, clock: FakeClock) -> None:
    release = asyncio.Event()

    async def slow_token_endpoint(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return zoho.handle(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow_token_endpoint)) as http:
        tokens = manager(http, clock)
        waiting = [asyncio.create_task(tokens.access_token()) for _ in range(20)]
        await asyncio.sleep(0.01)
        release.set()
        assert set(await asyncio.gather(*waiting)) == {"access-1"}
    assert len(zoho.token_requests) == 1


async def test_refresh_of_an_already_replaced_token_reuses_the_new_one(
    http: httpx.AsyncClient, zoho: FakeZoho, clock: FakeClock
) -> None:
    tokens = manager(http, clock)
    first = await tokens.access_token()
    second = await tokens.refresh(stale=first)
    assert second == "access-2"
    assert await tokens.refresh(stale=first) == "access-2"
    assert len(zoho.token_requests) == 2


async def test_is_fresh(http: httpx.AsyncClient, clock: FakeClock) -> None:
    tokens = manager(http, clock)
    token = await tokens.access_token()
    assert tokens.is_fresh(token, 60)
    clock.advance(61)
    assert not tokens.is_fresh(token, 60)
    assert not tokens.is_fresh("other", 60)


async def test_refuses_to_mint_past_the_limit(
    http: httpx.AsyncClient, zoho: FakeZoho, clock: FakeClock
) -> None:
    tokens = manager(http, clock)
    for _ in range(10):
        await tokens.refresh()
        clock.advance(30)
    with pytest.raises(TokenMintLimited, match="10 minted in the last 600 s") as refused:
        await tokens.refresh()
    assert len(zoho.token_requests) == 10
    # the oldest mint leaves the window 600 s after it happened: 300 s from now
    assert (refused.value.retry_at - clock.now).total_seconds() == pytest.approx(300)
    clock.advance(300)
    assert await tokens.refresh() == "access-11"


async def test_minting_limit_is_configurable(http: httpx.AsyncClient, clock: FakeClock) -> None:
    tokens = manager(http, clock, token_mints_per_window=2)
    await tokens.refresh()
    await tokens.refresh()
    with pytest.raises(TokenMintLimited):
        await tokens.refresh()


@pytest.mark.parametrize("status", [200, 400])
async def test_revoked_refresh_token_is_a_clear_permanent_error(
    http: httpx.AsyncClient, zoho: FakeZoho, clock: FakeClock, status: int
) -> None:
    zoho.token_script.append(httpx.Response(status, json={"error": "invalid_code"}))
    tokens = manager(http, clock)
    with structlog.testing.capture_logs() as logs, pytest.raises(AuthError) as refused:
        await tokens.access_token()
    message = str(refused.value)
    assert "invalid_code" in message and "expired or revoked" in message
    for secret in SECRETS:
        assert secret not in message
        assert secret not in repr(logs)
        assert secret not in repr(tokens)


async def test_token_endpoint_failures_are_retryable(
    http: httpx.AsyncClient, zoho: FakeZoho, clock: FakeClock
) -> None:
    zoho.token_script.extend([httpx.Response(503), httpx.ConnectError("refused")])
    tokens = manager(http, clock)
    with pytest.raises(ZohoUnavailable, match="HTTP 503"):
        await tokens.access_token()
    with pytest.raises(ZohoUnavailable, match="ConnectError") as failed:
        await tokens.access_token()
    assert isinstance(failed.value.__cause__, httpx.ConnectError)
    assert await tokens.access_token() == "access-3"


async def test_expires_in_from_the_answer(http: httpx.AsyncClient, zoho: FakeZoho, clock: FakeClock) -> None:
    zoho.token_script.append(httpx.Response(200, json={"access_token": "short", "expires_in": 600}))
    tokens = manager(http, clock)
    assert await tokens.access_token() == "short"
    clock.advance(301)
    assert await tokens.access_token() == "access-2"


async def test_wrong_data_centre_is_logged(http: httpx.AsyncClient, clock: FakeClock) -> None:
    tokens = manager(http, clock, data_centre="in")
    with structlog.testing.capture_logs() as logs:
        await tokens.access_token()
    assert [e["event"] for e in logs] == ["zoho_data_centre_mismatch", "zoho_token_refreshed"]
    assert logs[0]["api_domain"] == "https://www.zohoapis.eu"


async def test_zoho_throttle_is_retryable_and_not_asked_again_until_it_lifts(
    http: httpx.AsyncClient, zoho: FakeZoho, clock: FakeClock
) -> None:
    throttle = {
        "error": "Zugriff verweigert",  # localized: recognised by its shape, not its text
        "error_description": "You have made too many requests continuously…",
        "status": "failure",
    }
    zoho.token_script.append(httpx.Response(400, json=throttle))
    tokens = manager(http, clock)
    with pytest.raises(TokenMintLimited, match="throttl") as refused:
        await tokens.access_token()
    assert not isinstance(refused.value, AuthError)
    assert (refused.value.retry_at - clock.now).total_seconds() >= 15 * 60
    clock.advance(14 * 60)
    with pytest.raises(TokenMintLimited):
        await tokens.access_token()
    assert len(zoho.token_requests) == 1  # asking during the throttle would prolong it
    clock.advance(60)
    assert await tokens.access_token() == "access-2"
