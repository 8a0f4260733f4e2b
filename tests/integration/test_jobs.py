"""Background jobs: a bulk DLQ replay of 1,000 events cancelled midway keeps exactly what it did
(each replayed event applied once) and a second job finishes the rest; a job whose runner died
is taken over and resumes after its last committed batch; queued jobs cancel at once; a failing
handler fails its job, not the runner; a stopping runner hands its job back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tds_core import errors
from tds_core.access.actions import Actor
from tds_core.jobs import dlq_replay
from tds_core.jobs import runner as jobs
from tds_core.jobs.inbox_replay import InboxReplayConfig, replay_handlers
from tds_core.jobs.runner import JobContext, JobLost, JobRunner, Progress
from tds_core.operations.dead_letters import DeadLetterFilter

from .test_dlq_api import Headers, actions, make_dead_letters

TESTER = Actor(name="tester", role="operator", via="cli")


class RunnerDied(BaseException):
    """Stands for a SIGKILL: nothing after it runs, no finishing write, no release."""


async def applied_once(pool: Any) -> dict[str, int]:
    """What the ERP and the trace say about the DL- events: applied products, audit rows and
    completed logs per queue row (each at most one), and the letters by status."""
    per_queue = await pool.fetchrow(
        """
        SELECT (SELECT count(*) FROM products WHERE zoho_id LIKE 'DL-%') AS products,
               (SELECT count(*) FROM tds_audit_trail) AS audit_rows,
               (SELECT count(DISTINCT queue_id) FROM tds_audit_trail) AS audited_events,
               (SELECT count(*) FROM tds_sync_logs WHERE outcome = 'completed') AS completed_logs,
               (SELECT count(DISTINCT queue_id) FROM tds_sync_logs WHERE outcome = 'completed')
                   AS completed_events,
               (SELECT count(*) FROM tds_sync_logs WHERE outcome = 'replayed') AS replayed_logs,
               (SELECT count(DISTINCT queue_id) FROM tds_sync_logs WHERE outcome = 'replayed')
                   AS replayed_events,
               (SELECT count(*) FROM tds_sync_queue WHERE status = 'completed') AS completed_rows,
               (SELECT count(*) FROM tds_sync_queue WHERE status = 'dead') AS dead_rows,
               (SELECT count(*) FROM tds_dead_letter_queue WHERE status = 'open') AS open_letters,
               (SELECT count(*) FROM tds_dead_letter_queue WHERE status = 'replayed') AS replayed_letters
        """
    )
    return dict(per_queue)


def expect(replayed: int, total: int) -> dict[str, int]:
    return {
        "products": replayed,
        "audit_rows": replayed,
        "audited_events": replayed,
        "completed_logs": replayed,
        "completed_events": replayed,
        "replayed_logs": replayed,
        "replayed_events": replayed,
        "completed_rows": replayed,
        "dead_rows": total - replayed,
        "open_letters": total - replayed,
        "replayed_letters": replayed,
    }


async def test_bulk_replay_of_1000_dead_letters_cancelled_midway_applies_each_replayed_event_once(
    client: httpx.AsyncClient, auth_headers: Headers, pool: Any, drain: Any
) -> None:
    ids = await make_dead_letters(pool, drain, 1000)
    operator = await auth_headers("operator")
    started = await client.post(
        "/api/v1/dlq/replay", json={"entity": "items", "note": "fixed"}, headers=operator
    )
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    assert started.json()["total"] == 1000

    reports: list[int] = []

    async def cancel_after_three_batches(progress: Progress) -> None:
        # Called after each batch commits: the operator cancels while the job is running.
        reports.append(progress.done)
        if progress.done == 300:
            answer = await client.post(f"/api/v1/jobs/{job_id}/cancel", headers=operator)
            assert answer.status_code == 200, answer.text
            assert (answer.json()["status"], answer.json()["cancel_requested"]) == ("running", True)

    handlers = replay_handlers(pool, config=InboxReplayConfig(batch_size=100))
    runner = JobRunner(pool, handlers, on_progress=cancel_after_three_batches)
    assert await runner.run_once()
    assert reports == [100, 200, 300]  # it stopped at the first check after the cancel
    job = (await client.get(f"/api/v1/jobs/{job_id}", headers=operator)).json()
    assert (job["status"], job["done"], job["total"], job["skipped"]) == ("cancelled", 300, 1000, 0)
    assert job["result"] == {"replayed": 300, "skipped": 0}
    assert job["finished_at"] is not None and job["runner"] == runner.runner_id

    await drain()
    assert await applied_once(pool) == expect(300, 1000)
    replayed = [
        r["id"] for r in await pool.fetch("SELECT id FROM tds_dead_letter_queue WHERE status = 'replayed'")
    ]
    assert sorted(replayed) == ids[:300]  # oldest first, exactly the committed batches

    async with pool.acquire() as connection:
        rest = await dlq_replay.start_bulk_replay(connection, DeadLetterFilter(entity="items"), TESTER)
    assert rest.total == 700
    assert await JobRunner(pool, handlers).run_once()
    async with pool.acquire() as connection:
        finished = await jobs.get(connection, rest.id)
    assert (finished.status, finished.done, finished.result) == (
        "completed",
        700,
        {"replayed": 700, "skipped": 0},
    )
    await drain()
    assert await applied_once(pool) == expect(1000, 1000)
    # nothing applied twice: one audit row and one completed log per queue row, one row per product
    assert (
        await pool.fetchval(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM tds_audit_trail GROUP BY queue_id) s"
        )
        == 1
    )
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_queue") == 1000

    recorded = [(a["actor"], a["via"], a["action"], a["target"]) for a in await actions(pool)]
    assert recorded == [
        ("operator-user", "api", "job.create", str(job_id)),
        ("operator-user", "api", "job.cancel", str(job_id)),
        ("tester", "cli", "job.create", str(rest.id)),
    ]


async def test_a_job_whose_runner_died_is_taken_over_and_resumes_after_its_last_batch(
    pool: Any, drain: Any
) -> None:
    await make_dead_letters(pool, drain, 30)
    async with pool.acquire() as connection:
        job = await dlq_replay.start_bulk_replay(connection, DeadLetterFilter(entity="items"), TESTER)
    handlers = replay_handlers(pool, config=InboxReplayConfig(batch_size=10))
    contexts: list[JobContext] = []

    async def remember(ctx: JobContext) -> dict[str, Any]:
        contexts.append(ctx)
        return await handlers["dlq_replay"](ctx)

    async def die(progress: Progress) -> None:
        raise RunnerDied

    first = JobRunner(pool, {"dlq_replay": remember}, runner_id="runner-a", on_progress=die)
    with pytest.raises(RunnerDied):
        await first.run_once()
    row = await pool.fetchrow("SELECT status, runner, done FROM tds_jobs WHERE id = $1", job.id)
    assert tuple(row) == ("running", "runner-a", 10)

    second = JobRunner(pool, handlers, runner_id="runner-b")
    assert not await second.run_once()  # runner-a beat a moment ago: not taken from a live runner
    later = datetime.now(UTC) + timedelta(seconds=second.config.stale_after_seconds + 1)
    assert await second.run_once(now=later)

    async with pool.acquire() as connection:
        taken = await jobs.get(connection, job.id)
    assert (taken.status, taken.runner, taken.done) == ("completed", "runner-b", 30)
    assert taken.result["replayed"] == 30
    assert [(t["from"], t["by"], t["done"]) for t in taken.result["takeovers"]] == [
        ("runner-a", "runner-b", 10)
    ]
    with pytest.raises(JobLost):  # the dead runner, were it to wake up, can write nothing more
        await contexts[0].progress(11)
    await drain()
    assert await applied_once(pool) == expect(30, 30)


async def test_a_queued_job_is_cancelled_at_once_and_never_runs(
    client: httpx.AsyncClient, auth_headers: Headers, pool: Any, drain: Any
) -> None:
    await make_dead_letters(pool, drain, 3)
    operator, viewer = await auth_headers("operator"), await auth_headers("viewer")
    job = (await client.post("/api/v1/dlq/replay", json={"all": True}, headers=operator)).json()
    assert (await client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=viewer)).status_code == 403
    cancelled = await client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=operator)
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["finished_at"] is not None) == ("cancelled", True)
    assert not await JobRunner(pool, replay_handlers(pool)).run_once()
    assert await pool.fetchval("SELECT count(*) FROM tds_dead_letter_queue WHERE status = 'open'") == 3
    again = await client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=operator)
    assert again.status_code == 409 and again.json()["error"] == f"job {job['id']} is already cancelled"
    assert (await client.post("/api/v1/jobs/999999/cancel", headers=operator)).status_code == 404
    assert (await client.get("/api/v1/jobs/999999", headers=viewer)).status_code == 404

    listed = await client.get("/api/v1/jobs", params={"kind": "dlq_replay"}, headers=viewer)
    assert [(j["id"], j["status"]) for j in listed.json()] == [(job["id"], "cancelled")]
    assert (await client.get("/api/v1/jobs", params={"status": "running"}, headers=viewer)).json() == []
    assert (await client.get("/api/v1/jobs", params={"kind": "nonsense"}, headers=viewer)).status_code == 422


async def test_a_failing_handler_fails_its_job_and_a_runner_takes_only_kinds_it_knows(pool: Any) -> None:
    async with pool.acquire() as connection:
        sync_job = await jobs.create(connection, "sync", {"entity": "items"}, TESTER)
        broken = await jobs.create(connection, "reconcile", {}, TESTER)

    async def explode(ctx: JobContext) -> dict[str, Any]:
        await ctx.progress(1, total=5)
        raise RuntimeError("Zoho said no")

    runner = JobRunner(pool, {"reconcile": explode})
    assert await runner.run_once()  # the sync job is left for a runner that has a sync handler
    assert not await runner.run_once()
    async with pool.acquire() as connection:
        failed = await jobs.get(connection, broken.id)
        waiting = await jobs.get(connection, sync_job.id)
    assert (failed.status, failed.done, failed.total, failed.error) == (
        "failed",
        1,
        5,
        "RuntimeError: Zoho said no",
    )
    assert waiting.status == "queued"


async def test_a_stopping_runner_hands_its_job_back_and_the_next_one_resumes(pool: Any) -> None:
    async with pool.acquire() as connection:
        job = await jobs.create(connection, "sync", {}, TESTER, total=4)
    entered = asyncio.Event()
    runs: list[dict[str, Any] | None] = []

    async def slow(ctx: JobContext) -> dict[str, Any]:
        runs.append(ctx.checkpoint)
        if ctx.checkpoint is None:
            async with ctx.step() as step:
                step.progress(2, checkpoint={"after": 2})
            entered.set()
            await asyncio.Event().wait()  # until this process stops
        async with ctx.step() as step:
            step.progress(4, checkpoint={"after": 4})
        return {"pulled": 4}

    runner = JobRunner(pool, {"sync": slow})
    task = asyncio.create_task(runner.run_once())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    row = await pool.fetchrow("SELECT status, runner, done FROM tds_jobs WHERE id = $1", job.id)
    assert tuple(row) == ("queued", None, 2)
    assert await JobRunner(pool, {"sync": slow}).run_once()
    async with pool.acquire() as connection:
        done = await jobs.get(connection, job.id)
    assert runs == [None, {"after": 2}]
    assert (done.status, done.done, done.total, done.result) == ("completed", 4, 4, {"pulled": 4})


async def test_unknown_kind_is_refused(pool: Any) -> None:
    async with pool.acquire() as connection:
        with pytest.raises(errors.InvalidRequest):
            await jobs.create(connection, "format_disk", {}, TESTER)
