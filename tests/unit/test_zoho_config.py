"""ZohoConfig: the eight data centres, overrides, validation, and secrets kept out of repr."""

from __future__ import annotations

import dataclasses

import pytest

from tds_core.source.zoho import DATA_CENTRES, ZohoConfig
from tests.zoho_fakes import SECRETS, make_config


def test_eight_data_centres_with_their_accounts_servers() -> None:
    assert set(DATA_CENTRES) == {"com", "eu", "in", "com.au", "jp", "ca", "com.cn", "sa"}
    for code, centre in DATA_CENTRES.items():
        assert centre.api_base == f"https://www.zohoapis.{code}"
    assert DATA_CENTRES["ca"].accounts_base == "https://accounts.zohocloud.ca"
    assert DATA_CENTRES["eu"].accounts_base == "https://accounts.zoho.eu"
    assert DATA_CENTRES["sa"].accounts_base == "https://accounts.zoho.sa"


def test_urls_follow_the_data_centre() -> None:
    config = make_config(data_centre="com.au")
    assert config.api_root == "https://www.zohoapis.com.au"
    assert config.token_url == "https://accounts.zoho.com.au/oauth/v2/token"
    assert config.base_path("books") == "/books/v3"
    assert config.base_path("inventory") == "/inventory/v1"


def test_overrides_point_elsewhere() -> None:
    config = make_config(api_base="http://127.0.0.1:9000/", accounts_base="http://127.0.0.1:9000")
    assert config.api_root == "http://127.0.0.1:9000"
    assert config.token_url == "http://127.0.0.1:9000/oauth/v2/token"


def test_defaults_follow_zoho_limits() -> None:
    config = make_config()
    assert (config.per_page, config.max_concurrency, config.requests_per_minute) == (200, 10, 100)


def test_secrets_never_in_repr() -> None:
    config = make_config()
    shown = repr(config) + str(config)
    assert "10234695" in shown
    for secret in SECRETS:
        assert secret not in shown


def test_is_frozen() -> None:
    config = make_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.per_page = 10  # type: ignore[misc]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"data_centre": "uk"}, "unknown Zoho data centre 'uk'"),
        ({"organization_id": " "}, "organization_id is required"),
        ({"refresh_token": ""}, "refresh_token is required"),
        ({"per_page": 500}, "per_page must be between 1 and 200"),
        ({"requests_per_minute": 0}, "requests_per_minute must be at least 1"),
        ({"daily_quota": 0}, "daily_quota must be at least 1"),
        ({"timeout_seconds": 0}, "timeout_seconds must be positive"),
    ],
)
def test_validation(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_config(**overrides)


def test_unknown_api() -> None:
    with pytest.raises(ValueError, match="unknown Zoho API"):
        ZohoConfig("1", "a", "b", "c").base_path("crm")
