"""SIGTERM: a worker stops claiming, finishes or hands back what it holds, and exits 0.

A real ``tds worker`` is sent SIGTERM while it holds a claimed batch in the middle of a drain.
It must exit 0 without leaving a row ``processing`` under its lease, and a second worker must
then finish the backlog with every event applied exactly once.
"""

from __future__ import annotations

import signal

import pytest

from tests.acceptance.conftest import (
    Processes,
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

TOTAL = 2000


async def test_sigterm_mid_drain_exits_zero_and_keeps_no_lease(tds: Processes, database_url: str) -> None:
    workload = make_workload(TOTAL, seed=2, prefix="T")
    key = await create_api_key(database_url)
    db = await connect(database_url)
    try:
        await set_config(db, {"worker.batch_size": 25})
        api = await tds.api(database_url)
        load = await send_all(api.base_url, key, workload.deliveries)
        assert not load.failed, load.summary()

        worker = tds.worker(database_url)
        worker_id = (await tds.wait_registered(db, worker))[worker.pid]

        async def holding_leases_mid_drain() -> bool:
            """Freeze the worker; when it holds leases and work is left, SIGTERM it (else resume)."""
            assert worker.alive(), worker.log()[-3000:]
            worker.send(signal.SIGSTOP)
            held = await db.fetchval(
                "SELECT count(*) FROM tds_sync_queue WHERE status = 'processing' AND locked_by = $1",
                worker_id,
            )
            counts = await queue_counts(db)
            finished = counts["completed"] + counts["skipped_stale"] + counts["skipped_unchanged"]
            if held and finished >= TOTAL // 10:
                worker.send(signal.SIGTERM)
                worker.send(signal.SIGCONT)
                return True
            worker.send(signal.SIGCONT)
            assert counts["pending"] > 0, "the worker drained everything before it could be stopped"
            return False

        await wait_until(
            holding_leases_mid_drain, timeout=60, interval=0.01, what="the worker to be mid-drain"
        )
        assert await worker.wait_exit(30) == 0, worker.log()[-3000:]

        kept = await db.fetch(
            "SELECT id, status::text AS status, locked_by FROM tds_sync_queue"
            " WHERE status = 'processing' OR locked_by = $1",
            worker_id,
        )
        assert not kept, f"rows still leased after a clean stop: {[dict(r) for r in kept[:10]]}"
        assert await db.fetchval(
            "SELECT stopped_at IS NOT NULL FROM tds_workers WHERE worker_id = $1", worker_id
        )
        left = (await queue_counts(db))["pending"]
        assert left > 0, "nothing was left: the stop did not happen mid-drain"

        second = tds.worker(database_url)
        await wait_drained(db, TOTAL, timeout=90)
        assert second.alive(), second.log()[-3000:]
        await check_no_busy_rows(db)
        await check_all_accepted_finished(db, load.accepted)
        await check_erp_newest(db, workload.newest)
        await check_applied_once(db)
    finally:
        await db.close()
