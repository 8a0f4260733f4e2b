"""``make bench``: measure TDS Core against a real, durable PostgreSQL and write docs/performance.md.

One run, in order:

1. the ceiling: raw batched JSONB upserts (1 and 4 connections, insert and newer version);
2. the load client's ceiling (client → trivial aiohttp server) and the framework's
   (client → trivial FastAPI on uvicorn);
3. webhook acceptance: 32 keep-alive connections POST distinct valid webhooks to a real TDS API,
   first one process, then ``tds api --processes 2`` (uvicorn supervisor + 2 worker processes on
   one port), each on its own fresh database;
4. drain: the single-process run's backlog applied by 1 and 2 worker processes;
5. end-to-end latency at the seed's peak rate (≈ 14 events/s) with the API and one worker;
6. the Zoho source: a full sync of ≈ 50,000 simulated records from a real simulator process
   (limits raised; the projected time at Zoho's 100 calls/minute is reported), then a
   reconciliation of the same (``bench/zoho.py``);
7. peak RSS of the API (every process of its tree) and worker processes throughout.

The closed-loop HTTP load of 2 and 3 comes from wrk (``bench/wrk.py``, Debian package ``wrk``,
``make bench-tools``): about 0.04 ms of CPU per request against aiohttp's 0.25 ms, on the same
cores as the API and PostgreSQL. Without wrk the run falls back to aiohttp (and says so). The
latency run (5) offers an exact count at a fixed rate, which wrk cannot: aiohttp drives it always.

PostgreSQL: a fresh embedded server (pgserver) under ``.bench/``, or ``TDS_BENCH_DATABASE_URL``
(an admin URL; databases ``tdsbench_*`` are created and dropped). fsync and
synchronous_commit must be on. ``--quick`` is a short smoke run that does not touch docs/.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import uvloop

from bench import alerts, ceiling, charts, pipeline, quota, wrk, zoho
from bench.load import LoadResult, closed_loop
from bench.payloads import Event, Workload
from bench.pipeline import AcceptanceResult, api_role
from bench.postgres import Server
from bench.processes import ROOT, MemoryWatch, Processes, create_key, free_port, wait_http
from bench.report import Results, console, markdown
from tds_core.db import migrate

SEED_PEAK_PER_HOUR = 50_000
# Simulator records per module: 6 modules plus stock (the items with locations, ≈ 87%) ≈ 6.87 per
# record, so 7,300 stages ≈ 50,000 records (≈ 29,500 API calls: one GET per document and contact).
ZOHO_RECORDS = 7_300
ZOHO_QUICK_RECORDS = 150
FINISHED = ("completed", "skipped_stale", "skipped_unchanged")


@dataclass(frozen=True)
class Plan:
    quick: bool
    database: str
    ceiling_rows: int
    ceiling_passes: int
    trivial_requests: int
    warmup: int
    events: int
    connections: int
    multi_api_processes: int  # the second acceptance run's ``--processes``; < 2 skips it
    drain_processes: tuple[int, ...]
    worker_concurrency: int
    drain_timeout: float
    latency_rate: float
    latency_seconds: float
    latency_warmup_seconds: float
    zoho_records_per_module: int  # simulator records per module for the Zoho source; 0 skips it
    alert_trials: int  # condition → notification measurements

    @classmethod
    def build(cls, args: argparse.Namespace) -> Plan:
        quick = args.quick
        return cls(
            quick=quick,
            database="TDS_BENCH_DATABASE_URL"
            if os.environ.get("TDS_BENCH_DATABASE_URL")
            else "embedded, pgserver",
            ceiling_rows=args.ceiling_rows or (5_000 if quick else 50_000),
            ceiling_passes=1 if quick else 3,
            trivial_requests=2_000 if quick else 20_000,
            warmup=100 if quick else 500,
            events=args.events or (2_000 if quick else 20_000),
            connections=32,
            multi_api_processes=args.api_processes,
            drain_processes=(1, 2),
            worker_concurrency=args.concurrency,
            drain_timeout=60.0 if quick else 150.0,
            latency_rate=args.rate or SEED_PEAK_PER_HOUR / 3600,
            latency_seconds=args.latency_seconds or (10.0 if quick else 90.0),
            latency_warmup_seconds=2.0 if quick else 5.0,
            zoho_records_per_module=ZOHO_QUICK_RECORDS
            if quick and args.zoho_records is None
            else (ZOHO_RECORDS if args.zoho_records is None else max(args.zoho_records, 0)),
            alert_trials=2 if quick else 5,
        )


def machine() -> dict[str, object]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        code = f"commit {head}" + (" with uncommitted changes in src/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        code = "unknown (not a git checkout)"
    busy = psutil.cpu_percent(interval=1.0)
    return {
        "busy_before": busy,
        "code": code,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": psutil.virtual_memory().total / 2**30,
        "loadavg": load,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_client() -> str:
    """The closed-loop load client of the run: wrk when installed, else aiohttp."""
    if wrk.available():
        return "wrk"
    say(
        "warning: wrk not found (Debian package wrk; `make bench-tools` installs it): the HTTP load "
        "comes from aiohttp, which spends ≈ 0.25 ms of the API's and PostgreSQL's cores per request"
    )
    return "aiohttp"


async def _closed_loop(
    client: str, base: str, events: list[Event], headers: dict[str, str], connections: int
) -> LoadResult:
    if client == "wrk":
        return await asyncio.to_thread(wrk.closed_loop, base, events, headers, connections=connections)
    return await closed_loop(base, events, headers, connections=connections)


async def trivial(
    processes: Processes, kind: str, events: list[Event], connections: int, client: str
) -> LoadResult:
    port = free_port()
    child = processes.spawn(f"trivial-{kind}", ["-m", "bench.trivial", kind, str(port)], dict(os.environ))
    headers = {"Content-Type": "application/json"}
    try:
        await wait_http(child, f"http://127.0.0.1:{port}/api/v1/health")
        base = f"http://127.0.0.1:{port}"
        await _closed_loop(client, base, events[: min(len(events), 500)], headers, connections)
        return await _closed_loop(client, base, events, headers, connections)
    finally:
        processes.stop(child)


def _client_cpu(load: LoadResult) -> str:
    """``; client CPU x ms/req`` when the client is a separate process that was measured (wrk)."""
    if load.client_cpu_s is None or not load.sent:
        return ""
    return f"; client CPU {load.client_cpu_s * 1000 / load.sent:.3f} ms/req"


async def run(plan: Plan, scratch: Path, results: Results) -> None:
    memory = MemoryWatch()
    memory.start()
    processes = Processes(logs=scratch / "logs", memory=memory)
    server = Server.start(os.environ.get("TDS_BENCH_DATABASE_URL"), scratch)
    try:
        results.postgres = await server.check_durable()
        say(
            f"PostgreSQL {results.postgres['server_version']} fsync={results.postgres['fsync']} "
            f"synchronous_commit={results.postgres['synchronous_commit']}; {os.cpu_count()} cores"
        )
        # The same documents everywhere: the ceiling stores them raw, the pipeline receives them.
        documents = Workload(seed=1, id_offset=10**9).take(plan.ceiling_rows)
        results.document_bytes = statistics.fmean(len(e.body) for e in documents)

        # 1. the ceiling
        ceiling_url = await server.create_database("ceiling")
        for connections in (1, 4):
            result = await ceiling.measure(
                ceiling_url, [e.body for e in documents], connections, plan.ceiling_passes
            )
            results.ceilings.append(result)
            say(
                f"ceiling, {connections} conn: insert {result.insert_rows_per_s:,.0f} rows/s, "
                f"newer version {result.update_rows_per_s:,.0f} rows/s"
            )
        await server.drop_all()

        # 2. the load client's (and the framework's) own ceiling
        trivial_events = Workload(seed=2, id_offset=2 * 10**9).take(plan.trivial_requests)
        name = results.client
        client = await trivial(processes, "aiohttp", trivial_events, plan.connections, name)
        results.client_ceiling = client
        say(
            f"load client ceiling ({name} → trivial aiohttp): {client.rate:,.0f} req/s"
            f"{_client_cpu(client)}; answers {dict(client.statuses)}"
        )
        framework = await trivial(processes, "fastapi", trivial_events, plan.connections, name)
        results.framework_ceiling = framework
        say(
            f"framework ceiling ({name} → trivial FastAPI/uvicorn): {framework.rate:,.0f} req/s"
            f"{_client_cpu(framework)}; answers {dict(framework.statuses)}"
        )
        del trivial_events

        # The migrated template every TDS database is cloned from, with the API key.
        template_url = await server.create_database("template")
        migrate.upgrade(template_url)
        key = create_key(template_url, scratch)
        ctx = pipeline.Context(
            server=server,
            processes=processes,
            template=server.name("template"),
            key=key,
            home=scratch / "tds",
            connections=plan.connections,
            postgres_pid=await server.postmaster_pid(),
            client=results.client,
        )

        # 3. webhook acceptance (the single-process run's backlog feeds the drain)
        acceptance = await pipeline.acceptance(ctx, Workload(seed=3), plan.events, plan.warmup)
        results.acceptance = acceptance
        check_acceptance(acceptance, plan, results, "acceptance")
        # The same bodies (a fresh Workload with the same seed) into a fresh database, N processes.
        if plan.multi_api_processes > 1:
            count = plan.multi_api_processes
            suffix = f"accept_{count}p"
            multi = await pipeline.acceptance(
                ctx, Workload(seed=3), plan.events, plan.warmup, api_processes=count, suffix=suffix
            )
            results.acceptance_multi = multi
            await server.drop_database(suffix)
            check_acceptance(multi, plan, results, f"acceptance, {count} API processes")

        # 4. drain
        for count in plan.drain_processes:
            drained = await pipeline.drain(
                ctx, acceptance.database, count, plan.worker_concurrency, plan.drain_timeout
            )
            results.drains.append(drained)
            await server.drop_database(f"drain_{count}x{plan.worker_concurrency}")
            say(
                f"drain, {count} process(es) x {plan.worker_concurrency}: {drained.rate:,.0f} events/s "
                f"({drained.events:,} events in {drained.elapsed_s:.2f} s); states {drained.states}"
            )
            if drained.timed_out:
                results.errors.append(
                    f"drain with {count} process(es) timed out after {plan.drain_timeout:.0f} s"
                )
            unfinished = {s: n for s, n in drained.states.items() if s not in FINISHED}
            if unfinished:
                results.errors.append(f"drain with {count} process(es) left {unfinished}")
        await server.drop_database("accept")

        # 5. end-to-end latency at the seed's peak rate: an exact count offered open-loop at a fixed
        # rate, which wrk has no mode for, so aiohttp's open_loop drives it whatever the client above
        latency = await pipeline.latency(
            ctx,
            Workload(seed=5),
            plan.latency_rate,
            plan.latency_seconds,
            plan.latency_warmup_seconds,
            plan.worker_concurrency,
        )
        results.latency = latency
        say(
            f"latency at {latency.offered_rate:.1f}/s: p50 {latency.latency_ms['p50']:.1f} ms, "
            f"p95 {latency.latency_ms['p95']:.1f} ms, p99 {latency.latency_ms['p99']:.1f} ms "
            f"({latency.samples:,} samples; offered open-loop by aiohttp)"
        )

        # 6. alerts: condition → notification, as the scheduler runs the alert service
        alert_latency = await alerts.measure(server, server.name("template"), plan.alert_trials)
        results.alerts = alert_latency
        say(
            f"alerts: condition → notification p50 {alert_latency.p50:.1f} s, worst "
            f"{alert_latency.worst:.1f} s over {len(alert_latency.trials)} trials "
            f"(TDS recorded {', '.join(f'{x:.1f}' for x in alert_latency.recorded)} s)"
        )

        # 7. the Zoho source: full sync, then reconciliation
        if plan.zoho_records_per_module > 0:
            say(f"Zoho source: simulator with {plan.zoho_records_per_module:,} records per module")
            z = await zoho.measure(ctx, plan.zoho_records_per_module)
            results.zoho = z
            say(
                f"Zoho full sync: {z.staged:,} records staged in {z.sync_s:.1f} s ({z.sync_rate:,.0f}/s), "
                f"{z.api_calls:,} API calls ({z.ms_per_call:.2f} ms/call); at 100 calls/min: "
                f"{z.budget_s / 60:,.0f} min (overhead {z.overhead:.2%})"
            )
            say(
                f"Zoho reconciliation: {z.checked:,} records in {z.reconcile_s:.2f} s "
                f"({z.compare_s:.2f} s after the pages), drift {z.drift}"
            )
            bad = [f"sync {e.entity}: {e.status}" for e in z.sync if e.status != "succeeded" or e.failed]
            bad += [f"reconcile {e.entity}: {e.status}" for e in z.reconcile if e.status != "succeeded"]
            if bad:
                results.errors.append("Zoho source: " + "; ".join(bad))
            if z.drift:
                results.errors.append(
                    f"Zoho source: reconciliation found {z.drift} drifted records after the sync"
                )
            unfinished = {s: n for s, n in z.drain_states.items() if s not in FINISHED}
            if unfinished:
                results.errors.append(f"Zoho source: the drain after the sync left {unfinished}")
    finally:
        processes.stop_all()
        memory.stop()
        roles = ("api", api_role(plan.multi_api_processes), "worker")
        results.rss_mb = {role: memory.peak_mb(role) for role in roles}
        results.rss_tree_mb = {role: memory.peak_tree_mb(role) for role in roles}
        results.rss_tree_size = dict(memory.peak_tree_size)
        try:
            await server.drop_all()
        finally:
            server.stop()


def check_acceptance(result: AcceptanceResult, plan: Plan, results: Results, label: str) -> None:
    load = result.load
    split = "/".join(f"{share:.0%}" for share in result.cpu_split())
    say(
        f"{label} ({results.client}): {load.rate:,.0f}/s over {load.sent:,} webhooks, "
        f"p50 {load.p(0.5):.1f} ms, p95 {load.p(0.95):.1f} ms, p99 {load.p(0.99):.1f} ms; "
        f"answers {dict(load.statuses)}"
        + _client_cpu(load)
        + (f"; API CPU split {split}" if result.api_processes > 1 else "")
    )
    if load.sent < plan.events:
        results.errors.append(f"{label}: stopped at the time limit after {load.sent:,} webhooks")
    if load.ok != load.sent:
        results.errors.append(f"{label}: {load.sent - load.ok} of {load.sent} requests not accepted")
    if load.bodies.get("duplicate"):
        results.errors.append(f"{label}: {load.bodies['duplicate']} answered duplicate")
    if result.queued != plan.warmup + load.ok:
        results.errors.append(
            f"{label}: {result.queued:,} queue rows for {plan.warmup + load.ok:,} accepted webhooks"
        )


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="A short smoke run (does not write docs/).")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="Report path (default docs/performance.md; with --quick, .bench/performance-quick.md).",
    )
    parser.add_argument("--events", type=int, default=None, help="Webhooks in the acceptance run / backlog.")
    parser.add_argument("--ceiling-rows", type=int, default=None, help="Rows per ceiling pass.")
    parser.add_argument(
        "--api-processes",
        type=int,
        default=2,
        help="`tds api --processes` of the second acceptance run (default 2; 1 skips it).",
    )
    parser.add_argument("--concurrency", type=int, default=2, help="Batch loops per worker process.")
    parser.add_argument("--rate", type=float, default=None, help="Offered rate of the latency run (/s).")
    parser.add_argument("--latency-seconds", type=float, default=None, help="Length of the latency run.")
    parser.add_argument(
        "--zoho-records",
        type=int,
        default=None,
        help=f"Simulator records per module for the Zoho source section (default {ZOHO_RECORDS:,}, "
        f"≈ 50,000 staged; --quick {ZOHO_QUICK_RECORDS}); 0 skips the section.",
    )
    parser.add_argument(
        "--soak-seconds",
        type=float,
        default=None,
        help="Length of the soak (`bench.soak`; default 600, --quick 60); 0 skips it.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep .bench/run-* (logs, data) afterwards.")
    return parser.parse_args(argv)


def soak_section(args: argparse.Namespace, plan: Plan, scratch: Path, output: Path, results: Results) -> str:
    """Run ``bench.soak`` (its own PostgreSQL cluster, after everything else) and return the
    report's section with its charts, drawn next to the report under ``images/performance``."""
    seconds = args.soak_seconds if args.soak_seconds is not None else (60.0 if plan.quick else 600.0)
    if seconds <= 0:
        return ""
    say(f"soak: {seconds:.0f} s of load and faults (bench.soak)")
    data = scratch / "soak.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--duration", str(seconds), "--json", str(data),
         "--workdir", str(scratch / "soak")],
        cwd=ROOT, check=False,
    )  # fmt: skip
    if not data.exists():
        return f"\n## Soak\n\nThe soak did not finish (exit {done.returncode}); logs in {scratch / 'soak'}.\n"
    soak = json.loads(data.read_text())
    images = charts.draw(soak, output.parent / "images" / "performance")
    ceiling = results.ceiling(4)
    return "\n" + charts.soak_markdown(
        soak,
        [str(path.relative_to(output.parent)) for path in images],
        ceiling.insert_rows_per_s if ceiling else None,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    plan = Plan.build(args)
    output = args.output or (
        ROOT / ".bench" / "performance-quick.md" if plan.quick else ROOT / "docs" / "performance.md"
    )
    (ROOT / ".bench").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=ROOT / ".bench"))
    results = Results(machine=machine(), postgres={}, plan=asdict(plan), client=load_client())
    say(
        f"TDS Core benchmark ({'quick' if plan.quick else 'full'}); HTTP load client {results.client}; "
        f"scratch {scratch}"
    )
    started = time.monotonic()
    failed = False
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run(plan, scratch, results))
    except Exception as exc:
        failed = True
        results.errors.append(f"the run stopped early: {type(exc).__name__}: {exc}")
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"logs kept in {scratch / 'logs'}", file=sys.stderr)
    results.elapsed_s = time.monotonic() - started
    results.machine["loadavg_end"] = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    if results.postgres:
        print(console(results))
        if failed:  # never replace a complete report with a partial one
            output = ROOT / ".bench" / "performance-failed.md"
        output.parent.mkdir(parents=True, exist_ok=True)
        report = markdown(results) + quota.section()
        print(quota.section())
        if not failed:
            report += soak_section(args, plan, scratch, output, results)
        output.write_text(report)
        say(f"wrote {output}")
    if not failed and not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
