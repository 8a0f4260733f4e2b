"""The client against the simulator's token endpoint: Zoho's HTTP-400 throttle (localized) is a
retryable back-off, a wrong client secret (HTTP 200) a permanent credential error."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from tds_core.app import simulator_zoho_config
from tds_core.simulator.app import create_app
from tds_core.simulator.config import SimulatorConfig
from tds_core.simulator.store import Store
from tds_core.source.zoho import AuthError, TokenManager, TokenMintLimited

from .conftest import SIM


def tokens_for(sim: SimulatorConfig, **changes: str) -> tuple[TokenManager, httpx.AsyncClient]:
    store = Store(seed=3)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(create_app(store, config=sim)))
    config = replace(simulator_zoho_config(SIM, sim), **changes)
    # TDS's own mint count is set high so the request reaches the simulator's throttle
    return TokenManager(replace(config, token_mints_per_window=100), http), http


async def test_the_localized_throttle_is_a_back_off_not_a_bad_credential() -> None:
    sim = SimulatorConfig(api_domain=SIM, token_mints_per_window=1, token_error_language="fr")
    tokens, http = tokens_for(sim)
    async with http:
        await tokens.refresh()
        with pytest.raises(TokenMintLimited, match="throttl") as refused:
            await tokens.refresh()
    assert refused.value.status == 400 and "Accès refusé" in str(refused.value)
    assert not isinstance(refused.value, AuthError)


async def test_a_wrong_client_secret_is_a_permanent_credential_error() -> None:
    tokens, http = tokens_for(SimulatorConfig(api_domain=SIM), client_secret="wrong-secret")
    async with http:
        with pytest.raises(AuthError, match="invalid_client_secret: the client secret is wrong") as refused:
            await tokens.access_token()
    assert refused.value.alert and refused.value.status == 200
