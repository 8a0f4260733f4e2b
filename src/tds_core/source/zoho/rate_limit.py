"""Keep to Zoho's limits: requests a minute and a day per organization, and calls in flight.

Zoho allows 100 requests a minute per organization (code 44 beyond), a daily quota by plan
(code 45 beyond) and about 10 concurrent calls (code 1070 beyond). The minute and day limits
are per organization, not per process, so :class:`PostgresRateLimiter` counts calls in
``tds_api_usage`` (one row per organization and UTC second) where every TDS process sees them:

- ``acquire()`` takes a slot under a per-organization transaction lock (``api_usage_lock``,
  then ``api_usage_take_slot``). The minute limit is a *sliding* window: never more than
  ``requests_per_minute`` calls in any ``window_seconds`` (60) seconds, counted in whole
  seconds so the window is never under-counted. When the window is full it sleeps until its
  oldest second leaves it (plus a little jitter) and tries again; when the day is full it
  raises :class:`QuotaExhausted` with ``retry_at`` = the day's end.
- Every Zoho answer carries ``x-rate-limit-limit``, ``-remaining`` and ``-reset`` (reference
  section 10); the client hands them to :meth:`RateLimiter.observe`, kept in
  ``tds_zoho_quota``. From then on the quota is Zoho's limit (the plan's, whatever
  ``daily_quota`` says), the day runs from the organization's midnight (the reset) instead of
  UTC's, and the calls used are at least what Zoho said was used plus TDS's calls since (other
  clients of the organization spend the same quota).
- :meth:`RateLimiter.call_slot` holds one of the organization's in-flight slots for a call:
  Zoho allows 5 calls in process on Free and 10 on paid plans, counted across every client, so
  :class:`PostgresRateLimiter` leases the slots in ``tds_zoho_inflight`` (a lease ends by itself,
  so a killed process frees its slots). The cap is :meth:`RateLimiter.concurrency_cap`: the
  plan's (Free when the quota is the Free plan's 1,000 or less), never above ``max_concurrency``.
- After a code 44 the client calls ``pause_until(next minute)``: every task of the process
  waits. After a code 45, ``block_until(...)``: ``acquire()`` raises at once until then.

The time-dependent SQL reads the database clock (one clock for all machines) unless a
``clock`` is injected; ``sleep`` is injectable too, so tests never wait for real.

:class:`InFlightLimit` caps concurrent calls in a process (``max_concurrency``), lowers the cap
by one after each code 1070 and raises it back one step after a run of successes.
:class:`MemoryRateLimiter` is the same limiter for one process without a database.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import structlog

from tds_core.db import api_usage
from tds_core.db.connection import Pool, connected, transaction
from tds_core.source.zoho.config import ZohoConfig
from tds_core.source.zoho.errors import QuotaExhausted

log = structlog.get_logger("tds.zoho")

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]

FREE_PLAN_QUOTA = 1000
"""The Free plan's daily quota (reference section 2): an organization at or under it is Free."""
FREE_PLAN_CONCURRENCY = 5
PAID_PLAN_CONCURRENCY = 10
QUOTA_HEADERS = ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")


@dataclass(frozen=True)
class ObservedQuota:
    """What one Zoho answer said of the organization's daily quota."""

    limit: int
    remaining: int
    resets_at: datetime
    observed_at: datetime

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], now: datetime) -> ObservedQuota | None:
        """The ``x-rate-limit-*`` headers of an answer, or None when any is missing or malformed."""
        try:
            limit, remaining, reset = (int(str(headers[name]).strip()) for name in QUOTA_HEADERS)
        except (KeyError, ValueError):
            return None
        if limit < 1 or remaining < 0 or not 0 <= reset <= 2 * 86400:
            return None
        return cls(min(limit, 10**9), min(remaining, limit), now + timedelta(seconds=reset), now)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Slot:
    """The answer to one attempt at taking a call slot."""

    taken: bool
    now: datetime
    next_free: datetime
    """When the window's oldest calls stop counting (a slot frees up)."""
    next_day: datetime
    used_today: int
    daily_quota: int
    """The quota the slot was counted against: Zoho's limit once an answer said it."""


class RateLimiter(ABC):
    """Per-organization minute and day limits; subclasses decide where the counts live."""

    def __init__(
        self,
        organization_id: str,
        *,
        requests_per_minute: int = 100,
        daily_quota: int = 1000,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        jitter_seconds: float = 0.25,
        rng: random.Random | None = None,
        window_seconds: int = 60,
        max_concurrency: int = PAID_PLAN_CONCURRENCY,
        slot_wait_seconds: float = 0.05,
    ) -> None:
        if requests_per_minute < 1 or daily_quota < 1 or max_concurrency < 1:
            raise ValueError("requests_per_minute, daily_quota and max_concurrency must be at least 1")
        self.organization_id = organization_id
        self.requests_per_minute = requests_per_minute
        self.daily_quota = daily_quota
        """The daily quota: the configured one until a Zoho answer names the plan's."""
        self.configured_quota = daily_quota
        self.max_concurrency = max_concurrency
        self.next_reset: datetime | None = None
        """When the day's quota resets, as last counted (None before the first call)."""
        self.observed: ObservedQuota | None = None
        self._slot_wait = slot_wait_seconds
        self.window_seconds = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter_seconds
        self._rng = rng or random.Random()
        self._paused_until: datetime | None = None
        self._blocked_until: datetime | None = None
        self._blocked_reason = ""
        self.slots_taken = 0
        self.minute_waits = 0

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} org={self.organization_id} {self.requests_per_minute}/min "
            f"{self.daily_quota}/day>"
        )

    def _now(self) -> datetime:
        return self._clock() if self._clock is not None else utc_now()

    def _pinned(self) -> datetime | None:
        """The time to hand to SQL: the injected clock's, or None for the database's own."""
        return self._clock() if self._clock is not None else None

    async def acquire(self) -> None:
        """Wait for a call slot in the sliding window; raise :class:`QuotaExhausted` if the day is spent."""
        while True:
            now = self._now()
            if self._blocked_until is not None:
                if now < self._blocked_until:
                    raise QuotaExhausted(self._blocked_reason, retry_at=self._blocked_until)
                self._blocked_until = None
            if self._paused_until is not None and now < self._paused_until:
                await self._sleep((self._paused_until - now).total_seconds())
                continue
            slot = await self._take(self._pinned())
            self._adopt(slot.daily_quota, slot.next_day)
            if slot.taken:
                self.slots_taken += 1
                return
            if slot.used_today >= self.daily_quota:
                counted = (
                    "Zoho's x-rate-limit headers, the organization's day"
                    if self.observed is not None
                    else "TDS's own count, UTC day"
                )
                reason = (
                    f"the daily Zoho API quota of {self.daily_quota} calls for organization "
                    f"{self.organization_id} is used up ({counted}); pulling stops until it resets"
                )
                self.block_until(slot.next_day, reason)
                log.warning(
                    "zoho_daily_quota_used", organization_id=self.organization_id, retry_at=slot.next_day
                )
                raise QuotaExhausted(reason, retry_at=slot.next_day)
            wait = (slot.next_free - slot.now).total_seconds() + self._rng.uniform(0.0, self._jitter)
            self.minute_waits += 1
            log.debug("zoho_minute_full", organization_id=self.organization_id, wait_seconds=round(wait, 3))
            await self._sleep(max(0.0, wait))

    def _adopt(self, daily_quota: int, next_day: datetime) -> None:
        if daily_quota != self.daily_quota:
            log.info(
                "zoho_daily_quota_adopted",
                organization_id=self.organization_id,
                configured=self.configured_quota,
                zoho=daily_quota,
            )
            self.daily_quota = daily_quota
        self.next_reset = next_day

    async def observe(self, quota: ObservedQuota) -> None:
        """Take in what a Zoho answer said of the quota (its ``x-rate-limit-*`` headers)."""
        self.observed = quota
        self._adopt(quota.limit, max(quota.resets_at, quota.observed_at))
        await self._observe(quota)

    def concurrency_cap(self) -> int:
        """Calls the organization may have in flight: the plan's cap (5 on Free, whose quota is
        1,000 or less; 10 on paid plans), never above ``max_concurrency``."""
        plan = FREE_PLAN_CONCURRENCY if self.daily_quota <= FREE_PLAN_QUOTA else PAID_PLAN_CONCURRENCY
        return min(plan, self.max_concurrency)

    @asynccontextmanager
    async def call_slot(self, lease_seconds: float = 60.0) -> AsyncIterator[None]:
        """Hold one of the organization's in-flight slots for the duration of a call."""
        holder = uuid.uuid4().hex
        while True:
            slot = await self._take_call_slot(self.concurrency_cap(), holder, math.ceil(lease_seconds))
            if slot is not None:
                break
            await self._sleep(self._rng.uniform(self._slot_wait / 2, self._slot_wait * 1.5))
        try:
            yield
        finally:
            await self._release_call_slot(slot, holder)

    def pause_until(self, when: datetime) -> None:
        """Hold every call of this process until ``when`` (after Zoho's per-minute code 44)."""
        if self._paused_until is None or when > self._paused_until:
            self._paused_until = when

    def block_until(self, when: datetime, reason: str) -> None:
        """Refuse every call of this process until ``when`` (the daily quota is spent)."""
        if self._blocked_until is None or when > self._blocked_until:
            self._blocked_until = when
            self._blocked_reason = reason

    @property
    def blocked_until(self) -> datetime | None:
        return self._blocked_until

    async def used_today(self) -> int:
        """Calls counted for the organization today (its day once Zoho said it, else UTC's)."""
        used, daily_quota, next_day = await self._used_today(self._pinned())
        self._adopt(daily_quota, next_day)
        return used

    async def remaining_today(self) -> int:
        """What is left of the daily quota (zero while blocked by a code 45)."""
        if self._blocked_until is not None and self._now() < self._blocked_until:
            return 0
        used = await self.used_today()  # adopts Zoho's quota first
        return max(0, self.daily_quota - used)

    @abstractmethod
    async def _take(self, now: datetime | None) -> Slot: ...

    @abstractmethod
    async def _used_today(self, now: datetime | None) -> tuple[int, int, datetime]:
        """Calls used today, the daily quota that applies and when the day ends."""

    @abstractmethod
    async def _observe(self, quota: ObservedQuota) -> None: ...

    @abstractmethod
    async def _take_call_slot(self, cap: int, holder: str, lease_seconds: int) -> int | None: ...

    @abstractmethod
    async def _release_call_slot(self, slot: int, holder: str) -> None: ...


class PostgresRateLimiter(RateLimiter):
    """Counts in ``tds_api_usage``: the limits hold across every TDS process on the database."""

    def __init__(self, pool: Pool, organization_id: str, **options: Any) -> None:
        super().__init__(organization_id, **options)
        self._pool = pool

    @classmethod
    def for_config(cls, pool: Pool, config: ZohoConfig, **options: Any) -> PostgresRateLimiter:
        return cls(
            pool,
            config.organization_id,
            requests_per_minute=config.requests_per_minute,
            daily_quota=config.daily_quota,
            max_concurrency=config.max_concurrency,
            **options,
        )

    async def _take(self, now: datetime | None) -> Slot:
        async with connected(self._pool) as connection, transaction(connection):
            await api_usage.lock(connection, organization_id=self.organization_id)
            row = await api_usage.take_slot(
                connection,
                organization_id=self.organization_id,
                calls_per_window=self.requests_per_minute,
                daily_quota=self.daily_quota,
                now=now,
                window_seconds=self.window_seconds,
            )
        return Slot(
            taken=row["calls"] is not None,
            now=row["now"],
            next_free=row["next_free"],
            next_day=row["next_day"],
            used_today=row["used_today"],
            daily_quota=row["daily_quota"],
        )

    async def _used_today(self, now: datetime | None) -> tuple[int, int, datetime]:
        row = await api_usage.today(
            self._pool, organization_id=self.organization_id, now=now, daily_quota=self.configured_quota
        )
        return row["calls"], row["daily_quota"], row["next_day"]

    async def _observe(self, quota: ObservedQuota) -> None:
        await api_usage.zoho_quota_observe(
            self._pool,
            organization_id=self.organization_id,
            daily_limit=quota.limit,
            remaining=quota.remaining,
            resets_at=quota.resets_at,
            observed_at=quota.observed_at,
        )

    async def _take_call_slot(self, cap: int, holder: str, lease_seconds: int) -> int | None:
        async with connected(self._pool) as connection, transaction(connection):
            await api_usage.zoho_inflight_lock(connection, organization_id=self.organization_id)
            slot = await api_usage.zoho_inflight_take(
                connection,
                organization_id=self.organization_id,
                cap=cap,
                holder=holder,
                lease_seconds=lease_seconds,
            )
        return slot

    async def _release_call_slot(self, slot: int, holder: str) -> None:
        await api_usage.zoho_inflight_release(
            self._pool, organization_id=self.organization_id, slot=slot, holder=holder
        )

    async def cleanup(self, keep: timedelta = timedelta(days=2), now: datetime | None = None) -> int:
        """Delete usage rows older than ``keep`` (all organizations); returns how many went."""
        return await api_usage.delete_before(self._pool, keep=keep, now=now)


class MemoryRateLimiter(RateLimiter):
    """The same limits counted in this process only (no database: tools, unit tests)."""

    def __init__(self, organization_id: str, **options: Any) -> None:
        super().__init__(organization_id, **options)
        self._seconds: dict[datetime, int] = {}
        self._quota: ObservedQuota | None = None
        self._slots: dict[int, str] = {}

    def _day(self, now: datetime) -> datetime:
        seen = self._quota
        if seen is None:
            return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start = seen.resets_at - timedelta(days=1)
        return start + timedelta(days=math.floor((now - start) / timedelta(days=1)))

    def _used(self, now: datetime) -> int:
        day = self._day(now)
        used = sum(calls for s, calls in self._seconds.items() if day <= s < day + timedelta(days=1))
        seen = self._quota
        if seen is not None and now < seen.resets_at:
            cut = seen.observed_at.replace(microsecond=0)
            since = sum(calls for s, calls in self._seconds.items() if s > cut)
            used = max(used, seen.limit - seen.remaining + since)
        return used

    async def _take(self, now: datetime | None) -> Slot:
        now = now or utc_now()
        second = now.astimezone(UTC).replace(microsecond=0)
        day = self._day(now)
        quota = self._quota.limit if self._quota is not None else self.configured_quota
        window_start = second - timedelta(seconds=self.window_seconds)
        for old in [s for s in self._seconds if s < min(day, window_start) - timedelta(days=1)]:
            del self._seconds[old]
        used = self._used(now)
        window = {s: calls for s, calls in self._seconds.items() if s >= window_start}
        taken = sum(window.values()) < self.requests_per_minute and used < quota
        if taken:
            self._seconds[second] = self._seconds.get(second, 0) + 1
            used += 1
        oldest = min(window, default=None)
        next_free = oldest + timedelta(seconds=self.window_seconds + 1) if oldest else now
        return Slot(taken, now, next_free, day + timedelta(days=1), used, quota)

    async def _used_today(self, now: datetime | None) -> tuple[int, int, datetime]:
        now = now or utc_now()
        quota = self._quota.limit if self._quota is not None else self.configured_quota
        return self._used(now), quota, self._day(now) + timedelta(days=1)

    async def _observe(self, quota: ObservedQuota) -> None:
        if self._quota is None or self._quota.observed_at <= quota.observed_at:
            self._quota = quota

    async def _take_call_slot(self, cap: int, holder: str, lease_seconds: int) -> int | None:
        free = next((slot for slot in range(1, cap + 1) if slot not in self._slots), None)
        if free is not None:
            self._slots[free] = holder
        return free

    async def _release_call_slot(self, slot: int, holder: str) -> None:
        if self._slots.get(slot) == holder:
            del self._slots[slot]


class InFlightLimit:
    """At most ``limit`` calls in flight in this process.

    Zoho answers code 1070 when an organization has too many calls in process (about 10 on
    paid plans, 5 on Free, counted across every client of the organization). Each 1070 lowers
    the cap by one (down to ``minimum``); ``recover_after`` successes in a row raise it by one,
    back up to ``maximum``.
    """

    def __init__(self, maximum: int, *, minimum: int = 1, recover_after: int = 100) -> None:
        if maximum < 1 or not 1 <= minimum <= maximum:
            raise ValueError("need 1 <= minimum <= maximum")
        self.maximum = maximum
        self.minimum = minimum
        self.recover_after = recover_after
        self._limit = maximum
        self._in_flight = 0
        self._streak = 0
        self._changed = asyncio.Condition()

    def __repr__(self) -> str:
        return f"<InFlightLimit {self._in_flight}/{self._limit} (max {self.maximum})>"

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def __aenter__(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self._in_flight < self._limit)
            self._in_flight += 1

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        async with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()

    async def lower(self) -> int:
        """Zoho said too many calls are in flight: one fewer from now on. Returns the new cap."""
        async with self._changed:
            self._streak = 0
            if self._limit > self.minimum:
                self._limit -= 1
                log.warning("zoho_concurrency_lowered", limit=self._limit)
            return self._limit

    async def succeeded(self) -> None:
        """A call went through: after a run of successes, allow one more in flight."""
        async with self._changed:
            if self._limit >= self.maximum:
                self._streak = 0
                return
            self._streak += 1
            if self._streak >= self.recover_after:
                self._streak = 0
                self._limit += 1
                self._changed.notify_all()
                log.info("zoho_concurrency_raised", limit=self._limit)
