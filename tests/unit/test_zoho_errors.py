"""Translation of Zoho answers and httpx errors into the TDS exception tree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tds_core.errors import PermanentError, RetryableError
from tds_core.source.zoho import (
    AuthError,
    NotFound,
    QuotaExhausted,
    RateLimited,
    RequestRejected,
    TokenMintLimited,
    TooManyInFlight,
    UnexpectedResponse,
    ZohoError,
    ZohoUnavailable,
)
from tds_core.source.zoho.errors import translate_response, translate_token_response, translate_transport

NOW = datetime(2030, 1, 15, 12, 0, 42, 123456, tzinfo=UTC)
ENDPOINT = "GET /books/v3/invoices"
TOKEN_URL = "https://accounts.zoho.eu/oauth/v2/token"

PER_MINUTE = (
    "For security reasons your organization has been blocked as it have exceeded the maximum number"
    " of requests per minute that can originate from an organization."
)
DAILY = "The API call for this organization has exceeded the maximum call rate limit of 1000."
IN_FLIGHT = (
    "You have reached the maximum number of in process requests allowed. Kindly try again after some time."
)


def translate(status: int, body: dict[str, Any] | None) -> ZohoError | None:
    return translate_response(ENDPOINT, status, body, now=NOW)


@pytest.mark.parametrize(
    ("status", "body", "expected", "retryable"),
    [
        (429, {"code": 44, "message": PER_MINUTE}, RateLimited, True),
        (429, {"code": 45, "message": DAILY}, QuotaExhausted, True),
        (429, {"code": 1070, "message": IN_FLIGHT}, TooManyInFlight, True),
        (429, None, RateLimited, True),
        (401, {"code": 57, "message": "You are not authorized to perform this operation"}, AuthError, False),
        (401, None, AuthError, False),
        (400, {"code": 57, "message": "You are not authorized to perform this operation"}, AuthError, False),
        (404, {"code": 1002, "message": "Invoice does not exist."}, NotFound, False),
        (200, {"code": 1002, "message": "Invoice does not exist."}, NotFound, False),
        (500, {"code": 1000, "message": "Internal error"}, ZohoUnavailable, True),
        (200, {"code": 1000, "message": "Internal error"}, ZohoUnavailable, True),
        (502, None, ZohoUnavailable, True),
        (503, {"message": "down"}, ZohoUnavailable, True),
        (408, None, ZohoUnavailable, True),
        (400, {"code": 4, "message": "Invalid value passed for per_page"}, RequestRejected, False),
        (405, None, RequestRejected, False),
        (200, {"code": 9999, "message": "odd"}, RequestRejected, False),
        (302, None, UnexpectedResponse, False),
    ],
)
def test_translate_response(
    status: int, body: dict[str, Any] | None, expected: type[ZohoError], retryable: bool
) -> None:
    error = translate(status, body)
    assert type(error) is expected
    assert isinstance(error, RetryableError) is retryable
    assert isinstance(error, PermanentError) is not retryable
    assert error.status == status
    assert ENDPOINT in str(error)
    if body and body.get("message"):
        assert body["message"] in str(error)


@pytest.mark.parametrize("body", [{"code": 0, "message": "success"}, {"code": "0"}, {"items": []}, None])
def test_success(body: dict[str, Any] | None) -> None:
    assert translate(200, body) is None


def test_code_as_string_is_understood() -> None:
    assert isinstance(translate(429, {"code": "45", "message": DAILY}), QuotaExhausted)


def test_per_minute_retries_at_the_next_minute() -> None:
    error = translate(429, {"code": 44, "message": PER_MINUTE})
    assert isinstance(error, RateLimited)
    assert error.retry_at == datetime(2030, 1, 15, 12, 1, tzinfo=UTC)
    assert error.code == 44
    assert not error.alert


def test_daily_quota_is_alert_worthy_and_waits() -> None:
    error = translate_response(
        ENDPOINT, 429, {"code": 45, "message": DAILY}, now=NOW, quota_retry=timedelta(minutes=30)
    )
    assert isinstance(error, QuotaExhausted)
    assert error.alert
    assert error.retry_at == NOW + timedelta(minutes=30)
    assert "daily" in str(error)


def test_auth_errors_are_alert_worthy() -> None:
    error = translate(401, {"code": 57, "message": "You are not authorized to perform this operation"})
    assert isinstance(error, AuthError) and error.alert
    assert error.code == 57


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("connection refused"), ZohoUnavailable),
        (httpx.ReadTimeout("read timed out"), ZohoUnavailable),
        (httpx.RemoteProtocolError("server disconnected"), ZohoUnavailable),
        (httpx.UnsupportedProtocol("ftp"), RequestRejected),
    ],
)
def test_translate_transport(exc: httpx.HTTPError, expected: type[ZohoError]) -> None:
    error = translate_transport(ENDPOINT, exc)
    assert type(error) is expected
    assert ENDPOINT in str(error)


def token(status: int, body: dict[str, Any] | None) -> ZohoError | None:
    return translate_token_response(TOKEN_URL, status, body, now=NOW, mint_window=timedelta(minutes=10))


@pytest.mark.parametrize("status", [200, 400])
@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        ("invalid_code", "expired or revoked"),
        ("invalid_client", "data centre"),
        ("invalid_token", "revoked"),
        ("something_new", "refused the refresh-token grant"),
    ],
)
def test_token_errors_are_found_in_the_body_whatever_the_status(status: int, reason: str, cause: str) -> None:
    error = token(status, {"error": reason})
    assert isinstance(error, AuthError)
    assert reason in str(error) and cause in str(error)
    assert TOKEN_URL in str(error)


def test_token_access_denied_is_the_minting_limit() -> None:
    error = token(200, {"error": "access_denied", "error_description": "too many requests"})
    assert isinstance(error, TokenMintLimited)
    assert isinstance(error, RetryableError)
    assert error.retry_at == NOW + timedelta(minutes=10)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, None, ZohoUnavailable),
        (503, {"message": "maintenance"}, ZohoUnavailable),
        (401, None, AuthError),
        (404, None, RequestRejected),
        (200, {"token_type": "Bearer"}, UnexpectedResponse),
        (200, None, UnexpectedResponse),
    ],
)
def test_token_http_errors(status: int, body: dict[str, Any] | None, expected: type[ZohoError]) -> None:
    assert type(token(status, body)) is expected


def test_token_success() -> None:
    assert token(200, {"access_token": "x", "expires_in": 3600}) is None
