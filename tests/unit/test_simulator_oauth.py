"""Simulator: Zoho Accounts' refresh-token grant, its HTTP-200 errors and the HTTP-400 throttle."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.simulator_support import CONFIG, Factory, refresh_params, simulators


@pytest.fixture
async def make() -> AsyncIterator[Factory]:
    async with simulators() as factory:
        yield factory


async def test_refresh_grant_in_the_query_string(make: Factory) -> None:
    sim = await make(login=False)
    response = await sim.mint()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "api_domain", "token_type"}
    assert body["expires_in"] == 3600
    assert body["token_type"] == "Bearer"
    assert body["api_domain"] == CONFIG.api_domain
    assert "refresh_token" not in body  # Zoho returns no new refresh token
    assert (await sim.get("/books/v3/items", token=body["access_token"])).status_code == 200


async def test_refresh_grant_in_a_form_body(make: Factory) -> None:
    sim = await make(login=False)
    response = await sim.http.post("/oauth/v2/token", data=refresh_params())
    assert response.status_code == 200
    assert response.json()["access_token"].startswith("1000.")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"refresh_token": "1000.not-a-real-token"}, "invalid_code"),
        ({"client_id": "1000.SOMEONEELSE"}, "invalid_client"),
        ({"client_secret": "wrong-secret"}, "invalid_client_secret"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
    ],
)
async def test_errors_come_back_with_http_200(make: Factory, overrides: dict[str, str], error: str) -> None:
    sim = await make(login=False)
    response = await sim.mint(**overrides)
    assert response.status_code == 200  # the quirk: read the body, not the status
    assert response.json()["error"] == error
    assert "access_token" not in response.json()


THROTTLE_DESCRIPTION = "You have made too many requests continuously. Please try again after some time."


async def test_ten_tokens_per_ten_minutes_then_a_throttle_for_fifteen_minutes(make: Factory) -> None:
    sim = await make(login=False)
    for _ in range(10):
        assert "access_token" in (await sim.mint()).json()
        sim.clock.advance(30)  # 10 tokens over 4.5 minutes
    refused = await sim.mint()
    assert refused.status_code == 400  # the throttle is not an HTTP-200 refusal
    assert refused.json() == {
        "error": "Access Denied",
        "error_description": THROTTLE_DESCRIPTION,
        "status": "failure",
    }
    assert sim.tokens.minted == 10
    # the window has slid past the first mint, but the throttle lasts 15 minutes from the refusal
    sim.clock.advance(14 * 60 + 59)
    assert (await sim.mint()).status_code == 400
    sim.clock.advance(1)
    assert "access_token" in (await sim.mint()).json()


@pytest.mark.parametrize(
    ("language", "error"), [("de", "Zugriff verweigert"), ("ja", "アクセスが拒否されました")]
)
async def test_the_throttle_error_is_localized(make: Factory, language: str, error: str) -> None:
    sim = await make(login=False, token_mints_per_window=1, token_error_language=language)
    await sim.mint()
    refused = await sim.mint()
    assert refused.status_code == 400
    assert refused.json()["error"] == error and refused.json()["status"] == "failure"


async def test_the_minting_limit_and_throttle_are_configurable(make: Factory) -> None:
    sim = await make(
        login=False, token_mints_per_window=2, token_mint_window_seconds=60, token_throttle_minutes=1
    )
    assert "access_token" in (await sim.mint()).json()
    assert "access_token" in (await sim.mint()).json()
    assert (await sim.mint()).json()["status"] == "failure"
    sim.clock.advance(61)
    assert "access_token" in (await sim.mint()).json()


async def test_access_tokens_expire_after_an_hour(make: Factory) -> None:
    sim = await make()
    sim.clock.advance(3599)
    assert (await sim.get("/books/v3/contacts")).status_code == 200
    sim.clock.advance(1)
    expired = await sim.get("/books/v3/contacts")
    assert expired.status_code == 401
    assert expired.json() == {"code": 57, "message": "You are not authorized to perform this operation"}


async def test_revoked_tokens_stop_working(make: Factory) -> None:
    sim = await make()
    await sim.http.post("/oauth/v2/token/revoke", params={"token": sim.token})
    assert (await sim.get("/books/v3/contacts")).status_code == 401
    await sim.http.post("/oauth/v2/token/revoke", params={"token": CONFIG.refresh_token})
    assert (await sim.mint()).json()["error"] == "invalid_code"
