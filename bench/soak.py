"""``make soak``: TDS scaled out under load and faults, then checked for what it promises.

The run, on a PostgreSQL cluster of its own (so it can be restarted):

1. the Zoho simulator serves the Books/Inventory API in this process (limits raised) and a
   traffic generator changes its records at ``--rate`` changes a second (default 138.9/s:
   500,000 an hour, ten times the seed's peak), each change sent as a webhook with 10%
   duplicates, 20% held back and reordered and 5% dropped (left for reconciliation);
   deliveries rotate over the API processes and are retried while no API answers (a load
   balancer plus Zoho's retries);
2. ``tds api`` x 2 (own ports), ``tds worker`` x 4 and ``tds scheduler``, as real processes,
   restarted a second after they die (like systemd's ``Restart=always``);
3. faults on a timer: SIGKILL a random worker every ``--worker-kill-every`` seconds (one worker
   is spared, so a worker's memory is measured over the whole run), SIGKILL one API process
   once, restart PostgreSQL once (``pg_ctl restart -m fast``), and make every ERP table refuse
   writes for 20 s (a trigger), which opens the workers' circuit breakers;
4. at the end: the queue drained, ``tds reconcile all --heal``, drained again, and the
   invariants checked and printed: accepted events lost, applied twice, stale overwrites, the
   ERP against the simulator's ground truth, DLQ items older than 24 h, every process's memory
   growth, and the recovery time after each fault (from the fault's end to a lag under 1 s).

``python -m bench.soak --duration 600`` (the default); ``--json PATH`` writes the results and
the time series (what ``bench.charts`` draws). The test-sized run in ``make test`` is
``tests/acceptance/test_soak.py``. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import uvicorn

from bench.cluster import PrivateCluster, free_port
from bench.processes import Child, MemoryWatch, Processes, create_key, tds_env
from tds_core.db import migrate
from tds_core.simulator.app import create_app
from tds_core.simulator.config import SimulatorConfig
from tds_core.simulator.store import Store
from tds_core.simulator.truth import TABLES, differences
from tds_core.simulator.webhooks import TrafficResult, WebhookConfig, WebhookEmitter, mutate

SEED_PEAK_PER_HOUR = 50_000
TERMINAL_OK = ("completed", "skipped_stale", "skipped_unchanged")
ERP_TABLES = (*TABLES.values(), "stock_levels")
RECOVERED_LAG_SECONDS = 1.0
UNVERSIONED = ("items", "pricebooks")


@dataclass(frozen=True)
class Plan:
    duration: float = 600.0
    rate: float = SEED_PEAK_PER_HOUR * 10 / 3600
    apis: int = 2
    workers: int = 4
    worker_concurrency: int = 2
    worker_kill_every: float = 30.0
    api_kill_at: float = 0.25  # fractions of the duration
    pg_restart_at: float = 0.5
    erp_failure_at: float = 0.7
    erp_failure_seconds: float = 20.0
    drop_percent: float = 5.0
    duplicate_percent: float = 10.0
    reorder_percent: float = 20.0
    records_per_module: int = 40
    restart_delay: float = 1.0
    drain_timeout: float = 600.0
    seed: int = 20261128


@dataclass
class Fault:
    kind: str
    target: str
    started: float  # seconds since the traffic started
    ended: float  # when the condition was removed (a kill ends at once)
    recovered: float | None = None  # first time after ``ended`` (and its impact) with lag < 1 s
    peak_lag: float = 0.0
    orphans: int | None = None  # a killed worker's leased events at the kill
    orphans_finished: float | None = None  # when the last of them was finished by another worker

    @property
    def recovery_seconds(self) -> float | None:
        return None if self.recovered is None else round(self.recovered - self.ended, 2)

    @property
    def orphans_seconds(self) -> float | None:
        return None if self.orphans_finished is None else round(self.orphans_finished - self.ended, 2)


@dataclass
class Sample:
    t: float
    lag: float | None
    pending: int | None
    processing: int | None
    finished: int | None


@dataclass
class Results:
    plan: dict[str, Any]
    machine: dict[str, Any]
    traffic: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    invariants: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    queue: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    reconcile: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    series: dict[str, Any] = field(default_factory=dict)
    watcher_errors: dict[str, int] = field(default_factory=dict)  # failed lag samples, by error

    @property
    def ok(self) -> bool:
        return bool(self.invariants) and all(check["ok"] for check in self.invariants.values())


class Soak:
    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        self.rng = random.Random(plan.seed)
        self.cluster = PrivateCluster(prefix="tds_soak_pg_", max_connections=200)
        self.processes = Processes(workdir / "logs", MemoryWatch(interval=1.0))
        self.faults: list[Fault] = []
        self.samples: list[Sample] = []
        self.rss: dict[int, list[tuple[float, float]]] = {}
        self.roles: dict[int, str] = {}
        self.api_ports: list[int] = []
        self.apis: list[Child] = []
        self.handled: set[int] = set()
        self.background: list[asyncio.Task[None]] = []
        self.workers: list[Child] = []
        self.steady: Child | None = None
        self.store = Store(plan.seed)
        self.sim_port = free_port()
        self.t0 = 0.0
        self.wall0 = 0.0
        self.stopping = False
        self.traffic = TrafficResult()
        self.offered: list[float] = []  # seconds since t0 of each change made

    # ------------------------------------------------------------------ set-up
    @property
    def url(self) -> str:
        return self.cluster.url

    def env(self) -> dict[str, str]:
        env = tds_env(self.url, self.workdir / "home")
        env.update(
            TDS_SIMULATOR_PORT=str(self.sim_port),
            TDS_ZOHO_REQUESTS_PER_MINUTE="1000000",
            TDS_ZOHO_DAILY_QUOTA="100000000",
            TDS_LOG_LEVEL="info",
        )
        return env

    def now(self) -> float:
        return time.monotonic() - self.t0

    async def start_database(self) -> None:
        self.cluster.init()
        self.cluster.start()
        admin = await asyncpg.connect(self.url.rsplit("/", 1)[0] + "/postgres")
        try:
            await admin.execute("CREATE DATABASE tds")
        finally:
            await admin.close()
        await asyncio.to_thread(migrate.upgrade, self.url)

    def spawn_api(self, port: int) -> Child:
        child = self.processes.spawn("api", ["-m", "tds_core", "api", "--port", str(port)], self.env())
        self.roles[child.pid] = "api"
        return child

    def spawn_worker(self) -> Child:
        args = ["-m", "tds_core", "worker", "--concurrency", str(self.plan.worker_concurrency)]
        child = self.processes.spawn("worker", args, self.env())
        self.roles[child.pid] = "worker"
        return child

    async def wait_api(self, child: Child, port: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if not child.alive():
                    raise RuntimeError(f"api exited ({child.process.returncode}):\n{child.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{port}/api/v1/ready")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"api on {port} not ready:\n{child.tail()}")

    async def start_processes(self) -> None:
        self.api_ports = [free_port() for _ in range(self.plan.apis)]
        self.apis = [self.spawn_api(port) for port in self.api_ports]
        for child, port in zip(self.apis, self.api_ports, strict=True):
            await self.wait_api(child, port)
        self.workers = [self.spawn_worker() for _ in range(self.plan.workers)]
        self.steady = self.workers[0] if self.plan.workers > 1 else None
        scheduler = self.processes.spawn("scheduler", ["-m", "tds_core", "scheduler"], self.env())
        self.roles[scheduler.pid] = "scheduler"

    # ------------------------------------------------------------------ traffic
    async def generate(self, emitter: WebhookEmitter) -> None:
        interval = 1.0 / self.plan.rate
        made = 0
        rng = random.Random(self.plan.seed + 1)
        while self.now() < self.plan.duration:
            before = self.store.last_seq
            mutate(self.store, rng, self.traffic)
            self.offered.append(self.now())
            for change in self.store.changes_after(before):
                await emitter.emit(change)
            made += 1
            delay = made * interval - self.now()
            if delay > 0:
                await asyncio.sleep(delay)
        await emitter.flush()

    # ------------------------------------------------------------------ faults
    async def kill_worker(self) -> None:
        # one worker is never killed, so a worker's memory growth over the whole run is measured
        victims = [w for w in self.workers if w.alive() and w is not self.steady]
        if not victims:
            return
        victim = self.rng.choice(victims)
        self.workers.remove(victim)  # the fault restarts it, not the supervisor
        leased: list[int] = []
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            connection = await asyncpg.connect(self.url, timeout=2)
            try:
                os.kill(victim.pid, signal.SIGSTOP)  # freeze it, so what it holds is what it loses
                leased = [
                    r["id"]
                    for r in await connection.fetch(
                        "SELECT id FROM tds_sync_queue WHERE status = 'processing' AND locked_by LIKE $1",
                        f"%:{victim.pid}:%",
                    )
                ]
            finally:
                await connection.close()
        at = self.now()
        os.kill(victim.pid, signal.SIGKILL)
        fault = Fault("worker SIGKILL", f"pid {victim.pid}", at, at, orphans=len(leased))
        self.faults.append(fault)
        self.background.append(asyncio.create_task(self.follow_orphans(fault, leased)))
        await asyncio.sleep(self.plan.restart_delay)
        self.processes.stop(victim, grace=1.0)
        self.workers.append(self.spawn_worker())

    async def follow_orphans(self, fault: Fault, ids: list[int]) -> None:
        """When the events a killed worker held are all finished (rescued and applied)."""
        while ids and not self.stopping:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                connection = await asyncpg.connect(self.url, timeout=2)
                try:
                    left = await connection.fetchval(
                        "SELECT count(*) FROM tds_sync_queue WHERE id = ANY($1::bigint[])"
                        " AND status IN ('pending', 'processing')",
                        ids,
                    )
                finally:
                    await connection.close()
                if left == 0:
                    break
            await asyncio.sleep(0.1)
        fault.orphans_finished = self.now()

    async def kill_api(self) -> None:
        index = self.rng.randrange(len(self.apis))
        victim, port = self.apis[index], self.api_ports[index]
        self.handled.add(victim.pid)  # the fault restarts it, not the supervisor
        at = self.now()
        os.kill(victim.pid, signal.SIGKILL)
        self.faults.append(Fault("API SIGKILL", f"port {port}", at, at))
        await asyncio.sleep(self.plan.restart_delay)
        self.processes.stop(victim, grace=1.0)
        self.apis[index] = self.spawn_api(port)
        with contextlib.suppress(Exception):
            await self.wait_api(self.apis[index], port)

    async def restart_postgres(self) -> None:
        at = self.now()
        await asyncio.to_thread(self.cluster.restart, "fast")
        self.faults.append(Fault("PostgreSQL restart", "pg_ctl restart -m fast", at, self.now()))

    async def fail_erp(self, seconds: float) -> None:
        at = self.now()
        connection = await asyncpg.connect(self.url)
        try:
            await connection.execute(
                "CREATE OR REPLACE FUNCTION soak_erp_down() RETURNS trigger LANGUAGE plpgsql AS $$"
                " BEGIN RAISE EXCEPTION 'soak: ERP is refusing writes'; END $$"
            )
            for table in ERP_TABLES:
                await connection.execute(
                    f"CREATE TRIGGER soak_erp_down BEFORE INSERT OR UPDATE OR DELETE ON {table}"
                    " FOR EACH ROW EXECUTE FUNCTION soak_erp_down()"
                )
            await asyncio.sleep(seconds)
            for table in ERP_TABLES:
                await connection.execute(f"DROP TRIGGER soak_erp_down ON {table}")
        finally:
            await connection.close()
        self.faults.append(Fault("ERP failure", f"{seconds:.0f} s of refused writes", at, self.now()))

    async def chaos(self) -> None:
        plan = self.plan
        erp_seconds = min(plan.erp_failure_seconds, plan.duration * 0.2)
        once = sorted(
            [
                (plan.duration * plan.api_kill_at, self.kill_api),
                (plan.duration * plan.pg_restart_at, self.restart_postgres),
                (plan.duration * plan.erp_failure_at, lambda: self.fail_erp(erp_seconds)),
            ],
            key=lambda item: item[0],
        )
        next_kill = plan.worker_kill_every / 2
        while self.now() < plan.duration:
            if once and self.now() >= once[0][0]:
                _, action = once.pop(0)
                await action()
            elif self.now() >= next_kill:
                next_kill += plan.worker_kill_every
                await self.kill_worker()
            await asyncio.sleep(0.1)

    # ------------------------------------------------------------------ watching
    async def _sample(self, connection: asyncpg.Connection, t: float) -> Sample:
        row = await connection.fetchrow(
            "SELECT extract(epoch FROM now() - min(enqueued_at)) AS lag,"
            " count(*) FILTER (WHERE status = 'pending') AS pending,"
            " count(*) FILTER (WHERE status = 'processing') AS processing"
            " FROM tds_sync_queue WHERE status IN ('pending', 'processing')",
            timeout=2,
        )
        finished = await connection.fetchval(
            "SELECT count(*) FROM tds_sync_logs WHERE outcome = ANY($1::text[])",
            list(TERMINAL_OK),
            timeout=2,
        )
        return Sample(t, float(row["lag"] or 0.0), row["pending"], row["processing"], finished)

    async def watch(self) -> None:
        connection: asyncpg.Connection | None = None
        last_rss = -10.0
        while not self.stopping:
            t = self.now()
            sample = Sample(t, None, None, None, None)
            try:
                if connection is None or connection.is_closed():
                    connection = await asyncpg.connect(self.url, timeout=2)
                sample = await asyncio.wait_for(self._sample(connection, t), 5)
            except Exception as exc:  # whatever a restart throws, the watcher must keep sampling
                name = type(exc).__name__
                self.results.watcher_errors[name] = self.results.watcher_errors.get(name, 0) + 1
                if connection is not None:
                    with contextlib.suppress(Exception):
                        connection.terminate()
                connection = None
            self.samples.append(sample)
            if t - last_rss >= 2.0:
                last_rss = t
                for child in list(self.processes.children):
                    with contextlib.suppress(psutil.Error):
                        rss = psutil.Process(child.pid).memory_info().rss / 1_048_576
                        self.rss.setdefault(child.pid, []).append((t, rss))
            await asyncio.sleep(0.25)
        if connection is not None:
            await connection.close()

    async def supervise(self) -> None:
        """Restart a process that died on its own (the faults restart their own victims)."""
        while not self.stopping:
            for index, child in enumerate(self.apis):
                if not child.alive() and child in self.processes.children and child.pid not in self.handled:
                    self.processes.stop(child, grace=1.0)
                    self.apis[index] = self.spawn_api(self.api_ports[index])
            for child in list(self.workers):
                if not child.alive() and child in self.processes.children:
                    self.processes.stop(child, grace=1.0)
                    self.workers.remove(child)
                    self.workers.append(self.spawn_worker())
            await asyncio.sleep(self.plan.restart_delay)

    async def wait_drained(self, timeout: float) -> float:
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                connection = await asyncpg.connect(self.url)
                try:
                    busy = await connection.fetchval(
                        "SELECT count(*) FROM tds_sync_queue WHERE status IN ('pending', 'processing')"
                    )
                finally:
                    await connection.close()
                if busy == 0:
                    return time.monotonic() - started
            await asyncio.sleep(0.5)
        raise TimeoutError(f"queue not drained after {timeout:.0f}s")

    async def reconcile(self) -> dict[str, Any]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tds_core",
            "reconcile",
            "all",
            "--heal",
            "--json",
            env=self.env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), self.plan.drain_timeout)
        text = out.decode()
        try:
            entities = json.loads(text[text.index("[") :])
        except ValueError:
            return {"exit_code": process.returncode, "error": (text + err.decode())[-2000:]}
        return {
            "exit_code": process.returncode,
            "drift": {e["entity"]: e["drift"]["counts"] for e in entities},
            "healed": sum(e["healed"] for e in entities),
            "statuses": sorted({e["status"] for e in entities}),
            "api_calls": sum(e["api_calls"] or 0 for e in entities),
        }

    # ------------------------------------------------------------------ invariants
    async def check(self, emitter: WebhookEmitter) -> dict[str, Any]:
        connection = await asyncpg.connect(self.url)
        try:
            accepted = sorted({d.event_id for d in emitter.deliveries if d.ok and d.event_id is not None})
            lost = await connection.fetchval(
                "SELECT count(*) FROM unnest($1::bigint[]) AS a(id) WHERE NOT EXISTS ("
                " SELECT 1 FROM tds_sync_queue q WHERE q.inbox_event_id = a.id"
                " AND q.status::text = ANY($2::text[]))",
                accepted,
                list(TERMINAL_OK),
            )
            unanswered = sum(1 for d in emitter.deliveries if d.ok and d.event_id is None)
            # the same content applied to a row twice in a row: a duplicate that was not absorbed
            applied_twice = await connection.fetchval(
                "SELECT count(*) FROM (SELECT action, after->>'content_hash' AS hash,"
                " lag(action) OVER w AS prev_action, lag(after->>'content_hash') OVER w AS prev_hash"
                " FROM tds_audit_trail WINDOW w AS (PARTITION BY erp_table, row_key ORDER BY id)) a"
                " WHERE action <> 'delete' AND prev_action IS NOT NULL AND prev_action <> 'delete'"
                " AND hash IS NOT NULL AND hash = prev_hash"
            )
            # an older version written over a newer one
            stale_overwrites = await connection.fetchval(
                "SELECT count(*) FROM (SELECT source_version,"
                " lag(source_version) OVER (PARTITION BY erp_table, row_key ORDER BY id) AS prev"
                " FROM tds_audit_trail) a WHERE source_version < prev"
            )
            behind = 0
            behind_rows: list[dict[str, Any]] = []
            for entity, table in TABLES.items():
                rows = await connection.fetch(
                    f"SELECT t.zoho_id, t.source_version AS row_version, t.deleted_at IS NOT NULL AS deleted,"
                    "  q.newest, (SELECT string_agg(s.status::text || '@' || s.source_version::text, ', '"
                    "    ORDER BY s.source_version DESC) FROM tds_sync_queue s"
                    "    WHERE s.entity = $1 AND s.zoho_id = t.zoho_id) AS events"
                    f" FROM {table} t JOIN ("
                    "  SELECT zoho_id, max(source_version) AS newest FROM tds_sync_queue"
                    "  WHERE entity = $1 AND status::text = ANY($2::text[]) GROUP BY zoho_id"
                    ") q ON q.zoho_id = t.zoho_id WHERE t.source_version < q.newest",
                    entity,
                    list(TERMINAL_OK),
                )
                behind += len(rows)
                behind_rows += [{"entity": entity, **{k: str(v) for k, v in r.items()}} for r in rows[:5]]
            problems = await differences(connection, self.store)
            old_dlq = await connection.fetchval(
                "SELECT count(*) FROM tds_dead_letter_queue"
                " WHERE status = 'open' AND created_at < now() - interval '24 hours'"
            )
            open_dlq = await connection.fetchval(
                "SELECT count(*) FROM tds_dead_letter_queue WHERE status = 'open'"
            )
            states = {
                r["status"]: r["n"]
                for r in await connection.fetch(
                    "SELECT status::text AS status, count(*) AS n FROM tds_sync_queue GROUP BY 1"
                )
            }
            latencies = [
                r["latency_ms"]
                for r in await connection.fetch(
                    "SELECT latency_ms FROM tds_sync_logs WHERE outcome = 'completed'"
                    " AND latency_ms IS NOT NULL"
                )
            ]
        finally:
            await connection.close()
        self.results.queue = states
        self.results.latency_ms = percentiles(latencies)
        return {
            "accepted_events_lost": {"value": lost, "ok": lost == 0, "of": len(accepted)},
            "accepted_without_event_id": {"value": unanswered, "ok": unanswered == 0},
            "applied_twice": {"value": applied_twice, "ok": applied_twice == 0},
            "stale_overwrites": {"value": stale_overwrites, "ok": stale_overwrites == 0},
            "rows_behind_newest_event": {"value": behind, "ok": behind == 0, "rows": behind_rows},
            "erp_equals_ground_truth": {"value": problems, "ok": not problems},
            "dlq_older_than_24h": {"value": old_dlq, "ok": old_dlq == 0, "open": open_dlq},
            "faults_recovered": {
                "value": sum(1 for f in self.faults if f.recovered is not None),
                "ok": all(f.recovered is not None for f in self.faults),
                "of": len(self.faults),
            },
            "killed_workers_events_finished": {
                "value": sum(f.orphans or 0 for f in self.faults if f.orphans_finished is not None),
                "ok": all(f.orphans_finished is not None for f in self.faults if f.orphans is not None),
                "of": sum(f.orphans or 0 for f in self.faults),
            },
        }

    def recovery(self) -> None:
        """Per fault: its impact is the first lag of 1 s or more seen from its start to 15 s
        after its end; it has recovered at the first sample after that (and after its end)
        whose lag is under 1 s. No impact: recovered at its end. A lag first seen after the
        next fault began is that fault's."""
        for fault in self.faults:
            later = [f.started for f in self.faults if f.started > fault.started]
            horizon = min([fault.ended + 15, *later])  # a later fault's lag is not this one's
            seen = [s for s in self.samples if s.t >= fault.started and s.lag is not None]
            impact = next(
                (s.t for s in seen if s.t <= horizon and (s.lag or 0) >= RECOVERED_LAG_SECONDS), None
            )
            start = max(fault.ended, impact or fault.ended)
            fault.recovered = next(
                (s.t for s in seen if s.t >= start and (s.lag or 0) < RECOVERED_LAG_SECONDS), None
            )
            until = fault.recovered if fault.recovered is not None else float("inf")
            fault.peak_lag = round(max((s.lag or 0.0 for s in seen if s.t <= until), default=0.0), 2)

    def memory(self) -> dict[str, Any]:
        """Per process alive for at least half the run: RSS once the run's first fifth and the
        process's own first 20 s (start-up) are past, and at its last sample; per role, the
        largest growth."""
        report: dict[str, Any] = {}
        warm = self.plan.duration * 0.2
        for pid, series in self.rss.items():
            # after the run's warm-up and the process's own start-up (a restarted worker)
            settled = [(t, mb) for t, mb in series if t >= max(warm, series[0][0] + 20.0)]
            if len(settled) < 2 or settled[-1][0] - settled[0][0] < self.plan.duration * 0.5:
                continue
            role = self.roles.get(pid, "?")
            growth = settled[-1][1] - settled[0][1]
            entry = report.setdefault(role, {"processes": 0, "max_growth_mb": None, "peak_mb": 0.0})
            entry["processes"] += 1
            if entry["max_growth_mb"] is None or growth > entry["max_growth_mb"]:
                entry["max_growth_mb"] = round(growth, 1)
                entry["from_mb"], entry["to_mb"] = round(settled[0][1], 1), round(settled[-1][1], 1)
            entry["peak_mb"] = round(max(entry["peak_mb"], max(mb for _, mb in series)), 1)
        return report

    # ------------------------------------------------------------------ the run
    async def run(self) -> Results:
        plan = self.plan
        self.results = Results(plan=asdict(plan), machine=machine())
        server: uvicorn.Server | None = None
        serving: asyncio.Task[None] | None = None
        try:
            await self.start_database()
            self.results.machine["postgresql"] = await server_version(self.url)
            self.store.seed(plan.records_per_module)
            config = SimulatorConfig(
                api_domain=f"http://127.0.0.1:{self.sim_port}",
                requests_per_minute=1_000_000,
                daily_request_limit=100_000_000,
                max_concurrent_requests=100,
                token_mints_per_window=1000,
            )
            app = create_app(self.store, config=config)
            server = uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=self.sim_port, log_level="warning", lifespan="off")
            )
            serving = asyncio.create_task(server.serve())
            key = await asyncio.to_thread(create_key, self.url, self.workdir / "home")
            started = time.monotonic()
            await self.start_processes()
            # the ERP starts equal to Zoho: an initial full sync, drained
            sync = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tds_core", "sync", "all", "--full", env=self.env(),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            await sync.wait()
            await self.wait_drained(120)
            self.results.timings["startup_seconds"] = round(time.monotonic() - started, 1)
            webhooks = WebhookConfig(
                base_url=f"http://127.0.0.1:{self.api_ports[0]}",
                fallback_urls=tuple(f"http://127.0.0.1:{p}" for p in self.api_ports[1:]),
                api_key=key,
                drop_percent=plan.drop_percent,
                duplicate_percent=plan.duplicate_percent,
                reorder_percent=plan.reorder_percent,
                seed=plan.seed,
                retry_seconds=120.0,
                timeout_seconds=30.0,
            )
            print(
                f"soak: {plan.duration:.0f} s at {plan.rate:.1f} changes/s; {plan.apis} API, "
                f"{plan.workers} worker processes, a scheduler; logs in {self.workdir}",
                flush=True,
            )
            async with WebhookEmitter(webhooks) as emitter:
                self.t0, self.wall0 = time.monotonic(), time.time()
                watcher = asyncio.create_task(self.watch())
                supervisor = asyncio.create_task(self.supervise())
                try:
                    await asyncio.gather(self.generate(emitter), self.chaos())
                    traffic_end = self.now()
                    drained = await self.wait_drained(plan.drain_timeout)
                    self.results.timings["drain_after_traffic_seconds"] = round(drained, 2)
                    self.results.timings["traffic_seconds"] = round(traffic_end, 1)
                    await asyncio.gather(*self.background, return_exceptions=True)
                    await asyncio.sleep(1.0)  # the watcher samples the drained queue too
                finally:
                    self.stopping = True
                    await asyncio.gather(watcher, supervisor, *self.background, return_exceptions=True)
                self.recovery()
                reconcile_started = time.monotonic()
                self.results.reconcile = await self.reconcile()
                # what the schedule does for entities Zoho gives no version (reconciliation
                # cannot see a changed Books item or price list): a full scan
                for entity in UNVERSIONED:
                    scan = await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "tds_core", "sync", entity, "--full", env=self.env(),
                        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                    )  # fmt: skip
                    await scan.wait()
                await self.wait_drained(plan.drain_timeout)
                self.results.timings["reconcile_seconds"] = round(time.monotonic() - reconcile_started, 1)
                self.results.traffic = {
                    **asdict(emitter.stats),
                    "changes_made": self.traffic.total,
                    "created": self.traffic.created,
                    "updated": self.traffic.updated,
                    "deleted": self.traffic.deleted,
                    "stock_moves": self.traffic.stock,
                    "offered_per_second": round(self.traffic.total / max(traffic_end, 1e-9), 1),
                }
                self.results.invariants = await self.check(emitter)
            self.results.memory = self.memory()
            self.results.faults = [
                {**asdict(f), "recovery_seconds": f.recovery_seconds, "orphans_seconds": f.orphans_seconds}
                for f in self.faults
            ]
            self.results.series = await self.series()
            return self.results
        finally:
            self.stopping = True
            self.processes.stop_all()
            if server is not None:
                server.should_exit = True
            if serving is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(serving, 10)
            self.cluster.cleanup()

    async def series(self) -> dict[str, Any]:
        """Per second: events applied, offered; per 5 s: latency percentiles; per sample: queue."""
        connection = await asyncpg.connect(self.url)
        try:
            # the server's clock is this machine's: seconds since the traffic started
            rows = await connection.fetch(
                "SELECT floor(extract(epoch FROM created_at) - $1)::int AS s, count(*) AS n,"
                " percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) AS p"
                " FROM tds_sync_logs WHERE outcome = ANY($2::text[]) GROUP BY 1 ORDER BY 1",
                self.wall0,
                list(TERMINAL_OK),
            )
        finally:
            await connection.close()
        applied = [(r["s"], r["n"]) for r in rows]
        latency = [(r["s"], *(r["p"] or [None, None, None])) for r in rows]
        offered: dict[int, int] = {}
        for t in self.offered:
            offered[int(t)] = offered.get(int(t), 0) + 1
        return {
            "applied_per_second": applied,
            "offered_per_second": sorted(offered.items()),
            "latency_ms": latency,
            "queue": [asdict(s) for s in self.samples],
            "faults": [asdict(f) for f in self.faults],
        }


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1), "n": len(values)}


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


async def server_version(url: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        version: str = await connection.fetchval("SHOW server_version")
        return version
    finally:
        await connection.close()


def print_summary(results: Results) -> None:
    t = results.traffic
    print("\n== soak results ==")
    print(
        f"traffic: {t.get('changes_made')} changes ({t.get('offered_per_second')}/s),"
        f" {t.get('sent')} deliveries,"
        f" {t.get('dropped')} dropped, {t.get('duplicates')} duplicated, {t.get('reordered')} reordered,"
        f" {t.get('retries')} retried, {t.get('failed')} failed after retries"
    )
    print(f"queue at the end: {results.queue}")
    print(f"end-to-end latency ms (receipt → ERP write): {results.latency_ms}")
    print("faults (recovery = from the fault's end to a lag under 1 s):")
    for fault in results.faults:
        orphans = (
            f"; its {fault['orphans']} leased events finished after {fault['orphans_seconds']} s"
            if fault["orphans"] is not None
            else ""
        )
        print(
            f"  {fault['started']:7.1f}s {fault['kind']:<20} {fault['target']:<28}"
            f" recovery {fault['recovery_seconds']} s, peak lag {fault['peak_lag']:.1f} s{orphans}"
        )
    if results.watcher_errors:
        print(f"lag samples that failed, by error: {results.watcher_errors}")
    print("memory (settled RSS growth per role, largest process):")
    for role, entry in results.memory.items():
        print(f"  {role:<10} {entry}")
    print(f"reconciliation: {results.reconcile}")
    print(f"timings: {results.timings}")
    print("invariants:")
    for name, check in results.invariants.items():
        print(f"  {'ok ' if check['ok'] else 'FAIL'} {name}: {check['value']}")
    print("ALL INVARIANTS HOLD" if results.ok else "INVARIANTS VIOLATED")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=Plan.duration, help="seconds of traffic (600)")
    parser.add_argument("--rate", type=float, default=Plan.rate, help="changes a second (138.9)")
    parser.add_argument("--workers", type=int, default=Plan.workers)
    parser.add_argument("--apis", type=int, default=Plan.apis)
    parser.add_argument("--worker-kill-every", type=float, default=Plan.worker_kill_every)
    parser.add_argument("--seed", type=int, default=Plan.seed)
    parser.add_argument("--json", type=Path, help="write the results and time series here")
    parser.add_argument("--workdir", type=Path, help="logs (default: a new directory under /tmp)")
    parser.add_argument("--charts", type=Path, help="draw the PNG charts into this directory")
    args = parser.parse_args(argv)
    plan = Plan(
        duration=args.duration,
        rate=args.rate,
        workers=args.workers,
        apis=args.apis,
        worker_kill_every=args.worker_kill_every,
        seed=args.seed,
    )
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tds_soak_"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(Soak(plan, workdir).run())
    print_summary(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(results), indent=1, default=str))
        print(f"results: {args.json}")
    if args.charts:
        from bench.charts import draw

        for path in draw(json.loads(json.dumps(asdict(results), default=str)), args.charts):
            print(f"chart: {path}")
    return 0 if results.ok else 1


if __name__ == "__main__":
    sys.exit(main())
