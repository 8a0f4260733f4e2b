"""The Zoho source: a full sync of every entity from the simulator, then a reconciliation.

The simulator runs as a real process (``python -m bench.zoho PORT SEED RECORDS``: the
``tds simulate`` server with its rate limits raised, since the CLI has no option for them) and
is reached over real HTTP on 127.0.0.1. TDS's side — the ``Puller`` and ``Reconciler`` with a
``ZohoClient`` and its ``PostgresRateLimiter`` (one durable upsert in ``tds_api_usage`` per
call) — runs in this benchmark process, against its own database cloned from the template.

1. Full sync: ``Puller.run_once(entity, full=True)`` for every entity in turn, as ``tds sync
   all --full`` does. Timed: Zoho list pages, one GET per new invoice / bill / credit note /
   contact, and staging (inbox + queue rows). The queue is not drained inside the clock.
2. Drain (not a measure here, the pipeline drain is measured elsewhere): one ``tds worker``
   process applies the staged events, so the ERP holds what Zoho holds.
3. Reconciliation: ``Reconciler.run_once(entity)`` for every entity: each entity's full Zoho list
   compared with every ERP row (no drift is expected, so no heal calls). The time spent waiting
   for list pages is recorded separately, to give the comparison's own time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from bench.pipeline import BUSY, Context, _states, _wait_workers
from bench.processes import CpuMeter, free_port, tds_env

ZOHO_BUDGET_PER_MINUTE = 100  # calls per minute per organization, Zoho's real limit
RAISED_LIMIT = 10_000_000  # the simulator's and the client's limits during the benchmark
SEED = 11


@dataclass
class EntityRun:
    entity: str
    seconds: float
    fetched: int = 0
    staged: int = 0
    unchanged: int = 0
    failed: int = 0
    api_calls: int = 0
    drift: int = 0
    status: str = ""


@dataclass
class ZohoResult:
    records_per_module: int
    transport: str
    sync: list[EntityRun] = field(default_factory=list)
    sync_s: float = 0.0
    sync_cpu: CpuMeter | None = None
    queued: int = 0  # queue rows after the sync
    drain_s: float = 0.0
    drain_states: dict[str, int] = field(default_factory=dict)
    reconcile: list[EntityRun] = field(default_factory=list)
    reconcile_s: float = 0.0
    reconcile_fetch_s: float = 0.0  # waiting for Zoho list pages inside the reconciliation
    reconcile_cpu: CpuMeter | None = None

    @property
    def api_calls(self) -> int:
        return sum(r.api_calls for r in self.sync)

    @property
    def staged(self) -> int:
        return sum(r.staged for r in self.sync)

    @property
    def fetched(self) -> int:
        return sum(r.fetched for r in self.sync)

    @property
    def sync_rate(self) -> float:
        return self.staged / self.sync_s if self.sync_s else 0.0

    @property
    def ms_per_call(self) -> float:
        return self.sync_s * 1000 / self.api_calls if self.api_calls else float("nan")

    @property
    def budget_s(self) -> float:
        """The sync's API calls at Zoho's real budget: the floor of its production wall time."""
        return self.api_calls * 60 / ZOHO_BUDGET_PER_MINUTE

    @property
    def overhead(self) -> float:
        """TDS's time (this run's whole wall time, simulator included) over the budget's time:
        what a sync at 100 calls/minute would add if none of it overlapped the wait for a slot."""
        return self.sync_s / self.budget_s if self.budget_s else float("nan")

    @property
    def checked(self) -> int:
        return sum(r.fetched for r in self.reconcile)

    @property
    def reconcile_calls(self) -> int:
        return sum(r.api_calls for r in self.reconcile)

    @property
    def drift(self) -> int:
        return sum(r.drift for r in self.reconcile)

    @property
    def compare_s(self) -> float:
        return max(self.reconcile_s - self.reconcile_fetch_s, 0.0)


class TimedClient:
    """A ZohoClient whose ``iterate`` counts the time spent waiting for the next record (the
    list pages); everything else is the client's own."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.waiting_s = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def iterate(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        records = self._client.iterate(*args, **kwargs).__aiter__()
        while True:
            started = time.monotonic()
            try:
                record = await records.__anext__()
            except StopAsyncIteration:
                self.waiting_s += time.monotonic() - started
                return
            self.waiting_s += time.monotonic() - started
            yield record


async def _wait_listening(child: Any, port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"simulator exited ({child.process.returncode}):\n{child.tail()}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.close()
        return
    raise TimeoutError(f"simulator not listening on {port} after {timeout:.0f}s:\n{child.tail()}")


async def measure(ctx: Context, records_per_module: int, drain_timeout: float = 300.0) -> ZohoResult:
    """Full sync, drain (untimed here), reconciliation; see the module docstring."""
    import structlog

    from tds_core.app import simulator_zoho_config
    from tds_core.db.pool import create_pool
    from tds_core.domain.entities import ENTITY_SLUGS
    from tds_core.reconcile.service import Reconciler
    from tds_core.simulator.config import SimulatorConfig
    from tds_core.source.pull import PullConfig, Puller
    from tds_core.source.zoho.client import ZohoClient
    from tds_core.source.zoho.rate_limit import PostgresRateLimiter

    # The puller and reconciler log every run at info; keep the benchmark's console readable.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    suffix = "zoho"
    url = await ctx.server.create_database(suffix, template=ctx.template)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    simulator = ctx.processes.spawn(
        "simulator",
        ["-m", "bench.zoho", str(port), str(SEED), str(records_per_module)],
        dict(os.environ),
        name="simulator",
    )
    result = ZohoResult(records_per_module, "a real simulator process over HTTP on 127.0.0.1")
    pool = await create_pool(url, min_size=2, max_size=4, application_name="tds-bench-zoho")
    worker = None
    try:
        await _wait_listening(simulator, port)
        sim = SimulatorConfig()
        config = simulator_zoho_config(
            base,
            sim,
            requests_per_minute=RAISED_LIMIT,
            daily_quota=RAISED_LIMIT,
        )
        async with ZohoClient(config, PostgresRateLimiter.for_config(pool, config)) as client:
            puller = Puller(pool, client, PullConfig(use_inventory=False))
            await ctx.server.checkpoint()
            cpu = ctx.meter(simulator=([simulator.pid], False))
            cpu.start()
            started = time.monotonic()
            for entity in ENTITY_SLUGS:
                began = time.monotonic()
                pulled = await puller.run_once(entity, full=True, triggered_by="bench")
                result.sync.append(
                    EntityRun(
                        entity,
                        time.monotonic() - began,
                        fetched=pulled.fetched,
                        staged=pulled.queued,
                        unchanged=pulled.unchanged,
                        failed=pulled.failed,
                        api_calls=pulled.api_calls,
                        status=pulled.status,
                    )
                )
            result.sync_s = time.monotonic() - started
            cpu.stop()
            result.sync_cpu = cpu
            result.queued = int(await pool.fetchval("SELECT count(*) FROM tds_sync_queue"))

            # The ERP must hold the records before reconciliation compares them.
            worker = ctx.processes.spawn(
                "worker-zoho",
                ["-m", "tds_core", "worker", "--concurrency", "2"],
                tds_env(url, ctx.home),
                name="worker-zoho",
            )
            async with pool.acquire() as connection:
                await _wait_workers(connection, 1)
                began = time.monotonic()
                while await connection.fetchval(BUSY):
                    if time.monotonic() - began > drain_timeout:
                        raise TimeoutError(f"drain after the Zoho sync took over {drain_timeout:.0f}s")
                    if not worker.alive():
                        raise RuntimeError(f"worker exited:\n{worker.tail()}")
                    await asyncio.sleep(0.1)
                result.drain_s = time.monotonic() - began
                result.drain_states = await _states(connection)
            ctx.processes.stop(worker)
            worker = None

            timed = TimedClient(client)
            reconciler = Reconciler(pool, timed, use_inventory=False)  # type: ignore[arg-type]
            await ctx.server.checkpoint()
            cpu = ctx.meter(simulator=([simulator.pid], False))
            cpu.start()
            started = time.monotonic()
            for entity in ENTITY_SLUGS:
                began = time.monotonic()
                checked = await reconciler.run_once(entity, triggered_by="bench")
                result.reconcile.append(
                    EntityRun(
                        entity,
                        time.monotonic() - began,
                        fetched=checked.checked,
                        staged=checked.healed,
                        api_calls=checked.api_calls,
                        drift=checked.drift.total,
                        status=checked.status,
                    )
                )
            result.reconcile_s = time.monotonic() - started
            cpu.stop()
            result.reconcile_cpu = cpu
            result.reconcile_fetch_s = timed.waiting_s
    finally:
        if worker is not None:
            ctx.processes.stop(worker)
        ctx.processes.stop(simulator)
        await pool.close()
    await ctx.server.drop_database(suffix)
    return result


def serve(port: int, seed: int, records_per_module: int) -> None:
    """The ``tds simulate`` server with Zoho's per-minute and daily limits raised."""
    from tds_core.simulator.config import SimulatorConfig
    from tds_core.simulator.server import serve as serve_simulator

    config = SimulatorConfig(requests_per_minute=RAISED_LIMIT, daily_request_limit=RAISED_LIMIT)
    serve_simulator(
        "127.0.0.1", port, seed, records_per_module, config=config, log_level="warning", quiet=True
    )


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
