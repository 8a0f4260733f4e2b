"""The simulator's knobs: a frozen config with named defaults, and mutable fault switches.

Defaults follow ``zoho-books-reference.md``: 100 requests a minute per organization, 10
concurrent calls (paid plans), a daily quota (Premium and above: 10,000), access tokens that
live an hour, and at most 10 access tokens minted per refresh token in 10 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ORGANIZATION_ID = "10234695"
DEFAULT_CLIENT_ID = "1000.SIMULATORCLIENT0000000000000000"
# Public, made-up credentials of the simulated organization (not secrets).
DEFAULT_CLIENT_SECRET = "simulator0secret0000000000000000000000000000"  # noqa: S105
DEFAULT_REFRESH_TOKEN = "1000.simulator0refresh0token.0000000000000000"  # noqa: S105

REQUESTS_PER_MINUTE = 100
DAILY_REQUEST_LIMIT = 10_000
MAX_CONCURRENT_REQUESTS = 10
ACCESS_TOKEN_SECONDS = 3600
TOKEN_MINTS_PER_WINDOW = 10
TOKEN_MINT_WINDOW_SECONDS = 600
DEFAULT_PER_PAGE = 200
MAX_PER_PAGE = 200
DEFAULT_TIME_ZONE = "Asia/Kolkata"
TOKEN_THROTTLE_MINUTES = 15  # the reference: a throttled refresh token is refused 15-30 minutes
# The token throttle's ``error`` text is localized (reference section 10); the simulator knows
# these renderings (made up beyond English: the real translations are not recorded).
TOKEN_THROTTLE_ERRORS: dict[str, str] = {
    "en": "Access Denied",
    "de": "Zugriff verweigert",
    "fr": "Accès refusé",
    "es": "Acceso denegado",
    "ja": "アクセスが拒否されました",
}


@dataclass(frozen=True)
class SimulatorConfig:
    """One simulated Zoho organization and the limits it enforces.

    ``api_domain`` is what the token endpoint returns as ``api_domain``; a client appends
    ``/books/v3`` or ``/inventory/v1`` to it. ``serve()`` sets it to the simulator's own URL.

    ``undocumented_sort_column``: what a list does with a ``sort_column`` the reference does
    not document for that endpoint (e.g. ``last_modified_time`` on invoices). Zoho's answer is
    unconfirmed; ``"reject"`` (HTTP 400, code 2) makes a client that relies on it fail loudly,
    ``"ignore"`` sorts by the endpoint's default column instead.

    ``books_items_include_inventory_fields``: the Books item documents list neither
    ``last_modified_time`` nor a top-level ``stock_on_hand`` (open question 5 of the
    reference), so Books ``/items`` leaves them out by default; set this to add them.

    ``ignore_sort``: lists ignore the asked ``sort_column`` / ``sort_order`` and apply the
    endpoint's default order, echoing the order they really applied in ``page_context`` (a
    client must check the echo, reference section 10).

    ``hide_inactive_by_default``: contacts and Books items lists leave out inactive records
    unless ``filter_by=Status.All`` (or ``Status.Inactive``) is asked, and echo the applied
    filter (``Status.Active``). Whether Zoho's default filter hides them is unconfirmed; the
    default assumes the worse case.

    ``time_zone``: the organization's IANA zone. Timestamps carry its offset and the daily
    quota resets at its midnight. The :class:`~tds_core.simulator.store.Store` must be built
    with the same zone (``create_app`` refuses a mismatch).

    ``token_throttle_minutes``: once a refresh token minted its quota of access tokens in the
    window, every refresh with it is refused (HTTP 400, ``status: "failure"``) this long.
    ``token_error_language`` picks the localized ``error`` text of that answer (one of
    :data:`TOKEN_THROTTLE_ERRORS`).

    ``granted_scopes``: the OAuth scopes the refresh token carries (``None``: every scope);
    a call to an endpoint whose scope is missing answers 401 code 57, like an expired token.

    ``token_seed`` varies the (deterministic) access tokens between simulators.
    """

    organization_id: str = DEFAULT_ORGANIZATION_ID
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    refresh_token: str = DEFAULT_REFRESH_TOKEN
    api_domain: str = "http://127.0.0.1:8090"
    access_token_seconds: int = ACCESS_TOKEN_SECONDS
    token_mints_per_window: int = TOKEN_MINTS_PER_WINDOW
    token_mint_window_seconds: int = TOKEN_MINT_WINDOW_SECONDS
    requests_per_minute: int = REQUESTS_PER_MINUTE
    daily_request_limit: int = DAILY_REQUEST_LIMIT
    max_concurrent_requests: int = MAX_CONCURRENT_REQUESTS
    default_per_page: int = DEFAULT_PER_PAGE
    max_per_page: int = MAX_PER_PAGE
    undocumented_sort_column: Literal["reject", "ignore"] = "reject"
    books_items_include_inventory_fields: bool = False
    ignore_sort: bool = False
    hide_inactive_by_default: bool = True
    time_zone: str = DEFAULT_TIME_ZONE
    token_throttle_minutes: int = TOKEN_THROTTLE_MINUTES
    token_error_language: str = "en"  # noqa: S105 - a language code, not a secret
    granted_scopes: frozenset[str] | None = None
    token_seed: int = 0

    def __post_init__(self) -> None:
        for name in (
            "access_token_seconds",
            "token_mints_per_window",
            "token_mint_window_seconds",
            "requests_per_minute",
            "daily_request_limit",
            "max_concurrent_requests",
            "default_per_page",
            "max_per_page",
            "token_throttle_minutes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.default_per_page > self.max_per_page:
            raise ValueError("default_per_page cannot exceed max_per_page")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"time_zone {self.time_zone!r} is not an IANA time zone") from None
        if self.token_error_language not in TOKEN_THROTTLE_ERRORS:
            known = ", ".join(TOKEN_THROTTLE_ERRORS)
            raise ValueError(f"token_error_language must be one of: {known}")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class Faults:
    """Switches a test flips at run time: fail the next N API calls, or add latency.

    Failed calls answer HTTP 500 ``{"code": 1000, "message": "Internal error"}``. Latency is
    spent while the call counts as in flight, so it also drives the concurrency limit.
    """

    def __init__(self) -> None:
        self.failures_left = 0
        self.latency_seconds = 0.0

    def fail_next(self, calls: int) -> None:
        if calls < 0:
            raise ValueError("calls must be zero or more")
        self.failures_left = calls

    def take_failure(self) -> bool:
        if self.failures_left > 0:
            self.failures_left -= 1
            return True
        return False
