"""The scheduler: retention clean-up in bounded passes, jobs on cron times, one elected leader."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tds_core.scheduler import retention
from tds_core.scheduler.service import Job, Scheduler

OLD = datetime(2026, 1, 1, tzinfo=UTC)
INBOX = "INSERT INTO tds_inbox_events (entity, status, body, received_at) VALUES ('items', 'queued', 'x', $1)"
QUEUE = (
    "INSERT INTO tds_sync_queue (inbox_event_id, entity, zoho_id, operation, source_version, content_hash,"
    " payload, status, finished_at) VALUES ($1, 'items', $2, 'upsert', $3, 'h', '{}', $4, $3)"
)


async def seed(pool: Any, when: datetime, count: int) -> None:
    for n in range(count):
        inbox = await pool.fetchval(INBOX + " RETURNING id", when)
        await pool.execute(QUEUE, inbox, f"Z{when:%j}{n}", when, "completed")
        await pool.execute(
            "INSERT INTO tds_sync_logs (entity, outcome, created_at) VALUES ('items', 'completed', $1)", when
        )


async def test_retention_deletes_what_is_old_in_bounded_passes_and_keeps_the_rest(pool: Any) -> None:
    await seed(pool, OLD, 5)
    await seed(pool, OLD + timedelta(days=100), 2)
    await pool.execute(
        "INSERT INTO tds_audit_trail (queue_id, entity, zoho_id, erp_table, row_key, action, source_version,"
        " created_at) VALUES (1, 'items', 'A', 'products', 'A', 'insert', $1, $1)",
        OLD,
    )
    # a dead event keeps its inbox row however old: an operator may still replay it
    dead_inbox = await pool.fetchval(INBOX + " RETURNING id", OLD)
    await pool.execute(QUEUE, dead_inbox, "DEAD", OLD, "dead")
    now = OLD + timedelta(days=101)
    result = await retention.run_once(pool, retention.RetentionConfig(batch=2), now=now)
    assert result.deleted == {
        "tds_sync_queue": 5,
        "tds_inbox_events": 5,
        "tds_sync_logs": 5,
        "tds_metrics": 0,
    }
    assert result.passes == 3  # 2 + 2 + 1: bounded batches until a pass deletes less than a batch
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_queue") == 3
    assert await pool.fetchval("SELECT count(*) FROM tds_inbox_events") == 3
    assert await pool.fetchval("SELECT count(*) FROM tds_audit_trail") == 1  # never deleted
    later = await retention.run_once(pool, retention.RetentionConfig(), now=OLD + timedelta(days=200))
    assert later.deleted["tds_sync_logs"] == 2
    assert await pool.fetchval("SELECT count(*) FROM tds_inbox_events WHERE id = $1", dead_inbox) == 1


async def test_jobs_run_when_due_and_a_failing_job_does_not_stop_the_others() -> None:
    calls: list[str] = []

    async def ok() -> str:
        calls.append("ok")
        return "done"

    async def boom() -> None:
        calls.append("boom")
        raise RuntimeError("job broke")

    start = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    jobs = [Job("boom", "*/5 * * * *", boom), Job("ok", "17 3 * * *", ok)]
    scheduler = Scheduler("postgresql://unused", jobs)
    for job in jobs:
        job.schedule(start)
    assert await scheduler.run_due(start + timedelta(minutes=1)) == []
    assert await scheduler.run_due(start + timedelta(minutes=5)) == ["boom"]
    assert await scheduler.run_due(start + timedelta(minutes=17)) == ["boom", "ok"]
    assert calls == ["boom", "boom", "ok"]
    assert (jobs[0].failures, jobs[1].runs) == (2, 1)
    assert jobs[1].next_at == datetime(2026, 11, 29, 3, 17, tzinfo=UTC)


async def test_only_one_scheduler_leads_and_a_standby_takes_over(database_url: str) -> None:
    first = Scheduler(database_url, [], tick_seconds=0.05)
    second = Scheduler(database_url, [], tick_seconds=0.05)
    tasks = [asyncio.create_task(first.run())]
    await asyncio.wait_for(first.leading.wait(), 10)
    tasks.append(asyncio.create_task(second.run()))
    await asyncio.sleep(0.3)
    assert not second.leading.is_set()
    first.stop()
    await asyncio.wait_for(tasks[0], 10)  # the leader's session ends and its lock with it
    await asyncio.wait_for(second.leading.wait(), 15)
    second.stop()
    await asyncio.wait_for(tasks[1], 10)
