"""The Zoho source with real processes: a ``tds sync`` SIGKILLed mid-pull and restarted misses no
record, and of two ``tds scheduler`` processes exactly one leads, runs each job once per tick,
and the standby takes over when the leader is SIGKILLed. The source is ``tds simulate``."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from tds_core.simulator.store import Store
from tests.acceptance.conftest import (
    Processes,
    TdsProcess,
    connect,
    free_port,
    set_config,
    wait_until,
)

pytestmark = pytest.mark.acceptance

SCHEDULER_LOCK = 7312002
ENTITIES = ("items", "contacts", "invoices", "bills", "creditnotes", "stock", "pricebooks")


def start(tds: Processes, name: str, url: str, *args: str, env: dict[str, str]) -> TdsProcess:
    """Like ``Processes.start`` with extra environment (the finalizer still kills it)."""
    log_path = tds.tmp_path / f"{len(tds.started):02d}-{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", "tds_core", *args],
            env=tds.env(url) | env,
            cwd=tds.tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    process = TdsProcess(name=name, popen=popen, log_path=log_path)
    tds.started.append(process)
    return process


async def simulator(tds: Processes, url: str, records: int) -> tuple[TdsProcess, int]:
    port = free_port()
    sim = start(tds, "simulate", url, "simulate", "--port", str(port), "--records", str(records), env={})

    async def up() -> bool:
        if not sim.alive():
            raise AssertionError(f"simulator exited:\n{sim.log()[-3000:]}")
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http,
                http.get(f"http://127.0.0.1:{port}/books/v3/invoices"),
            ):
                return True
        except (aiohttp.ClientError, TimeoutError):
            return False

    await wait_until(up, timeout=30, interval=0.1, what="the simulator to listen")
    return sim, port


async def test_a_pull_killed_mid_way_and_rerun_misses_no_record(
    tds: Processes, database_url: str, drain: Any
) -> None:
    # 40 invoices: one list page and 40 GETs per run. The rate limit (100 calls a minute for the
    # organization, shared by every TDS process) makes 400 records take over four minutes.
    records = 40
    _, port = await simulator(tds, database_url, records)
    env = {"TDS_SIMULATOR_PORT": str(port)}
    db = await connect(database_url)
    try:
        killed_mid_way = False
        for _attempt in range(5):
            sync = start(tds, "sync", database_url, "sync", "invoices", "--json", env=env)

            # tds_sync_runs counts are written when a run ends, so "mid-way" is observed as a
            # running run that has already made Zoho calls (the per-invoice GETs).
            async def mid_way(sync: TdsProcess = sync) -> str | None:
                if not sync.alive():
                    return "exited"
                running = await db.fetchval("SELECT count(*) FROM tds_sync_runs WHERE status = 'running'")
                calls = await db.fetchval("SELECT coalesce(sum(calls), 0) FROM tds_api_usage")
                return "running" if running and calls >= 3 else None

            state = await wait_until(mid_way, timeout=60, interval=0.01, what="the pull to start")
            sync.kill()
            finished = await db.fetchval("SELECT count(*) FROM tds_sync_runs WHERE status = 'succeeded'")
            if state == "running" and not finished:
                killed_mid_way = True
                break
            # it finished first: forget that run's cursor and try again with a fresh process
            await db.execute("DELETE FROM tds_sync_cursors; DELETE FROM tds_sync_runs")
        assert killed_mid_way, "the pull finished before it could be killed, five times"

        watermark = await db.fetchval("SELECT watermark FROM tds_sync_cursors WHERE entity = 'invoices'")
        newest_staged = await db.fetchval(
            "SELECT max(source_version) FROM tds_sync_queue WHERE entity = 'invoices'"
        )
        assert watermark is None or (newest_staged is not None and watermark <= newest_staged)
        assert await db.fetchval("SELECT status FROM tds_sync_runs ORDER BY id LIMIT 1") == "running"

        rerun = start(tds, "sync-again", database_url, "sync", "invoices", "--json", env=env)
        assert await rerun.wait_exit(180) == 0, rerun.log()[-3000:]
        await drain()
        held = {r["zoho_id"] for r in await db.fetch("SELECT zoho_id FROM invoices WHERE deleted_at IS NULL")}
        store = Store(0)  # `tds simulate` defaults to seed 0: the same ids
        store.seed(records)
        assert held == set(store.ids("invoices"))
        assert (
            await db.fetchval("SELECT watermark FROM tds_sync_cursors WHERE entity = 'invoices'") is not None
        )
    finally:
        await db.close()


async def test_one_scheduler_leads_runs_each_pull_once_per_tick_and_a_standby_takes_over(
    tds: Processes, database_url: str
) -> None:
    db = await connect(database_url)
    try:
        await set_config(db, {"schedule.pull_cron": "* * * * *"})
        _, port = await simulator(tds, database_url, 3)  # small: a tick's pulls stay far below the rate limit
        env = {"TDS_SIMULATOR_PORT": str(port), "TDS_LOG_LEVEL": "INFO"}
        schedulers = [start(tds, f"scheduler-{n}", database_url, "scheduler", env=env) for n in (1, 2)]

        async def lock_holders() -> int:
            return int(
                await db.fetchval(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND l.objid = $1 AND l.granted"
                    " AND a.application_name = 'tds-scheduler'",
                    SCHEDULER_LOCK,
                )
            )

        def leaders() -> list[TdsProcess]:
            return [s for s in schedulers if s.alive() and "scheduler leads" in s.log()]

        await wait_until(lambda: _async(len(leaders()) == 1), timeout=60, interval=0.1, what="a leader")
        for process in schedulers:
            assert process.alive(), process.log()[-3000:]
        assert await lock_holders() == 1
        (leader,) = leaders()
        (standby,) = [s for s in schedulers if s is not leader]

        # The first tick (at the next minute) pulls every entity once.
        async def tick_done() -> bool:
            done = await db.fetchval(
                "SELECT count(DISTINCT entity) FROM tds_sync_runs"
                " WHERE triggered_by = 'scheduler' AND status <> 'running'"
            )
            return done == len(ENTITIES)

        await wait_until(tick_done, timeout=75, interval=0.2, what="a scheduled pull of every entity")
        runs = await db.fetch(
            "SELECT entity, date_trunc('minute', started_at) AS minute, count(*) AS n FROM tds_sync_runs"
            " WHERE triggered_by = 'scheduler' AND kind IN ('incremental', 'full') GROUP BY 1, 2"
        )
        assert {r["entity"] for r in runs} == set(ENTITIES)
        assert all(r["n"] == 1 for r in runs), [dict(r) for r in runs]
        assert "scheduler leads" not in standby.log()

        leader.kill()
        await wait_until(
            lambda: _async("scheduler leads" in standby.log()), timeout=30, interval=0.1, what="takeover"
        )
        await wait_until(lock_holders, timeout=10, interval=0.1, what="the lock to be held again")
        assert standby.alive() and await lock_holders() == 1
    finally:
        await db.close()


async def _async(value: Any) -> Any:
    return value
