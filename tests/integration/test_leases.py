"""Lease rescue: expired leases and leases of workers whose liveness lock is gone come back;
a live worker's leases stay; an event that used its last attempt is dead-lettered instead."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tds_core.db.queries import QUERIES

LEASE = 300.0


async def enqueue(pool: Any, zoho_id: str) -> None:
    await pool.execute(
        "INSERT INTO tds_sync_queue (entity, zoho_id, operation, source_version, content_hash, payload)"
        " VALUES ('items', $1, 'upsert', now(), 'h', '{}')",
        zoho_id,
    )


async def claim(pool: Any, worker: str) -> Any:
    rows = await pool.fetch(QUERIES.queue_claim_batch, worker, 10, None, LEASE)
    assert len(rows) == 1
    return rows[0]


async def rescue(pool: Any, at: Any, max_attempts: int = 8) -> tuple[int, int]:
    dead = await pool.fetch(QUERIES.queue_dead_exhausted, at, 100, max_attempts)
    back = await pool.fetch(QUERIES.queue_rescue_expired, at, 100, max_attempts)
    return len(back), len(dead)


async def test_a_gone_worker_is_rescued_after_the_grace_not_the_lease(pool: Any) -> None:
    await enqueue(pool, "A")
    row = await claim(pool, "host:1:gone")
    claimed = await pool.fetchval("SELECT claimed_at FROM tds_sync_queue WHERE id = $1", row["id"])
    assert await rescue(pool, claimed + timedelta(seconds=1)) == (0, 0)  # just claimed: grace
    assert await rescue(pool, claimed + timedelta(seconds=3)) == (1, 0)  # no liveness lock: back
    state = await pool.fetchrow("SELECT status::text, locked_by, attempt_history FROM tds_sync_queue")
    assert state["status"] == "pending" and state["locked_by"] is None
    assert state["attempt_history"][-1]["worker"] == "host:1:gone"


async def test_a_live_worker_keeps_its_lease_until_it_expires(pool: Any) -> None:
    await enqueue(pool, "B")
    async with pool.acquire() as session:
        await session.execute(QUERIES.workers_hold_liveness_lock, "host:2:alive")
        row = await claim(pool, "host:2:alive")
        claimed = await pool.fetchval("SELECT claimed_at FROM tds_sync_queue WHERE id = $1", row["id"])
        assert await rescue(pool, claimed + timedelta(seconds=30)) == (0, 0)
        assert await rescue(pool, claimed + timedelta(seconds=LEASE + 1)) == (1, 0)  # expired anyway
        await session.execute("SELECT pg_advisory_unlock_all()")


async def test_an_exhausted_event_of_a_gone_worker_is_dead_lettered(pool: Any) -> None:
    await enqueue(pool, "C")
    row = await claim(pool, "host:3:gone")
    claimed = await pool.fetchval("SELECT claimed_at FROM tds_sync_queue WHERE id = $1", row["id"])
    assert await rescue(pool, claimed + timedelta(seconds=3), max_attempts=1) == (0, 1)
    assert await pool.fetchval("SELECT status::text FROM tds_sync_queue") == "dead"
    letter = await pool.fetchrow("SELECT queue_id, attempts, error FROM tds_dead_letter_queue")
    assert letter["queue_id"] == row["id"] and letter["attempts"] == 1
    assert "last attempt" in letter["error"]


async def test_the_rescue_service_hands_back_leases_with_no_worker_running(pool: Any) -> None:
    """What the scheduler runs every 10 s (and each worker every few seconds)."""
    from tds_core.queue import rescue as service

    await enqueue(pool, "D")
    row = await claim(pool, "host:4:gone")
    await enqueue(pool, "E")
    await pool.execute(
        "UPDATE tds_sync_queue SET claimed_at = claimed_at - interval '1 minute',"
        " locked_until = now() - interval '1 second' WHERE id = $1",
        row["id"],
    )
    result = await service.run_once(pool, max_attempts=8)
    assert (result.rescued, result.dead_lettered) == (1, 0) and result
    states = await pool.fetch("SELECT status::text AS status FROM tds_sync_queue ORDER BY id")
    assert [r["status"] for r in states] == ["pending", "pending"]
    assert not await service.run_once(pool, max_attempts=8)


async def test_a_failure_recorded_after_the_lease_was_lost_writes_nothing(
    pool: Any, database_url: str
) -> None:
    """Issue 17: the retry and dead-letter branches ignored a zero-row update and still wrote a
    sync log (and, for a dead letter, claimed an outcome that did not happen). Another worker
    owns the event now: its fate is that worker's to record."""
    from tds_core.errors import DataError, TargetError
    from tds_core.processor.worker import Worker
    from tds_core.queue.leases import ClaimedEvent

    await enqueue(pool, "L")
    lost = ClaimedEvent.from_row(await claim(pool, "host:4:first"))
    # the first worker's lease expired and was rescued; a second worker holds the event now
    await pool.execute("UPDATE tds_sync_queue SET locked_by = 'host:5:second' WHERE id = $1", lost.id)
    worker = Worker(pool, database_url, worker_id="host:4:first")
    async with pool.acquire() as connection:
        for error in (TargetError("a trigger said no"), DataError("a value PostgreSQL refused")):
            await worker._record_failure(connection, lost, error)  # retry, then dead-letter branch
    row = await pool.fetchrow("SELECT status::text, locked_by, attempt_history FROM tds_sync_queue")
    assert (row["status"], row["locked_by"]) == ("processing", "host:5:second")
    assert row["attempt_history"] == []
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_logs") == 0
    assert await pool.fetchval("SELECT count(*) FROM tds_dead_letter_queue") == 0
    assert worker.stats.failed == 0
