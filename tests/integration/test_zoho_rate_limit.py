"""The shared rate limiter on a real PostgreSQL: two limiter instances (two pools, as two
processes would have) share one organization's sliding minute and day through tds_api_usage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tds_core.db.pool import create_pool
from tds_core.source.zoho import PostgresRateLimiter, QuotaExhausted, ZohoClient
from tests.zoho_fakes import FakeClock, FakeZoho, make_config

ORG = "10234695"


@pytest.fixture
async def other_pool(database_url: str) -> AsyncIterator[Any]:
    """A second pool on the same database: the other process."""
    pool = await create_pool(database_url, min_size=1, max_size=8)
    yield pool
    await pool.close()


def limiter(pool: Any, clock: FakeClock, organization_id: str = ORG, **options: int) -> PostgresRateLimiter:
    return PostgresRateLimiter(
        pool, organization_id, clock=clock, sleep=clock.sleep, jitter_seconds=0, **options
    )


async def usage(pool: Any, organization_id: str = ORG) -> dict[datetime, int]:
    rows = await pool.fetch(
        "SELECT second, calls FROM tds_api_usage WHERE organization_id = $1 ORDER BY second", organization_id
    )
    return {row["second"]: row["calls"] for row in rows}


def at(hour: int, minute: int, second: int = 0, day: int = 15) -> datetime:
    return datetime(2030, 1, day, hour, minute, second, tzinfo=UTC)


def never_over(counts: dict[datetime, int], limit: int, window: int = 60) -> bool:
    """No sliding window holds more than ``limit`` calls: buckets up to ``window`` seconds apart
    are counted together (a call late in one second and early in a bucket 60 s on can be < 60 s
    apart)."""
    return all(
        sum(calls for other, calls in counts.items() if start <= other <= start + timedelta(seconds=window))
        <= limit
        for start in counts
    )


async def test_two_limiters_share_the_window(pool: Any, other_pool: Any) -> None:
    clock = FakeClock(exact=True)
    first = limiter(pool, clock, requests_per_minute=5)
    second = limiter(other_pool, clock, requests_per_minute=5)
    for number in range(5):
        await (first if number % 2 else second).acquire()
    assert clock.sleeps == []
    await first.acquire()
    # the window frees up when the first second's calls are more than 60 s old
    assert clock.sleeps == [61.0]
    assert clock.now == at(12, 1, 11)
    assert await usage(pool) == {at(12, 0, 10): 5, at(12, 1, 11): 1}
    assert await second.used_today() == 6


async def test_a_window_across_a_minute_boundary_is_still_limited(pool: Any, other_pool: Any) -> None:
    """Five calls at 12:00:59 fill the window: a call at 12:01:00 (a new calendar minute) waits."""
    clock = FakeClock(at(12, 0, 59), exact=True)
    first = limiter(pool, clock, requests_per_minute=5)
    second = limiter(other_pool, clock, requests_per_minute=5)
    for number in range(5):
        await (first if number % 2 else second).acquire()
    clock.advance(1)
    await second.acquire()
    assert clock.now == at(12, 2, 0) and clock.sleeps == [60.0]
    assert never_over(await usage(pool), 5)


async def test_concurrent_callers_never_exceed_the_limit(pool: Any, other_pool: Any) -> None:
    clock = FakeClock(exact=True)
    limiters = [
        limiter(pool, clock, requests_per_minute=7),
        limiter(other_pool, clock, requests_per_minute=7),
    ]
    await asyncio.gather(*(limiters[n % 2].acquire() for n in range(20)))
    counts = await usage(pool)
    # all twenty asked at 12:00:10; the waiters' sleeps move the shared fake clock in jumps
    assert counts[at(12, 0, 10)] == 7
    assert never_over(counts, 7)
    assert sum(counts.values()) == 20
    assert sum(item.slots_taken for item in limiters) == 20


async def test_the_slot_is_atomic_under_contention(pool: Any, other_pool: Any) -> None:
    """Forty callers at once on sixteen connections, one minute of room for 7: exactly 7 get in."""

    class MinuteFull(Exception):
        pass

    async def give_up(_seconds: float) -> None:
        raise MinuteFull

    clock = FakeClock()
    limiters = [
        PostgresRateLimiter(shared, ORG, requests_per_minute=7, clock=clock, sleep=give_up)
        for shared in (pool, other_pool)
    ]
    results = await asyncio.gather(*(limiters[n % 2].acquire() for n in range(40)), return_exceptions=True)
    assert sum(result is None for result in results) == 7
    assert all(isinstance(result, MinuteFull) for result in results if result is not None)
    assert await usage(pool) == {at(12, 0, 10): 7}


async def test_daily_quota_is_shared(pool: Any, other_pool: Any) -> None:
    clock = FakeClock(exact=True)
    first = limiter(pool, clock, requests_per_minute=5, daily_quota=12)
    second = limiter(other_pool, clock, requests_per_minute=5, daily_quota=12)
    for number in range(12):
        await (first if number % 2 else second).acquire()
    spent = {at(12, 0, 10): 5, at(12, 1, 11): 5, at(12, 2, 12): 2}
    assert await usage(pool) == spent
    for side in (first, second):
        with pytest.raises(QuotaExhausted, match="daily Zoho API quota of 12") as exhausted:
            await side.acquire()
        assert exhausted.value.retry_at == datetime(2030, 1, 16, tzinfo=UTC)
        assert await side.remaining_today() == 0
    assert await usage(pool) == spent

    clock.now = datetime(2030, 1, 16, 0, 0, 5, tzinfo=UTC)
    await first.acquire()
    await second.acquire()
    assert await first.used_today() == 2
    assert await first.remaining_today() == 10


async def test_organizations_are_counted_apart(pool: Any) -> None:
    clock = FakeClock()
    books = limiter(pool, clock, requests_per_minute=2)
    other = limiter(pool, clock, "20000001", requests_per_minute=2)
    for _ in range(2):
        await books.acquire()
        await other.acquire()
    assert clock.sleeps == []
    assert await usage(pool) == {at(12, 0, 10): 2}
    assert await usage(pool, "20000001") == {at(12, 0, 10): 2}


async def test_database_clock_by_default(pool: Any) -> None:
    limits = PostgresRateLimiter(pool, ORG)
    await limits.acquire()
    assert await limits.used_today() == 1
    (second,) = (await usage(pool)).keys()
    assert second == second.replace(microsecond=0)
    assert abs((datetime.now(UTC) - second).total_seconds()) < 120


async def test_cleanup_forgets_old_rows(pool: Any) -> None:
    clock = FakeClock()
    limits = limiter(pool, clock)
    await limits.acquire()
    clock.now += timedelta(days=3)
    await limits.acquire()
    assert len(await usage(pool)) == 2
    assert await limits.cleanup(timedelta(days=2), now=clock.now) == 1
    assert await usage(pool) == {clock.now.replace(microsecond=0): 1}
    assert await limits.cleanup(now=clock.now) == 0


async def test_client_calls_are_counted_for_every_process(pool: Any, other_pool: Any) -> None:
    clock = FakeClock(exact=True)
    zoho = FakeZoho()
    config = make_config(requests_per_minute=3)
    clients = [
        ZohoClient(
            config,
            PostgresRateLimiter.for_config(shared, config, clock=clock, sleep=clock.sleep, jitter_seconds=0),
            transport=zoho.transport(),
            clock=clock,
            sleep=clock.sleep,
            monotonic=clock.monotonic,
        )
        for shared in (pool, other_pool)
    ]
    try:
        for number in range(5):
            await clients[number % 2].get("invoices", str(number))
    finally:
        for client in clients:
            await client.aclose()
    assert await usage(pool) == {at(12, 0, 10): 3, at(12, 1, 11): 2}
    assert [c.calls_made for c in clients] == [3, 2]
    assert len(zoho.api_requests) == 5
    assert isinstance(zoho.api_requests[0], httpx.Request)
