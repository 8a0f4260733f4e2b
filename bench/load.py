"""The load client: aiohttp over a fixed number of keep-alive connections (httpx tops out near
200 req/s on this machine, see BENCHMARKING.md). Bodies are encoded before the clock starts."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

from bench.payloads import Event

REQUEST_TIMEOUT = 30.0


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile (``fraction`` in 0..1); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class LoadResult:
    sent: int
    elapsed_s: float
    statuses: Counter[int | str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    bodies: Counter[str] = field(default_factory=Counter)  # the "status" field of 202 answers
    offered_rate: float | None = None
    started_wall: float = 0.0
    # a client that reports percentiles rather than every latency (wrk): fraction -> ms
    percentiles_ms: dict[float, float] = field(default_factory=dict)
    summary_mean_ms: float | None = None
    client_cpu_s: float | None = None  # a separate client process's CPU over the run (wrk)

    @property
    def ok(self) -> int:
        return sum(n for code, n in self.statuses.items() if code in (200, 202))

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0

    def p(self, fraction: float) -> float:
        if not self.latencies_ms and fraction in self.percentiles_ms:
            return self.percentiles_ms[fraction]
        return percentile(self.latencies_ms, fraction)

    @property
    def mean_ms(self) -> float:
        if not self.latencies_ms and self.summary_mean_ms is not None:
            return self.summary_mean_ms
        return statistics.fmean(self.latencies_ms) if self.latencies_ms else float("nan")


def _session(connections: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections, ttl_dns_cache=None)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        skip_auto_headers=("User-Agent",),
    )


async def _send(
    session: aiohttp.ClientSession, url: str, event: Event, headers: dict[str, str], result: LoadResult
) -> None:
    started = time.perf_counter()
    try:
        async with session.post(url + event.path, data=event.body, headers=headers) as response:
            payload = await response.read()
            status: int | str = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        result.statuses[type(exc).__name__] += 1
        return
    result.latencies_ms.append((time.perf_counter() - started) * 1000.0)
    result.statuses[status] += 1
    if status == 202 and b'"duplicate"' in payload:
        result.bodies["duplicate"] += 1


async def closed_loop(
    url: str,
    events: Sequence[Event],
    headers: dict[str, str],
    *,
    connections: int = 32,
    max_seconds: float = 180.0,
) -> LoadResult:
    """``connections`` clients, each sending its next request as soon as the last is answered.
    No new request starts after ``max_seconds`` (``sent`` then says how many went out)."""
    result = LoadResult(sent=0, elapsed_s=0.0)
    pending = iter(events)
    async with _session(connections) as session:
        started = time.perf_counter()
        deadline = started + max_seconds

        async def client() -> None:
            for event in pending:
                result.sent += 1
                await _send(session, url, event, headers, result)
                if time.perf_counter() > deadline:
                    return

        result.started_wall = time.time()
        await asyncio.gather(*(client() for _ in range(connections)))
        result.elapsed_s = time.perf_counter() - started
    return result


async def open_loop(
    url: str, events: Sequence[Event], headers: dict[str, str], *, rate: float, connections: int = 32
) -> LoadResult:
    """Send at a fixed offered ``rate`` (requests/s) whatever the answers' speed (no coordinated
    omission): request ``n`` leaves at ``start + n / rate``."""
    result = LoadResult(sent=len(events), elapsed_s=0.0, offered_rate=rate)
    async with _session(connections) as session:
        loop = asyncio.get_running_loop()
        tasks: list[asyncio.Task[None]] = []
        result.started_wall = time.time()
        started = loop.time()
        for number, event in enumerate(events):
            delay = started + number / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_send(session, url, event, headers, result)))
        await asyncio.gather(*tasks)
        result.elapsed_s = loop.time() - started
    return result
