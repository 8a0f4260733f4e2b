"""Translation of Zoho answers and httpx errors into the TDS exception tree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tds_core.errors import PermanentError, RetryableError
from tds_core.source.zoho import (
    AuthError,
    InvalidURL,
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
        (404, {"code": 1002, "message": "Invalid URL Passed"}, InvalidURL, False),
        (400, {"code": 1002, "message": "Invalid URL Passed"}, InvalidURL, False),
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
    assert error.retry_at == NOW + timedelta(minutes=15)  # Zoho's throttle lasts 15-30 minutes


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


# ------------------------------------------------ issue 15: Zoho's errors as Zoho means them
BY_ID = "GET /books/v3/invoices/460000000091001"
THROTTLE_DESCRIPTION = "You have made too many requests continuously. Please try again after some time."


@pytest.mark.parametrize(
    ("status", "message"), [(404, "Invoice does not exist."), (200, "Invoice does not exist.")]
)
def test_code_1002_on_a_by_id_get_is_a_missing_record(status: int, message: str) -> None:
    error = translate_response(BY_ID, status, {"code": 1002, "message": message}, now=NOW)
    assert type(error) is NotFound
    assert error.code == 1002 and not error.alert


@pytest.mark.parametrize(
    ("endpoint", "status"),
    [
        ("GET /books/v3/invoicez", 404),  # a list path cannot name a missing record
        ("GET /books/v2/invoices", 404),
        (BY_ID, 400),  # a by-id GET refused as a bad request: the URL, not the record
    ],
)
def test_invalid_url_is_a_configuration_error_not_a_missing_record(endpoint: str, status: int) -> None:
    error = translate_response(endpoint, status, {"code": 1002, "message": "Invalid URL Passed"}, now=NOW)
    assert type(error) is InvalidURL
    assert not isinstance(error, NotFound)
    assert isinstance(error, PermanentError) and not isinstance(error, RetryableError)
    assert error.alert and error.code == 1002 and error.status == status
    assert endpoint in str(error) and "Invalid URL Passed" in str(error)
    assert "configur" in str(error)


def test_code_57_names_both_causes() -> None:
    error = translate(401, {"code": 57, "message": "You are not authorized to perform this operation"})
    assert isinstance(error, AuthError)
    message = str(error)
    assert "expired" in message and "scope" in message


@pytest.mark.parametrize(
    "localized", ["Access Denied", "Zugriff verweigert", "アクセスが拒否されました", "whatever"]
)
def test_token_throttle_is_the_400_failure_whatever_the_language(localized: str) -> None:
    body = {"error": localized, "error_description": THROTTLE_DESCRIPTION, "status": "failure"}
    error = token(400, body)
    assert isinstance(error, TokenMintLimited)
    assert isinstance(error, RetryableError) and not isinstance(error, AuthError)
    assert error.retry_at >= NOW + timedelta(minutes=15)
    assert error.status == 400
    message = str(error)
    assert "throttl" in message
    assert "credential" not in message and "refresh token is invalid" not in message


def test_token_throttle_backs_off_at_least_fifteen_minutes_even_with_a_short_window() -> None:
    body = {"error": "Access Denied", "status": "failure"}
    error = translate_token_response(TOKEN_URL, 400, body, now=NOW, mint_window=timedelta(minutes=1))
    assert isinstance(error, TokenMintLimited)
    assert error.retry_at == NOW + timedelta(minutes=15)


@pytest.mark.parametrize(
    ("reason", "cause"),
    [("invalid_client_secret", "client secret is wrong"), ("invalid_client", "data centre")],
)
def test_bad_credentials_with_http_200_stay_permanent(reason: str, cause: str) -> None:
    error = token(200, {"error": reason})
    assert isinstance(error, AuthError) and error.alert
    assert cause in str(error) and "throttl" not in str(error)


def test_any_error_key_is_a_failure_even_next_to_an_access_token() -> None:
    assert isinstance(token(200, {"error": "invalid_code", "access_token": "x"}), AuthError)
