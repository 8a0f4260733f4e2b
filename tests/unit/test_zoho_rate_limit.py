"""The in-process pieces of the rate limiter: the limiter logic (on the in-memory counts) and the
in-flight cap. The shared PostgreSQL limiter is tested in tests/integration."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tds_core.source.zoho import InFlightLimit, MemoryRateLimiter, QuotaExhausted
from tests.zoho_fakes import FakeClock


def limiter(clock: FakeClock, **options: int) -> MemoryRateLimiter:
    return MemoryRateLimiter("org", clock=clock, sleep=clock.sleep, jitter_seconds=0, **options)


async def test_a_full_window_waits_until_its_oldest_calls_leave_it() -> None:
    clock = FakeClock(exact=True)
    limits = limiter(clock, requests_per_minute=2)
    for _ in range(5):
        await limits.acquire()
    assert clock.sleeps == [61.0, 61.0]
    assert clock.now == datetime(2030, 1, 15, 12, 2, 12, tzinfo=UTC)
    assert limits.minute_waits == 2 and limits.slots_taken == 5


async def test_no_sixty_second_window_holds_more_than_the_limit() -> None:
    """Calls asked for at uneven times, across minute boundaries: any 60 s holds at most 3."""
    clock = FakeClock(datetime(2030, 1, 15, 12, 0, 57, tzinfo=UTC), exact=True)
    limits = limiter(clock, requests_per_minute=3)
    made: list[datetime] = []
    for gap in [0, 1, 1, 1, 0, 5, 30, 0, 0, 2, 59, 1]:
        clock.advance(gap)
        await limits.acquire()
        made.append(clock.now)
    for start in made:
        assert sum(start <= t < start + timedelta(seconds=60) for t in made) <= 3


async def test_daily_quota() -> None:
    clock = FakeClock(datetime(2030, 1, 15, 23, 58, 30, tzinfo=UTC), exact=True)
    limits = limiter(clock, requests_per_minute=2, daily_quota=3)
    for _ in range(3):
        await limits.acquire()
    assert await limits.used_today() == 3
    assert await limits.remaining_today() == 0
    with pytest.raises(QuotaExhausted, match="daily Zoho API quota of 3") as exhausted:
        await limits.acquire()
    assert exhausted.value.retry_at == datetime(2030, 1, 16, tzinfo=UTC)
    assert exhausted.value.alert
    clock.advance(90)
    await limits.acquire()
    assert await limits.used_today() == 1


async def test_pause_holds_every_call() -> None:
    clock = FakeClock()
    limits = limiter(clock)
    limits.pause_until(datetime(2030, 1, 15, 12, 1, tzinfo=UTC))
    await limits.acquire()
    assert clock.sleeps == [50.0]


async def test_block_refuses_until_its_time() -> None:
    clock = FakeClock()
    limits = limiter(clock)
    limits.block_until(clock.now + timedelta(minutes=5), "Zoho said the day is spent")
    with pytest.raises(QuotaExhausted, match="Zoho said the day is spent"):
        await limits.acquire()
    assert await limits.remaining_today() == 0
    clock.advance(300)
    await limits.acquire()
    assert limits.blocked_until is None


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MemoryRateLimiter("org", requests_per_minute=0)


async def test_in_flight_cap() -> None:
    gate = InFlightLimit(2)
    highest = 0

    async def call() -> None:
        nonlocal highest
        async with gate:
            highest = max(highest, gate.in_flight)
            await asyncio.sleep(0.001)

    await asyncio.gather(*(call() for _ in range(10)))
    assert highest == 2
    assert gate.in_flight == 0


async def test_in_flight_cap_is_lowered_and_recovers() -> None:
    gate = InFlightLimit(3, minimum=1, recover_after=2)
    assert [await gate.lower() for _ in range(3)] == [2, 1, 1]
    await gate.succeeded()
    assert gate.limit == 1
    await gate.succeeded()
    assert gate.limit == 2
    await gate.lower()
    await gate.succeeded()
    assert gate.limit == 1
    for _ in range(10):
        await gate.succeeded()
    assert gate.limit == 3


async def test_raised_cap_wakes_a_waiter() -> None:
    gate = InFlightLimit(2, recover_after=1)
    await gate.lower()
    async with gate:
        waiter = asyncio.create_task(gate.__aenter__())
        await asyncio.sleep(0)
        assert not waiter.done()
        await gate.succeeded()
        await asyncio.wait_for(waiter, 1)
        assert gate.in_flight == 2
        await gate.__aexit__(None, None, None)


def test_in_flight_bounds() -> None:
    with pytest.raises(ValueError):
        InFlightLimit(0)
    with pytest.raises(ValueError):
        InFlightLimit(2, minimum=3)
