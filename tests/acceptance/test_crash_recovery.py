"""Guarantee 1 (nothing accepted is lost) and exactly-once apply across worker crashes.

5,000 events over every entity type, several versions per entity and many delivered out of
order, are sent to a real ``tds api`` while a real ``tds worker`` applies them. The worker is
SIGKILLed twice while it holds a claimed, unfinished batch, and a new worker is started each
time. Afterwards every accepted event is finished, the ERP holds the newest version of every
entity, and the audit trail and sync logs show that no event was applied twice.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from typing import Any

import pytest

from tests.acceptance.conftest import (
    Processes,
    TdsProcess,
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

TOTAL = 5000
DUPLICATES = 100


async def worker_sessions(connection: Any) -> int:
    """Open sessions of worker processes on this database."""
    return int(
        await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name LIKE 'tds-worker%'"
        )
    )


async def kill_mid_batch(connection: Any, worker: TdsProcess, worker_id: str) -> list[int]:
    """SIGKILL ``worker`` while it holds claimed rows it has not finished.

    The worker is frozen (SIGSTOP) first, so the leases seen in the database are the ones it
    holds at the instant of the kill; if it holds none, it is resumed and we look again. After
    the kill, once PostgreSQL has closed all of its sessions (a COMMIT already on the wire may
    still land), returns the ids it left unfinished (possibly none: then the caller retries)."""

    async def leased_and_killed() -> list[int]:
        assert worker.alive(), f"worker exited by itself:\n{worker.log()[-3000:]}"
        worker.send(signal.SIGSTOP)
        held = await connection.fetch(
            "SELECT id FROM tds_sync_queue WHERE status = 'processing' AND locked_by = $1", worker_id
        )
        if held:
            worker.kill()
            return [r["id"] for r in held]
        worker.send(signal.SIGCONT)
        return []

    held: list[int] = await wait_until(leased_and_killed, timeout=60, interval=0.01, what="a batch in flight")

    async def sessions_gone() -> bool:
        return await worker_sessions(connection) == 0

    await wait_until(sessions_gone, timeout=30, what="the killed worker's sessions to end")
    rows = await connection.fetch(
        "SELECT id FROM tds_sync_queue WHERE id = ANY($1::bigint[]) AND status = 'processing'"
        " AND locked_by = $2",
        held,
        worker_id,
    )
    return [r["id"] for r in rows]


async def completed_at_least(connection: Any, count: int) -> bool:
    counts = await queue_counts(connection)
    return counts["completed"] + counts["skipped_stale"] + counts["skipped_unchanged"] >= count


async def test_sigkill_worker_mid_batch_twice_loses_and_duplicates_nothing(
    tds: Processes, database_url: str
) -> None:
    workload = make_workload(TOTAL, seed=1, prefix="K")
    key = await create_api_key(database_url)
    db = await connect(database_url)
    tasks: list[asyncio.Task[Any]] = []
    try:
        # Short leases so the crashed worker's rows come back quickly.
        await set_config(db, {"worker.lease_seconds": 3, "worker.batch_size": 100})
        api = await tds.api(database_url)
        first = tds.worker(database_url)
        worker_ids = await tds.wait_registered(db, first)

        sending = asyncio.create_task(send_all(api.base_url, key, workload.deliveries, timeout=180))
        tasks.append(sending)
        kills: list[tuple[str, list[int]]] = []
        worker = first
        for fraction in (0.2, 0.55):
            await wait_until(
                lambda f=fraction: completed_at_least(db, int(TOTAL * f)),
                timeout=120,
                what=f"{fraction:.0%} of the events to finish",
            )
            cut_off: list[int] = []
            for _ in range(5):  # a kill that only hit a landing COMMIT does not count
                killed_id = worker_ids[worker.pid]
                cut_off = await kill_mid_batch(db, worker, killed_id)
                worker = tds.worker(database_url)
                worker_ids.update(await tds.wait_registered(db, worker))
                if cut_off:
                    break
            assert cut_off, "could not kill the worker while it held an unfinished batch"
            kills.append((killed_id, cut_off))

        load = await sending
        assert not load.failed, f"some deliveries were not accepted: {load.summary()}"
        # The same deliveries again: stored once, answered ``duplicate`` naming the first event.
        again = await send_all(api.base_url, key, workload.deliveries[:DUPLICATES], timeout=60)
        assert not again.failed, again.summary()
        for index, repeat in enumerate(again.answers):
            assert repeat.body == {"event_id": load.answers[index].event_id, "status": "duplicate"}

        await wait_drained(db, TOTAL, timeout=120)
        assert worker.alive(), worker.log()[-3000:]

        await check_no_busy_rows(db)
        assert await db.fetchval("SELECT count(*) FROM tds_sync_queue") == TOTAL
        states = await check_all_accepted_finished(db, load.accepted)
        assert len(states) == TOTAL
        outcomes = Counter(states.values())
        assert outcomes["completed"] and outcomes["skipped_stale"], f"no out-of-order delivery: {outcomes}"
        await check_erp_newest(db, workload.newest)
        await check_applied_once(db)
        status = tds.cli(database_url, "status", "--json")
        assert status.returncode == 0, status.stderr
        summary = json.loads(status.stdout)
        assert sum(summary["queue"].values()) == TOTAL and summary["dlq_open"] == 0, summary
        assert not {"pending", "processing", "dead"} & set(summary["queue"]), summary
        # The batches in flight at each kill were finished later, by another worker.
        assert len(kills) == 2
        for killed_id, held in kills:
            finished_by = await db.fetch(
                "SELECT queue_id, worker_id FROM tds_sync_logs WHERE queue_id = ANY($1::bigint[])"
                " AND outcome IN ('completed', 'skipped_stale', 'skipped_unchanged')",
                held,
            )
            assert sorted(r["queue_id"] for r in finished_by) == sorted(held)
            assert all(r["worker_id"] != killed_id for r in finished_by)
    finally:
        await cancel(tasks)
        await db.close()
