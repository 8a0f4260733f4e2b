"""The Zoho Books / Inventory API client: rate-limited, retried, translated, counted.

Every call:
1. gets the cached access token (renewed shortly before it expires, see ``tokens``);
2. takes a slot from the shared rate limiter (per organization, across processes), one of
   this process's in-flight slots and one of the organization's (``call_slot``: the plan's cap,
   5 on Free and 10 on paid plans, shared by every TDS process);
3. sends ``Authorization: Zoho-oauthtoken <token>`` and ``organization_id``, and hands the
   answer's ``x-rate-limit-*`` headers to the limiter (the plan's quota, what is left, when
   it resets: the organization's midnight);
4. translates the answer once (``errors.translate_response``) and decides:
   - a refused token (401 / code 57): refresh once and repeat; refused again (or refused
     although just minted), an :class:`AuthError` naming the likely cause;
   - code 44: every task of the process waits for the next minute, then repeats;
   - code 1070: one fewer call in flight from now on, back off, repeat;
   - network error, timeout, 5xx, code 1000: back off (exponential, full jitter), repeat;
   - code 45 (daily quota): no more calls until ``retry_at``; raised at once;
   - anything else permanent (404, other 4xx): raised at once.
   At most ``max_retries`` repeats for retryable errors; the last error is raised.

``calls_made`` counts the requests sent to the API (for ``tds_sync_runs.api_calls``).
``on_throttled`` (optional) is awaited with ``per_minute``, ``daily`` or ``in_flight`` for each
answer refusing a call for a limit, so the composition root can count them (``/metrics``).

Credit notes: ``GET /creditnotes/{id}`` carries ``updated_time`` where the list carries
``last_modified_time``. A record missing ``last_modified_time`` gets it from ``updated_time``,
so a credit note has the same version whether it was listed or fetched.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from tds_core.domain.backoff import BackoffPolicy
from tds_core.errors import PermanentError
from tds_core.source.zoho.config import ZohoConfig
from tds_core.source.zoho.errors import (
    AuthError,
    QuotaExhausted,
    RateLimited,
    TooManyInFlight,
    UnexpectedResponse,
    ZohoError,
    ZohoUnavailable,
    json_object,
    translate_response,
    translate_transport,
)
from tds_core.source.zoho.modules import ZohoModule, module_named
from tds_core.source.zoho.rate_limit import (
    Clock,
    InFlightLimit,
    ObservedQuota,
    RateLimiter,
    Sleep,
    utc_now,
)
from tds_core.source.zoho.tokens import TokenManager

log = structlog.get_logger("tds.zoho")

ZOHO_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
FRESH_TOKEN_SECONDS = 60.0
LEASE_MARGIN_SECONDS = 30.0
"""An in-flight lease outlives the call's timeout by this much (then it frees itself)."""

ThrottleHook = Callable[[str], Awaitable[None]]
"""Told the reason of each limit refusal: ``per_minute`` (code 44), ``daily`` (45), ``in_flight`` (1070)."""


def throttle_reason(error: ZohoError) -> str | None:
    """Which Zoho limit refused a call, if any."""
    if isinstance(error, QuotaExhausted):
        return "daily"
    if isinstance(error, RateLimited):
        return "per_minute"
    if isinstance(error, TooManyInFlight):
        return "in_flight"
    return None


@dataclass(frozen=True)
class Page:
    """One page of a list call."""

    module: ZohoModule
    number: int
    records: list[dict[str, Any]]
    has_more_page: bool
    context: dict[str, Any] = field(default_factory=dict)


def zoho_time(value: datetime) -> str:
    """Zoho's timestamp format, ``2024-01-15T10:20:30+0530`` (an aware datetime is required)."""
    if value.tzinfo is None:
        raise ValueError("Zoho timestamps need a time zone; pass an aware datetime")
    return value.strftime(ZOHO_TIME_FORMAT)


def query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return zoho_time(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class ZohoClient:
    """Read records of one Zoho organization. Use as ``async with ZohoClient(...) as zoho:``."""

    def __init__(
        self,
        config: ZohoConfig,
        limiter: RateLimiter,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        in_flight: InFlightLimit | None = None,
        backoff: BackoffPolicy | None = None,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        on_throttled: ThrottleHook | None = None,
    ) -> None:
        self.config = config
        self._limiter = limiter
        self._on_throttled = on_throttled
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=config.timeout_seconds,
            headers={"Accept": "application/json", "User-Agent": "tds-core"},
        )
        self.tokens = TokenManager(config, self._http, clock=monotonic, wall_clock=clock)
        self.in_flight = in_flight or InFlightLimit(config.max_concurrency)
        self._backoff = backoff or BackoffPolicy(config.backoff_base_seconds, config.backoff_cap_seconds)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._calls = 0

    def __repr__(self) -> str:
        return f"<ZohoClient org={self.config.organization_id} {self.config.api_root} calls={self._calls}>"

    async def __aenter__(self) -> ZohoClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def calls_made(self) -> int:
        """Requests sent to the Zoho API so far (token requests not included)."""
        return self._calls

    @property
    def limiter(self) -> RateLimiter:
        """The organization's rate limiter (pulls read ``remaining_today()`` to pace themselves)."""
        return self._limiter

    async def get(self, module: ZohoModule | str, record_id: str) -> dict[str, Any]:
        """One record, e.g. ``await zoho.get("invoices", "460000000091001")``."""
        spec = module_named(module)
        if not str(record_id).strip():
            raise ValueError("record_id is required")
        path = f"{spec.path}/{quote(str(record_id), safe='')}"
        body = await self._call(spec, path, {})
        record = body.get(spec.record_key)
        if not isinstance(record, dict):
            raise UnexpectedResponse(
                f"GET {self._base(spec)}{path}: no {spec.record_key!r} object in the answer"
            )
        return _with_version(spec, record)

    async def list_page(
        self, module: ZohoModule | str, page: int = 1, *, per_page: int | None = None, **params: Any
    ) -> Page:
        """One page of a list; extra keyword arguments become query parameters
        (``last_modified_time=datetime``, ``sort_column="created_time"``, ``filter_by="Status.All"``)."""
        spec = module_named(module)
        if page < 1:
            raise ValueError("pages start at 1")
        size = per_page or self.config.per_page
        query = {name: query_value(value) for name, value in params.items() if value is not None}
        query.update(page=str(page), per_page=str(size))
        body = await self._call(spec, spec.path, query)
        records = body.get(spec.list_key)
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise UnexpectedResponse(
                f"GET {self._base(spec)}{spec.path}: no {spec.list_key!r} list in the answer"
            )
        context = body.get("page_context")
        if isinstance(context, dict) and "has_more_page" in context:
            has_more = bool(context["has_more_page"])
        else:
            context = {}
            has_more = len(records) >= size
        return Page(spec, page, [_with_version(spec, r) for r in records], has_more, context)

    async def iterate_pages(
        self, module: ZohoModule | str, *, per_page: int | None = None, **params: Any
    ) -> AsyncIterator[Page]:
        """Every page, from page 1 until ``has_more_page`` is false."""
        number = 1
        while True:
            page = await self.list_page(module, number, per_page=per_page, **params)
            yield page
            if not page.has_more_page:
                return
            if not page.records:
                log.warning("zoho_empty_page_with_more", module=str(module), page=number)
                return
            number += 1

    async def iterate(self, module: ZohoModule | str, **params: Any) -> AsyncIterator[dict[str, Any]]:
        """Every record of a list, page after page (``per_page`` from the config)."""
        async for page in self.iterate_pages(module, **params):
            for record in page.records:
                yield record

    def _base(self, spec: ZohoModule) -> str:
        return self.config.base_path(spec.api)

    async def _call(self, spec: ZohoModule, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        """GET one API path with the retry rules of the module docstring; returns the JSON envelope."""
        config = self.config
        endpoint = f"GET {self._base(spec)}{path}"
        url = f"{config.api_root}{self._base(spec)}{path}"
        query = {"organization_id": config.organization_id, **params}
        refreshed = False
        failures = 0
        while True:
            cause: BaseException | None = None
            body: dict[str, Any] | None = None
            token: str | None = None
            try:
                token = await self.tokens.access_token()
            except ZohoUnavailable as exc:
                error: ZohoError | None = exc
            else:
                await self._limiter.acquire()
                async with (
                    self.in_flight,
                    self._limiter.call_slot(config.timeout_seconds + LEASE_MARGIN_SECONDS),
                ):
                    self._calls += 1
                    try:
                        response = await self._http.get(
                            url, params=query, headers={"Authorization": f"Zoho-oauthtoken {token}"}
                        )
                    except httpx.HTTPError as exc:
                        error, cause = translate_transport(endpoint, exc), exc
                    else:
                        quota = ObservedQuota.from_headers(response.headers, self._clock())
                        if quota is not None:
                            await self._limiter.observe(quota)
                        body = json_object(response.content)
                        error = translate_response(
                            endpoint,
                            response.status_code,
                            body,
                            now=self._clock(),
                            quota_retry=timedelta(seconds=config.quota_retry_seconds),
                        )
                        if error is None and body is None:
                            error = UnexpectedResponse(
                                f"{endpoint}: HTTP {response.status_code}, body is not JSON"
                            )
            if error is None and body is not None:
                await self.in_flight.succeeded()
                return body
            assert error is not None
            reason = throttle_reason(error)
            if reason is not None and self._on_throttled is not None:
                await self._on_throttled(reason)
            if isinstance(error, AuthError):
                if (
                    token is not None
                    and not refreshed
                    and not self.tokens.is_fresh(token, FRESH_TOKEN_SECONDS)
                ):
                    refreshed = True
                    log.info("zoho_token_refused", endpoint=endpoint, status=error.status, code=error.code)
                    await self.tokens.refresh(stale=token)
                    continue
                raise AuthError(
                    f"Zoho refused a freshly minted access token for {endpoint}: the "
                    f"refresh token is likely expired or revoked, or it lacks the scope {spec.scope} "
                    f"({error})",
                    status=error.status,
                    code=error.code,
                ) from cause
            if isinstance(error, QuotaExhausted):
                self._limiter.block_until(error.retry_at, str(error))
                log.error(
                    "zoho_daily_quota_exhausted", endpoint=endpoint, retry_at=error.retry_at.isoformat()
                )
                raise error from cause
            if isinstance(error, PermanentError):
                raise error from cause
            failures += 1
            if failures > config.max_retries:
                log.warning("zoho_call_failed", endpoint=endpoint, attempts=failures, error=str(error))
                raise error from cause
            if isinstance(error, RateLimited):
                self._limiter.pause_until(error.retry_at)
                log.warning("zoho_rate_limited", endpoint=endpoint, retry_at=error.retry_at.isoformat())
                continue
            if isinstance(error, TooManyInFlight):
                await self.in_flight.lower()
            delay = self._backoff.delay(failures, self._rng)
            log.info(
                "zoho_call_retry",
                endpoint=endpoint,
                attempt=failures,
                delay=round(delay, 3),
                error=str(error),
            )
            await self._sleep(delay)


def _with_version(spec: ZohoModule, record: dict[str, Any]) -> dict[str, Any]:
    """Give a record ``last_modified_time`` from the module's other version field when it lacks one."""
    if record.get("last_modified_time"):
        return record
    for name in spec.version_fields[1:]:
        value = record.get(name)
        if value:
            return {**record, "last_modified_time": value}
    return record
