"""Scale-out: four worker processes on one backlog never apply an event twice.

3,000 events (several versions per entity, out of order) wait in the queue while four real
``tds worker`` processes start; then the backlog is released to all of them at once. Audit
trail and sync logs must show each event applied (or skipped) exactly once, the ERP must hold
the newest version of every entity, and more than one process must have done the work.
"""

from __future__ import annotations

from collections import Counter

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
    send_all,
    set_config,
    wait_drained,
)

pytestmark = pytest.mark.acceptance

TOTAL = 3000
WORKERS = 4


async def test_four_workers_apply_each_event_once(tds: Processes, database_url: str) -> None:
    workload = make_workload(TOTAL, seed=3, prefix="S")
    key = await create_api_key(database_url)
    db = await connect(database_url)
    try:
        await set_config(db, {"worker.batch_size": 20})
        api = await tds.api(database_url)
        load = await send_all(api.base_url, key, workload.deliveries)
        assert not load.failed, load.summary()

        # Hold the backlog back until every worker is up, so all four compete for it.
        await db.execute("UPDATE tds_sync_queue SET next_attempt_at = now() + interval '1 hour'")
        workers = [tds.worker(database_url) for _ in range(WORKERS)]
        await tds.wait_registered(db, *workers)
        await db.execute("UPDATE tds_sync_queue SET next_attempt_at = now()")
        await db.execute("SELECT pg_notify('tds_queue', '')")

        await wait_drained(db, TOTAL, timeout=120)
        for worker in workers:
            assert worker.alive(), worker.log()[-3000:]
        await check_no_busy_rows(db)
        await check_all_accepted_finished(db, load.accepted)
        await check_erp_newest(db, workload.newest)
        await check_applied_once(db)

        share = Counter(
            {
                r["worker_id"]: r["n"]
                for r in await db.fetch(
                    "SELECT worker_id, count(*) AS n FROM tds_sync_logs"
                    " WHERE outcome IN ('completed', 'skipped_stale', 'skipped_unchanged') GROUP BY 1"
                )
            }
        )
        assert sum(share.values()) == TOTAL
        assert len(share) >= 2, f"only one worker did any work: {share}"
    finally:
        await db.close()
