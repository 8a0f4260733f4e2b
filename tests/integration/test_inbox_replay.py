"""Replay from the inbox: the dry-run count equals what a real replay queues; replaying applied
events changes nothing (``skipped_unchanged``: ERP rows and audit trail untouched); the time and
entity filters; superseded versions end stale; rejected events are validated again; a replay
job taken over from a dead runner queues each event once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest

from tds_core.access.actions import Actor
from tds_core.domain.states import Operation
from tds_core.jobs import inbox_replay
from tds_core.jobs import runner as jobs
from tds_core.jobs.inbox_replay import InboxReplayConfig, InboxSelection, replay_handlers
from tds_core.jobs.runner import JobRunner, Progress
from tds_core.staging.service import Envelope, stage_event

from . import samples
from .conftest import Send
from .test_dlq_api import Headers, actions

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
TESTER = Actor(name="tester", role="operator", via="cli")
ERP_TABLES = ("products", "customers", "invoices", "invoice_line_items")


class RunnerDied(BaseException):
    """Stands for a SIGKILL of the runner's process."""


async def stage_at(pool: Any, entity: str, document: dict[str, Any], minutes: int) -> int:
    """Stage a document the way a webhook does, as received at T0 + ``minutes``."""
    envelope = Envelope(
        entity=entity,
        source="webhook",
        received_at=T0 + timedelta(minutes=minutes),
        body=orjson.dumps(document),
        content_type="application/json",
    )
    return (await stage_event(pool, envelope, document, Operation.UPSERT)).event_id


@pytest.fixture
async def stored(pool: Any, webhook: Send, drain: Any) -> dict[str, int]:
    """Six events of three entities, applied: five at known times, one a real form-encoded webhook."""
    events = {
        "I-1": await stage_at(pool, "items", {"item": samples.item(item_id="I-1", name="One")}, 0),
        "I-2": await stage_at(pool, "items", {"item": samples.item(item_id="I-2", name="Two")}, 10),
        "C-1": await stage_at(pool, "contacts", {"contact": samples.contact(contact_id="C-1")}, 20),
        # no last_modified_time: the version is the time received, the same again on a replay
        "B-1": await stage_at(pool, "items", samples.books_item(item_id="B-1"), 30),
        "INV": await stage_at(pool, "invoices", {"invoice": samples.invoice()}, 40),
    }
    form = urlencode({"JSONString": orjson.dumps({"item": samples.item(item_id="I-3")}).decode()})
    answer = await webhook(
        "items", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 202, answer.text
    events["I-3"] = answer.json()["event_id"]
    await drain()
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_queue WHERE status = 'completed'") == 6
    return events


async def erp_snapshot(pool: Any) -> dict[str, Any]:
    tables = {t: [dict(r) for r in await pool.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in ERP_TABLES}
    tables["audit"] = [dict(r) for r in await pool.fetch("SELECT * FROM tds_audit_trail ORDER BY id")]
    return tables


async def replay_rows(pool: Any, job_id: int) -> list[dict[str, Any]]:
    """Queue rows this replay job created, in id order."""
    rows = await pool.fetch(
        "SELECT id, inbox_event_id, zoho_id, status::text AS status FROM tds_sync_queue"
        " WHERE (attempt_history -> 0 ->> 'job')::bigint = $1 ORDER BY id",
        job_id,
    )
    return [dict(r) for r in rows]


def window(start: datetime, end: datetime, **more: Any) -> dict[str, Any]:
    return {"from": start.isoformat(), "to": end.isoformat(), **more}


async def run_job(pool: Any, batch_size: int = 500) -> None:
    assert await JobRunner(
        pool, replay_handlers(pool, config=InboxReplayConfig(batch_size=batch_size))
    ).run_once()


async def test_dry_run_count_equals_what_a_replay_queues_and_applied_events_change_nothing(
    stored: dict[str, int], client: httpx.AsyncClient, auth_headers: Headers, pool: Any, drain: Any
) -> None:
    operator = await auth_headers("operator")
    before = await erp_snapshot(pool)
    everything = window(T0 - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1))

    dry = await client.post("/api/v1/replay", json={**everything, "dry_run": True}, headers=operator)
    assert dry.status_code == 200, dry.text
    counted = dry.json()
    assert (counted["matched"], counted["would_queue"], counted["invalid"]) == (6, 6, 0)
    assert counted["by_entity"] == {"contacts": 1, "invoices": 1, "items": 4}
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_queue") == 6  # a dry run writes nothing
    assert await actions(pool) == []

    started = await client.post("/api/v1/replay", json={**everything, "dry_run": False}, headers=operator)
    assert started.status_code == 202, started.text
    job = started.json()
    assert (job["kind"], job["status"], job["total"]) == ("inbox_replay", "queued", 6)
    await run_job(pool, batch_size=4)
    finished = (await client.get(f"/api/v1/jobs/{job['id']}", headers=operator)).json()
    assert finished["status"] == "completed"
    assert finished["result"]["queued"] == counted["would_queue"]
    assert finished["result"]["by_entity"] == counted["by_entity"]
    queued = await replay_rows(pool, job["id"])
    assert len(queued) == counted["would_queue"]
    assert sorted(r["inbox_event_id"] for r in queued) == sorted(stored.values())  # each event once

    await drain()
    assert {r["status"] for r in await replay_rows(pool, job["id"])} == {"skipped_unchanged"}
    assert await erp_snapshot(pool) == before  # ERP rows (synced_at included) and audit trail untouched
    logs = await pool.fetch(
        "SELECT outcome, count(*) AS n FROM tds_sync_logs WHERE queue_id = ANY($1) GROUP BY 1 ORDER BY 1",
        [r["id"] for r in queued],
    )
    assert [tuple(r) for r in logs] == [("replayed", 6), ("skipped_unchanged", 6)]
    created = await actions(pool, "job.create")
    assert [(a["actor"], a["role"], a["via"], a["details"]["kind"]) for a in created] == [
        ("operator-user", "operator", "api", "inbox_replay")
    ]


async def test_time_range_is_half_open_and_entity_filters(
    stored: dict[str, int], client: httpx.AsyncClient, auth_headers: Headers, pool: Any
) -> None:
    operator = await auth_headers("operator")

    async def dry(**body: Any) -> dict[str, Any]:
        answer = await client.post("/api/v1/replay", json={**body, "dry_run": True}, headers=operator)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    first_quarter = window(T0, T0 + timedelta(minutes=15), entity="items")
    assert (await dry(**first_quarter))["would_queue"] == 2
    assert (await dry(**window(T0 + timedelta(minutes=10), T0 + timedelta(minutes=20))))["by_entity"] == {
        "items": 1  # from is inclusive (I-2 at +10), to exclusive (C-1 at +20)
    }
    assert (await dry(**window(T0, datetime.now(UTC) + timedelta(hours=1), entity="contacts")))[
        "would_queue"
    ] == 1
    assert (await dry(**window(T0 - timedelta(days=2), T0 - timedelta(days=1))))["matched"] == 0

    async with pool.acquire() as connection:
        selection = InboxSelection.build(T0, T0 + timedelta(minutes=15), "items")
        job = await inbox_replay.start(connection, selection, TESTER)
    await run_job(pool)
    assert sorted(r["inbox_event_id"] for r in await replay_rows(pool, job.id)) == [
        stored["I-1"],
        stored["I-2"],
    ]


async def test_a_superseded_version_replays_stale_and_the_erp_keeps_the_newest(pool: Any, drain: Any) -> None:
    old = samples.item(item_id="V-1", name="Old name", last_modified_time="2024-01-15T10:20:30+0530")
    new = samples.item(item_id="V-1", name="New name", last_modified_time="2024-02-01T10:20:30+0530")
    await stage_at(pool, "items", {"item": old}, 0)
    await stage_at(pool, "items", {"item": new}, 5)
    await drain()
    before = await erp_snapshot(pool)
    selection = InboxSelection.build(T0, T0 + timedelta(hours=1))
    assert (await inbox_replay.count(pool, selection)).would_queue == 2
    async with pool.acquire() as connection:
        job = await inbox_replay.start(connection, selection, TESTER)
    await run_job(pool)
    await drain()
    assert [(r["status"]) for r in await replay_rows(pool, job.id)] == ["skipped_stale", "skipped_unchanged"]
    assert await erp_snapshot(pool) == before
    assert await pool.fetchval("SELECT name FROM products WHERE zoho_id = 'V-1'") == "New name"


async def test_rejected_events_are_validated_again_and_queued_once_they_pass(
    webhook: Send, pool: Any, drain: Any
) -> None:
    no_id = await webhook("items", {"item": {"name": "No id"}})
    assert no_id.status_code == 422
    wrong_type = await webhook("items", content=b"{}", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    selection = InboxSelection.build(
        datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1), statuses=("rejected",)
    )
    still_bad = await inbox_replay.count(pool, selection)
    assert (still_bad.matched, still_bad.would_queue, still_bad.invalid) == (2, 0, 2)
    reasons = {s["event_id"]: " ".join(s["reasons"]) for s in still_bad.invalid_samples}
    assert "item_id" in reasons[no_id.json()["event_id"]]
    assert "unsupported content type" in reasons[wrong_type.json()["event_id"]]

    # the sender's bug is fixed: the stored body is the record it should have been
    fixed = orjson.dumps({"item": samples.item(item_id="R-1", name="Fixed")})
    await pool.execute("UPDATE tds_inbox_events SET body = $2 WHERE id = $1", no_id.json()["event_id"], fixed)
    assert (await inbox_replay.count(pool, selection)).would_queue == 1
    async with pool.acquire() as connection:
        job = await inbox_replay.start(connection, selection, TESTER)
    await run_job(pool)
    async with pool.acquire() as connection:
        result = (await jobs.get(connection, job.id)).result
    assert (result["matched"], result["queued"], result["invalid"]) == (2, 1, 1)
    await drain()
    assert await pool.fetchval("SELECT name FROM products WHERE zoho_id = 'R-1'") == "Fixed"
    statuses = await pool.fetch("SELECT id, status FROM tds_inbox_events ORDER BY id")
    assert [r["status"] for r in statuses] == ["queued", "rejected"]
    assert (await inbox_replay.count(pool, selection)).matched == 1  # no longer rejected


async def test_a_replay_job_taken_over_from_a_dead_runner_queues_each_event_once(
    stored: dict[str, int], pool: Any
) -> None:
    selection = InboxSelection.build(T0 - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1))
    async with pool.acquire() as connection:
        job = await inbox_replay.start(connection, selection, TESTER)
    handlers = replay_handlers(pool, config=InboxReplayConfig(batch_size=2))

    async def die(progress: Progress) -> None:
        raise RunnerDied

    with pytest.raises(RunnerDied):
        await JobRunner(pool, handlers, runner_id="runner-a", on_progress=die).run_once()
    assert len(await replay_rows(pool, job.id)) == 2  # the first batch committed, then the runner died
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert await JobRunner(pool, handlers, runner_id="runner-b").run_once(now=later)
    async with pool.acquire() as connection:
        finished = await jobs.get(connection, job.id)
    assert (finished.status, finished.done, finished.result["queued"]) == ("completed", 6, 6)
    assert finished.result["by_entity"] == {"contacts": 1, "invoices": 1, "items": 4}
    queued = [r["inbox_event_id"] for r in await replay_rows(pool, job.id)]
    assert sorted(queued) == sorted(stored.values())


async def test_bad_replay_requests_are_refused(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    operator, viewer = await auth_headers("operator"), await auth_headers("viewer")
    span = window(T0, T0 + timedelta(hours=1))
    for body in (
        {**span, "entity": "widgets", "dry_run": True},
        {**span, "statuses": ["hint"], "dry_run": True},
        span,  # dry_run must be said
        {"from": "yesterday", "to": T0.isoformat(), "dry_run": True},
    ):
        answer = await client.post("/api/v1/replay", json=body, headers=operator)
        assert answer.status_code == 422, (body, answer.text)
    assert (
        await client.post("/api/v1/replay", json={**span, "dry_run": True}, headers=viewer)
    ).status_code == 403
    for empty in (window(T0, T0, dry_run=True), window(T0 + timedelta(hours=1), T0, dry_run=True)):
        answer = await client.post("/api/v1/replay", json=empty, headers=operator)
        assert answer.status_code == 200 and answer.json()["matched"] == 0  # [from, to) is empty
    naive = {"from": "2026-01-10T09:00:00", "to": "2026-01-10T10:00:00", "dry_run": True}
    assert (await client.post("/api/v1/replay", json=naive, headers=operator)).json()["matched"] == 0
