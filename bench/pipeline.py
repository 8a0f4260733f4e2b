"""The TDS phases: webhook acceptance, backlog drain, and end-to-end latency at a steady rate.

Each phase runs real ``python -m tds_core`` processes against its own database, cloned from
a migrated template (``CREATE DATABASE ... TEMPLATE``) so phases do not disturb each other.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import wrk
from bench.load import LoadResult, closed_loop, open_loop
from bench.payloads import Event, Workload
from bench.postgres import Server
from bench.processes import CpuMeter, Processes, free_port, tds_env, wait_http, wait_serving

ERP_TABLES = (
    "products",
    "customers",
    "invoices",
    "invoice_line_items",
    "bills",
    "bill_line_items",
    "credit_notes",
    "credit_note_line_items",
    "stock_levels",
    "price_lists",
    "price_list_items",
)
# Is anything still pending or processing? EXISTS stops at the first live row; a count(*) over
# 20,000 rows, every 50 ms, would take a noticeable share of the server from the workers.
BUSY = (
    "SELECT EXISTS (SELECT 1 FROM tds_sync_queue WHERE status = 'pending')"
    " OR EXISTS (SELECT 1 FROM tds_sync_queue WHERE status = 'processing')"
)


@dataclass
class Context:
    server: Server
    processes: Processes
    template: str  # database name of the migrated template (holds the API key)
    key: str
    home: Path
    connections: int = 32
    postgres_pid: int | None = None
    client: str = "aiohttp"  # the acceptance load client: "wrk" (bench/wrk.py) or "aiohttp"

    def meter(self, **groups: tuple[list[int], bool]) -> CpuMeter:
        """CPU accounting for ``groups`` plus PostgreSQL (all its processes) and this process."""
        if self.postgres_pid is not None:
            groups["postgres"] = ([self.postgres_pid], True)
        groups["client"] = ([os.getpid()], False)
        return CpuMeter(groups)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-TDS-Key": self.key, "Content-Type": "application/json"}


@dataclass
class AcceptanceResult:
    load: LoadResult
    warmup: LoadResult
    queued: int
    database: str  # the single-process run's is kept as the drain backlog template
    cpu: CpuMeter
    api_processes: int = 1  # ``tds api --processes N`` (1: no supervisor)

    def cpu_split(self) -> list[float]:
        """Each API process's share of the API's CPU in the timed run, largest first."""
        per_pid = self.cpu.per_pid.get("api", {})
        total = sum(per_pid.values())
        return sorted((v / total for v in per_pid.values()), reverse=True) if total else []


@dataclass
class DrainResult:
    processes: int
    concurrency: int
    events: int
    elapsed_s: float
    server_elapsed_s: float
    states: dict[str, int]
    erp_rows: dict[str, int]
    audit_rows: int
    timed_out: bool
    cpu: CpuMeter

    @property
    def rate(self) -> float:
        done = self.events - self.states.get("pending", 0) - self.states.get("processing", 0)
        return done / self.elapsed_s if self.elapsed_s else 0.0


@dataclass
class LatencyResult:
    offered_rate: float
    seconds: float
    load: LoadResult
    samples: int
    latency_ms: dict[str, float]  # p50/p95/p99/max of tds_sync_logs.latency_ms
    pickup_ms: dict[str, float]  # received_at → claimed_at (queue wait + wake-up)
    states: dict[str, int] = field(default_factory=dict)


def _base(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def api_role(processes: int) -> str:
    """The MemoryWatch role of an API started with ``processes`` processes."""
    return "api" if processes == 1 else f"api-{processes}p"


async def _start_api(ctx: Context, database_url: str, name: str, processes: int = 1) -> tuple[Any, str]:
    port = free_port()
    args = ["-m", "tds_core", "api", "--port", str(port)]
    if processes > 1:
        args += ["--processes", str(processes)]
    api = ctx.processes.spawn(api_role(processes), args, tds_env(database_url, ctx.home), name=name)
    try:
        await wait_http(api, f"{_base(port)}/api/v1/ready")
        if processes > 1:
            await wait_serving(api, port, processes, "/api/v1/ready")
    except BaseException:
        ctx.processes.stop(api)
        raise
    return api, _base(port)


async def _states(connection: Any) -> dict[str, int]:
    rows = await connection.fetch("SELECT status::text AS s, count(*) AS n FROM tds_sync_queue GROUP BY 1")
    return {r["s"]: int(r["n"]) for r in rows}


async def _closed_loop(ctx: Context, base: str, events: list[Event]) -> LoadResult:
    if ctx.client == "wrk":
        return await asyncio.to_thread(
            wrk.closed_loop, base, events, ctx.headers, connections=ctx.connections
        )
    return await closed_loop(base, events, ctx.headers, connections=ctx.connections)


async def acceptance(
    ctx: Context,
    workload: Workload,
    events: int,
    warmup: int,
    *,
    api_processes: int = 1,
    suffix: str = "accept",
) -> AcceptanceResult:
    """POST ``events`` distinct valid webhooks from ``ctx.connections`` clients to an API of
    ``api_processes`` processes on a fresh database ``<prefix>_<suffix>``; no worker runs."""
    url = await ctx.server.create_database(suffix, template=ctx.template)
    warm_events = workload.take(warmup)
    measured_events = workload.take(events)
    name = "api-acceptance" if api_processes == 1 else f"api-acceptance-{api_processes}p"
    api, base = await _start_api(ctx, url, name, api_processes)
    try:
        warm = await _closed_loop(ctx, base, warm_events)
        await ctx.server.checkpoint()
        # The whole tree: a multi-process API's supervisor and its uvicorn worker processes.
        cpu = ctx.meter(api=([api.pid], True))
        cpu.start()
        load = await _closed_loop(ctx, base, measured_events)
        cpu.stop()
    finally:
        ctx.processes.stop(api)
    connection = await ctx.server.connect(ctx.server.name(suffix))
    try:
        queued = int(await connection.fetchval("SELECT count(*) FROM tds_sync_queue"))
    finally:
        await connection.close()
    return AcceptanceResult(
        load=load,
        warmup=warm,
        queued=queued,
        database=ctx.server.name(suffix),
        cpu=cpu,
        api_processes=api_processes,
    )


async def _wait_workers(connection: Any, count: int, timeout: float = 60.0, poll: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = await connection.fetchval("SELECT count(*) FROM tds_workers WHERE stopped_at IS NULL")
        if alive >= count:
            return
        await asyncio.sleep(poll)
    raise TimeoutError(f"{count} worker(s) did not register within {timeout:.0f}s")


async def drain(ctx: Context, backlog: str, processes: int, concurrency: int, timeout: float) -> DrainResult:
    """Start ``processes`` workers on a copy of the backlog and time until nothing is pending or
    processing. The clock starts at the first claim (process start-up is not counted)."""
    suffix = f"drain_{processes}x{concurrency}"
    url = await ctx.server.create_database(suffix, template=backlog)
    connection = await ctx.server.connect(ctx.server.name(suffix))
    workers = []
    try:
        events = int(await connection.fetchval("SELECT count(*) FROM tds_sync_queue"))
        await ctx.server.checkpoint()
        env = tds_env(url, ctx.home)
        for number in range(processes):
            workers.append(
                ctx.processes.spawn(
                    "worker",
                    ["-m", "tds_core", "worker", "--concurrency", str(concurrency)],
                    env,
                    name=f"worker-drain-{processes}p-{number}",
                )
            )
        # CPU is counted from registration on, so interpreter start-up is left out.
        await _wait_workers(connection, processes, poll=0.005)
        cpu = ctx.meter(workers=([w.pid for w in workers], False))
        cpu.start()
        deadline = time.monotonic() + timeout
        timed_out = True
        while time.monotonic() < deadline:
            if not await connection.fetchval(BUSY):
                timed_out = False
                break
            for worker in workers:
                if not worker.alive():
                    raise RuntimeError(f"worker exited ({worker.process.returncode}):\n{worker.tail()}")
            await asyncio.sleep(0.1)
        finished_wall = time.time()
        cpu.stop()
        first_claim, last_finish = await connection.fetchrow(
            "SELECT extract(epoch FROM min(claimed_at))::float8, extract(epoch FROM max(finished_at))::float8"
            " FROM tds_sync_queue"
        )
        states = await _states(connection)
        erp_rows = {t: int(await connection.fetchval(f"SELECT count(*) FROM {t}")) for t in ERP_TABLES}
        audit_rows = int(await connection.fetchval("SELECT count(*) FROM tds_audit_trail"))
    finally:
        for worker in workers:
            ctx.processes.stop(worker)
        await connection.close()
    return DrainResult(
        processes=processes,
        concurrency=concurrency,
        events=events,
        elapsed_s=finished_wall - (first_claim or finished_wall),
        server_elapsed_s=(last_finish or 0.0) - (first_claim or 0.0),
        states=states,
        erp_rows=erp_rows,
        audit_rows=audit_rows,
        timed_out=timed_out,
        cpu=cpu,
    )


async def latency(
    ctx: Context, workload: Workload, rate: float, seconds: float, warmup_seconds: float, concurrency: int
) -> LatencyResult:
    """Offer ``rate`` webhooks/s for ``seconds`` with the API and one worker running; the
    end-to-end latency of each event is what the worker wrote in ``tds_sync_logs.latency_ms``."""
    url = await ctx.server.create_database("latency", template=ctx.template)
    connection = await ctx.server.connect(ctx.server.name("latency"))
    api = worker = None
    try:
        worker = ctx.processes.spawn(
            "worker",
            ["-m", "tds_core", "worker", "--concurrency", str(concurrency)],
            tds_env(url, ctx.home),
            name="worker-latency",
        )
        api, base = await _start_api(ctx, url, "api-latency")
        await _wait_workers(connection, 1)
        await open_loop(base, workload.take(max(1, round(rate * warmup_seconds))), ctx.headers, rate=rate)
        # like the other timed phases: not during the checkpoint of what the drains just wrote
        await ctx.server.checkpoint()
        measured_from = time.time()
        load = await open_loop(base, workload.take(round(rate * seconds)), ctx.headers, rate=rate)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and await connection.fetchval(BUSY):
            await asyncio.sleep(0.05)
        row = await connection.fetchrow(
            """
            SELECT count(*) AS n,
                   percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY l.latency_ms) AS p,
                   max(l.latency_ms) AS worst
            FROM tds_sync_logs l JOIN tds_sync_queue q ON q.id = l.queue_id
            WHERE q.received_at >= to_timestamp($1) AND l.latency_ms IS NOT NULL
            """,
            measured_from,
        )
        pickup = await connection.fetchrow(
            """
            SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
                       ORDER BY extract(epoch FROM claimed_at - received_at) * 1000) AS p,
                   max(extract(epoch FROM claimed_at - received_at) * 1000) AS worst
            FROM tds_sync_queue WHERE received_at >= to_timestamp($1) AND claimed_at IS NOT NULL
            """,
            measured_from,
        )
        states = await _states(connection)
    finally:
        if worker is not None:
            ctx.processes.stop(worker)
        if api is not None:
            ctx.processes.stop(api)
        await connection.close()

    def summary(p: list[float] | None, worst: float | None) -> dict[str, float]:
        values = list(p) if p else [float("nan")] * 3
        return {"p50": values[0], "p95": values[1], "p99": values[2], "max": float(worst or "nan")}

    return LatencyResult(
        offered_rate=rate,
        seconds=seconds,
        load=load,
        samples=int(row["n"]),
        latency_ms=summary(row["p"], row["worst"]),
        pickup_ms=summary(pickup["p"], pickup["worst"]),
        states=states,
    )
