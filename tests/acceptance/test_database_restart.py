"""Guarantee 1 across a PostgreSQL restart, and self-healing of the running processes.

A private PostgreSQL cluster (pgserver's binaries, or ``TDS_TEST_PG_BINDIR``) is restarted
twice (``-m fast``, then ``-m immediate``, i.e. a crash) while a real ``tds api`` ingests
3,000 events and a real ``tds worker`` applies them. Clients that get a 503 or a broken
connection retry; every one of them must end with a 202, no 2xx'd event may be lost, and the
SAME API and worker processes must carry on after the restarts without being restarted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from tests.acceptance.conftest import (
    PrivateCluster,
    Processes,
    cancel,
    check_all_accepted_finished,
    check_applied_once,
    check_erp_newest,
    check_no_busy_rows,
    connect,
    create_api_key,
    make_workload,
    queue_counts,
    send_all,
    set_config,
    wait_drained,
    wait_until,
)

pytestmark = pytest.mark.acceptance

TOTAL = 3000
AFTER = 200


@asynccontextmanager
async def database(url: str, timeout: float = 60.0) -> AsyncIterator[Any]:
    """A connection, retried while the server is coming back."""

    async def attempt() -> Any:
        try:
            return await connect(url)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return None

    connection = await wait_until(
        attempt, timeout=timeout, interval=0.2, what="PostgreSQL to accept connections"
    )
    try:
        yield connection
    finally:
        await connection.close()


async def accepted_at_least(url: str, count: int) -> bool:
    try:
        async with database(url, timeout=5) as db:
            return bool(await db.fetchval("SELECT count(*) FROM tds_sync_queue") >= count)
    except AssertionError:
        return False


async def test_postgres_restart_loses_nothing_and_processes_recover(
    tds: Processes, private_cluster: PrivateCluster
) -> None:
    url = private_cluster.url
    workload = make_workload(TOTAL + AFTER, seed=4, prefix="R")
    before, after = workload.deliveries[:TOTAL], workload.deliveries[TOTAL:]
    key = await create_api_key(url)
    async with database(url) as db:
        await set_config(db, {"worker.lease_seconds": 3, "worker.batch_size": 50})
    api = await tds.api(url)
    worker = tds.worker(url)
    async with database(url) as db:
        worker_id = (await tds.wait_registered(db, worker))[worker.pid]

    sending = asyncio.create_task(send_all(api.base_url, key, before, timeout=180))
    restarts: list[str] = []
    try:
        for fraction, mode in ((0.3, "fast"), (0.65, "immediate")):
            await wait_until(
                lambda f=fraction: accepted_at_least(url, int(TOTAL * f)),
                timeout=120,
                interval=0.1,
                what=f"{fraction:.0%} of the events to be accepted",
            )
            await asyncio.to_thread(private_cluster.restart, mode)
            restarts.append(mode)
        load = await sending
    finally:
        await cancel([sending])
    assert not load.failed, f"some clients never got a 202: {load.summary()}"
    assert load.retried > 0, f"no client saw the restarts (nothing was tested): {load.summary()}"
    print(f"during the restarts: {load.summary()}")

    # The same processes, untouched, keep working after the restarts.
    assert api.alive() and worker.alive(), (api.log()[-3000:], worker.log()[-3000:])
    await tds.wait_ready(api, timeout=30)
    late = await send_all(api.base_url, key, after, timeout=60)
    assert not late.failed, late.summary()

    async with database(url) as db:
        await wait_drained(db, TOTAL + AFTER, timeout=120)
        assert api.alive() and worker.alive()
        await check_no_busy_rows(db)
        await check_all_accepted_finished(db, load.accepted + late.accepted)
        assert sum((await queue_counts(db)).values()) == TOTAL + AFTER
        await check_erp_newest(db, workload.newest)
        await check_applied_once(db)
        late_ids = sorted({a.event_id for a in late.accepted})
        applied_by = await db.fetch(
            "SELECT DISTINCT l.worker_id FROM tds_sync_logs l JOIN tds_sync_queue q ON q.id = l.queue_id"
            " WHERE q.inbox_event_id = ANY($1::bigint[])",
            late_ids,
        )
        assert [r["worker_id"] for r in applied_by] == [worker_id]
    assert restarts == ["fast", "immediate"]
