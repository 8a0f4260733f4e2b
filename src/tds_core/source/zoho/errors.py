"""Zoho errors, in the one TDS exception tree, and their translation at the client's boundary.

    TDSError
    └── ZohoError                      anything the Zoho source raises (``status``, ``code``, ``alert``)
        ├── (RetryableError)
        │   ├── ZohoUnavailable        network error, timeout, 5xx, code 1000
        │   ├── RateLimited            429 code 44: the per-minute limit; ``retry_at`` = next minute
        │   ├── TooManyInFlight        429 code 1070: too many concurrent calls; the client slows down
        │   ├── TokenMintLimited       TDS refuses to mint another access token inside Zoho's window,
        │                              or Zoho's token endpoint throttles the refresh token (HTTP 400
        │                              ``status: "failure"``): retry at least 15 minutes later
        │   └── QuotaExhausted         429 code 45 or TDS's own daily count: stop until ``retry_at``;
        │                              alert-worthy, never retried inside the client
        └── (PermanentError)
            ├── AuthError              401 / code 57 after one token refresh (expired token or a
            │                          missing OAuth scope), or the token endpoint refusing the
            │                          refresh token or client; alert-worthy
            ├── NotFound               404 / code 1002 on a by-id GET: the record is missing
            ├── InvalidURL             code 1002 on a list path or with HTTP 400: the URL (base
            │                          path, module path) is wrong; a configuration error,
            │                          alert-worthy, never read as a missing record
            ├── RequestRejected        any other 4xx (or a non-zero code), with Zoho's message
            └── UnexpectedResponse     a success status whose body is not Zoho's envelope

Foreign errors (httpx) are translated here, once; callers ``raise translate_transport(exc) from
exc``. Messages name the endpoint and Zoho's own message, never a token, secret or request body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from tds_core.domain import exact_json
from tds_core.errors import PermanentError, RetryableError, TDSError

CODE_SUCCESS = 0
CODE_NOT_AUTHORIZED = 57
CODE_PER_MINUTE = 44
CODE_DAILY = 45
CODE_NOT_FOUND = 1002
CODE_INTERNAL = 1000
CODE_IN_FLIGHT = 1070


class ZohoError(TDSError):
    """Base of every error of the Zoho source."""

    alert = False

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ZohoUnavailable(ZohoError, RetryableError):
    """Zoho could not be reached or failed on its side; the same call may succeed later."""


class RateLimited(ZohoError, RetryableError):
    """The organization's per-minute limit is spent; calls may resume at ``retry_at``."""

    def __init__(
        self, message: str, *, retry_at: datetime, status: int | None = 429, code: int | None = None
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_at = retry_at


class TooManyInFlight(ZohoError, RetryableError):
    """Too many concurrent calls for the organization (code 1070)."""


class TokenMintLimited(ZohoError, RetryableError):
    """Another access token now would break Zoho's minting limit; try again at ``retry_at``."""

    alert = True

    def __init__(self, message: str, *, retry_at: datetime, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_at = retry_at


class QuotaExhausted(ZohoError, RetryableError):
    """The organization's daily API quota is spent: stop pulling until ``retry_at``."""

    alert = True

    def __init__(
        self, message: str, *, retry_at: datetime, status: int | None = None, code: int | None = None
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_at = retry_at


class AuthError(ZohoError, PermanentError):
    """Zoho refuses TDS's credentials; a person has to fix them."""

    alert = True


class NotFound(ZohoError, PermanentError):
    """The record does not exist in Zoho (code 1002 on a by-id GET)."""


class InvalidURL(ZohoError, PermanentError):
    """Zoho does not know the URL TDS called ("Invalid URL Passed"): a configuration error
    (API base path, module path), never a missing record; a person has to fix it."""

    alert = True


class RequestRejected(ZohoError, PermanentError):
    """Zoho refused the request itself (4xx); repeating it cannot help."""


class UnexpectedResponse(ZohoError, PermanentError):
    """A success status whose body is not the JSON envelope Zoho documents."""


def json_object(content: bytes) -> dict[str, Any] | None:
    """The decoded body if it is a JSON object, else ``None``."""
    try:
        value = exact_json.loads(content)  # amounts keep every digit Zoho sent
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def start_of_next_minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _code(body: Mapping[str, Any] | None) -> int | None:
    value = body.get("code") if body else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def translate_response(
    endpoint: str,
    status: int,
    body: Mapping[str, Any] | None,
    *,
    now: datetime,
    quota_retry: timedelta = timedelta(hours=1),
) -> ZohoError | None:
    """The error a Zoho API answer stands for, or ``None`` for a success.

    ``endpoint`` is ``GET /books/v3/invoices`` style text for the message; ``body`` is the
    decoded JSON object (``None`` if the body was not JSON). Zoho does not say when its daily
    window resets, so a code 45 is retried after ``quota_retry`` (one probe call).
    """
    code = _code(body)
    zoho_message = str(body.get("message") or "") if body else ""
    detail = f"{endpoint}: HTTP {status}" + (f", code {code}" if code is not None else "")
    if zoho_message:
        detail += f": {zoho_message}"
    if 200 <= status < 300 and code in (CODE_SUCCESS, None):
        return None
    if code == CODE_DAILY:
        return QuotaExhausted(
            f"Zoho's daily API quota for the organization is spent; pulling stops until it resets ({detail})",
            retry_at=now + quota_retry,
            status=status,
            code=code,
        )
    if code == CODE_PER_MINUTE or (status == 429 and code != CODE_IN_FLIGHT):
        return RateLimited(detail, retry_at=start_of_next_minute(now), status=status, code=code)
    if code == CODE_IN_FLIGHT:
        return TooManyInFlight(detail, status=status, code=code)
    if status == 401 or code == CODE_NOT_AUTHORIZED:
        # Zoho answers the same 401 code 57 for an expired token and for a valid token that lacks
        # the endpoint's OAuth scope (reference section 10): name both.
        return AuthError(
            f"{detail}: the access token is expired or revoked, or the refresh token lacks the "
            "OAuth scope this endpoint needs",
            status=status,
            code=code,
        )
    if status == 404 or code == CODE_NOT_FOUND:
        # Code 1002 means both "record does not exist" and "Invalid URL Passed" (reference section
        # 7), and section 10 forbids branching on the message text. What tells them apart is the
        # call: only a by-id GET (last path segment a Zoho id, section 10: a string of digits) can
        # name a missing record, and only with a non-400 status. A 1002 on a list path, or with
        # HTTP 400 (a request Zoho could not route), is a wrong URL: a configuration error that
        # must never be read as a delete. A wrong *base* path on a by-id GET still looks like a
        # missing record here; callers that act on NotFound (hints.py) confirm with a list call.
        if status == 400 or not is_by_id(endpoint):
            return InvalidURL(
                f"{detail}: Zoho does not know this URL; check the configured API base and module "
                "paths (a configuration error, not a missing record)",
                status=status,
                code=code,
            )
        return NotFound(detail, status=status, code=code)
    if status >= 500 or status == 408 or code == CODE_INTERNAL:
        return ZohoUnavailable(detail, status=status, code=code)
    if 400 <= status < 500 or code is not None:
        return RequestRejected(detail, status=status, code=code)
    return UnexpectedResponse(detail, status=status, code=code)


_BY_ID = re.compile(r"/\d+/?$")


def is_by_id(endpoint: str) -> bool:
    """Does ``endpoint`` (``GET /books/v3/invoices/460000000091001``) fetch one record by id?"""
    path = endpoint.split(" ", 1)[-1].split("?", 1)[0]
    return _BY_ID.search(path) is not None


def translate_transport(endpoint: str, exc: httpx.HTTPError) -> ZohoError:
    """A network-level failure (no usable answer): always worth retrying, except a bad URL."""
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return ZohoUnavailable(f"{endpoint}: timed out ({kind})")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return RequestRejected(f"{endpoint}: invalid URL ({kind})")
    return ZohoUnavailable(f"{endpoint}: {kind}: {exc}")


TOKEN_ERROR_CAUSES = {
    "invalid_code": "the refresh token is invalid, expired or revoked: generate a new one "
    "(Self Client, access_type=offline) and set it",
    "invalid_token": "the refresh token is invalid or revoked: generate a new one and set it",
    "invalid_client": "the client id or secret is wrong, or the data centre is wrong "
    "(the client must belong to this accounts server)",
    "invalid_client_secret": "the client secret is wrong",
    "unauthorized_client": "the client is not allowed to use the refresh-token grant",
}


TOKEN_THROTTLE_BACKOFF = timedelta(minutes=15)
"""Zoho's refresh throttle is reported to last 15-30 minutes (reference section 10)."""


def translate_token_response(
    token_url: str, status: int, body: Mapping[str, Any] | None, *, now: datetime, mint_window: timedelta
) -> ZohoError | None:
    """The error a token-endpoint answer stands for, or ``None`` when it carries an access token.

    Zoho's token endpoint does not use the API envelope (reference section 10): any ``error`` key
    is a failure, whatever the HTTP status. Bad credentials come with HTTP 200
    (``{"error": "invalid_client_secret"}``): permanent. The refresh throttle comes with HTTP 400
    ``{"error": "Access Denied", "error_description": ..., "status": "failure"}`` whose ``error``
    is *localized*, so it is recognised by its shape (400 + ``status: "failure"``), never by its
    text: a retryable :class:`TokenMintLimited` at least :data:`TOKEN_THROTTLE_BACKOFF` away,
    never a bad refresh token. The older lowercase ``access_denied`` reads the same way.
    """
    endpoint = f"POST {token_url}"
    reason = str(body.get("error") or "") if body else ""
    if reason:
        described = str(body.get("error_description") or "") if body else ""
        suffix = f" ({described})" if described else ""
        failure = body is not None and str(body.get("status") or "").lower() == "failure"
        if reason not in TOKEN_ERROR_CAUSES and (reason == "access_denied" or (status == 400 and failure)):
            return TokenMintLimited(
                f"{endpoint}: HTTP {status}: Zoho is throttling token refreshes for this refresh "
                f"token ({reason}{suffix}): too many token requests in a short time; backing off "
                f"until the throttle lifts (15-30 minutes); the refresh token and client are not at fault",
                retry_at=now + max(mint_window, TOKEN_THROTTLE_BACKOFF),
                status=status,
            )
        cause = TOKEN_ERROR_CAUSES.get(reason, "Zoho refused the refresh-token grant")
        return AuthError(f"{endpoint}: {reason}{suffix}: {cause}", status=status)
    if status >= 500 or status in (408, 429):
        return ZohoUnavailable(f"{endpoint}: HTTP {status}", status=status)
    if status in (400, 401, 403):
        return AuthError(
            f"{endpoint}: HTTP {status}: Zoho refused the refresh-token grant; check the client id, "
            "secret, refresh token and data centre",
            status=status,
        )
    if not 200 <= status < 300:
        return RequestRejected(f"{endpoint}: HTTP {status}", status=status)
    if body is None or not isinstance(body.get("access_token"), str) or not body.get("access_token"):
        return UnexpectedResponse(f"{endpoint}: HTTP {status} without an access_token", status=status)
    return None
