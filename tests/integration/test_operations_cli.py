"""``tds dlq``, ``tds replay`` and ``tds jobs`` against a real database: the same operations as the
admin API, recorded with who acted (via the CLI), bulk work as jobs run in-process with progress."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
import pytest
import structlog
import typer
from typer.testing import CliRunner

from tds_core.access.actions import Actor
from tds_core.cli.dlq import dlq_app
from tds_core.cli.jobs import jobs_app
from tds_core.cli.replay import replay
from tds_core.db.pool import create_pool
from tds_core.domain.states import Operation
from tds_core.jobs import runner as jobs
from tds_core.staging.service import Envelope, stage_event

from . import samples

T = TypeVar("T")
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)

cli = typer.Typer()
cli.add_typer(dlq_app, name="dlq")
cli.add_typer(jobs_app, name="jobs")
cli.command("replay")(replay)

DEAD = """
WITH q AS (
    INSERT INTO tds_sync_queue (entity, zoho_id, operation, source_version, content_hash, payload, status,
                                attempts, finished_at)
    SELECT $1, x.payload ->> 'item_id', 'upsert', now(), 'h', x.payload, 'dead', 8, now()
    FROM jsonb_array_elements($2::jsonb) AS x(payload)
    RETURNING *
)
INSERT INTO tds_dead_letter_queue (queue_id, entity, zoho_id, operation, source_version, payload, error,
                                   error_class, attempts)
SELECT id, entity, zoho_id, operation, source_version, payload, 'ERP said boom', 'retryable', 8 FROM q
RETURNING id
"""


@pytest.fixture
def tds(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("TDS_DATABASE_URL", database_url)
    monkeypatch.setenv("TDS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("TDS_OPERATOR", "ops-on-call")  # who acts when --by is not given
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(cli, list(args))
        assert result.exit_code == code, result.output
        return result

    yield run
    structlog.reset_defaults()


@pytest.fixture
def db(database_url: str) -> Callable[[Callable[[Any], Awaitable[T]]], T]:
    """Run ``work(pool)`` on a pool of its own (the CLI runs its own event loop, so the tests do too)."""

    def run(work: Callable[[Any], Awaitable[T]]) -> T:
        async def go() -> T:
            pool = await create_pool(database_url, min_size=1, max_size=2)
            try:
                return await work(pool)
            finally:
                await pool.close()

        return asyncio.run(go())

    return run


def dead_letters(db: Any, *item_ids: str) -> list[int]:
    payloads = [samples.item(item_id=i) for i in item_ids]

    async def insert(pool: Any) -> list[int]:
        return [r["id"] for r in await pool.fetch(DEAD, "items", payloads)]

    ids: list[int] = db(insert)
    return ids


def actions(db: Any) -> list[tuple[str, str, str]]:
    rows = db(lambda pool: pool.fetch("SELECT actor, via, action FROM tds_operator_actions ORDER BY id"))
    return [(r["actor"], r["via"], r["action"]) for r in rows]


def test_dlq_replay_by_id_and_by_filter_records_who(tds: Any, db: Any) -> None:
    first, second, third = dead_letters(db, "A", "B", "C")
    one = json.loads(tds("dlq", "replay", str(first), "--by", "alice", "--note", "fixed", "--json").output)
    assert one == {"replayed": 1, "ids": [first], "skipped": []}
    again = json.loads(tds("dlq", "replay", str(first), "--by", "alice", "--json").output)
    assert again == {"replayed": 0, "ids": [], "skipped": [first]}
    row = db(
        lambda pool: pool.fetchrow(
            "SELECT status, resolved_by, resolution_note FROM tds_dead_letter_queue WHERE id = $1", first
        )
    )
    assert tuple(row) == ("replayed", "alice", "fixed")

    bulk = json.loads(tds("dlq", "replay", "--all", "--by", "bob", "--json").output)
    assert (bulk["status"], bulk["replayed"], bulk["skipped"]) == ("completed", 2, 0)
    queue = db(lambda pool: pool.fetch("SELECT status::text AS s, attempts FROM tds_sync_queue ORDER BY id"))
    assert [(r["s"], r["attempts"]) for r in queue] == [("pending", 0)] * 3
    assert actions(db) == [
        ("alice", "cli", "dlq.replay"),
        ("alice", "cli", "dlq.replay"),
        ("bob", "cli", "job.create"),
    ]
    shown = tds("dlq", "replay", "--entity", "items")  # nothing open any more: a job with nothing to do
    assert "completed: replayed 0" in shown.output
    listed = json.loads(tds("dlq", "list", "--status", "replayed", "--json").output)
    assert [d["id"] for d in listed] == [third, second, first]
    assert [d["resolved_by"] for d in listed] == ["bob", "bob", "alice"]


def test_dlq_discard_by_filter_and_list_filters(tds: Any, db: Any) -> None:
    dead_letters(db, "KEEP-1", "DROP-1", "DROP-2")
    tds("dlq", "discard", "--zoho-id", "DROP-1", code=2)  # a note is required
    tds("dlq", "list", "--entity", "widgets", code=2)
    assert len(json.loads(tds("dlq", "list", "--error", "said BOOM", "--json").output)) == 3
    done = json.loads(tds("dlq", "discard", "--all", "--limit", "2", "--note", "noise", "--json").output)
    assert done == {"discarded": 2, "skipped": 0}  # the oldest two
    left = json.loads(tds("dlq", "list", "--json").output)
    assert [d["zoho_id"] for d in left] == ["DROP-2"]
    everything = json.loads(tds("dlq", "list", "--status", "all", "--json").output)
    assert [(d["zoho_id"], d["status"]) for d in everything] == [
        ("DROP-2", "open"),
        ("DROP-1", "discarded"),
        ("KEEP-1", "discarded"),
    ]
    assert "discarded 1 dead letter(s)" in tds("dlq", "discard", "--all", "--note", "noise").output


def test_replay_dry_run_then_real_with_a_progress_bar(tds: Any, db: Any) -> None:
    async def stage(pool: Any) -> None:
        for minutes, item_id in ((0, "R-1"), (10, "R-2"), (90, "R-3")):
            document = {"item": samples.item(item_id=item_id)}
            envelope = Envelope(
                entity="items",
                source="webhook",
                received_at=T0 + timedelta(minutes=minutes),
                body=orjson.dumps(document),
                content_type="application/json",
            )
            await stage_event(pool, envelope, document, Operation.UPSERT)

    db(stage)
    span = ("--from", "2026-01-10T09:00:00Z", "--to", "2026-01-10T10:00:00Z")
    counted = json.loads(tds("replay", *span, "--dry-run", "--json").output)
    assert (counted["matched"], counted["would_queue"], counted["by_entity"]) == (2, 2, {"items": 2})
    assert "2 would be queued" in tds("replay", *span, "--entity", "items", "--dry-run").output
    done = json.loads(tds("replay", *span, "--by", "carol", "--json").output)
    assert (done["status"], done["queued"]) == ("completed", counted["would_queue"])
    assert db(lambda pool: pool.fetchval("SELECT count(*) FROM tds_sync_queue")) == 3 + 2
    shown = tds("replay", "--from", "2026-01-10T09:00:00", "--to", "2026-01-10T09:05:00")  # no zone: UTC
    assert "1 selected, 1 queued" in shown.output
    assert actions(db) == [("carol", "cli", "job.create"), ("ops-on-call", "cli", "job.create")]
    tds("replay", "--from", "yesterday", "--to", "2026-01-10T10:00:00Z", code=2)
    tds("replay", *span, "--status", "hint", code=2)
    tds("replay", "--from", "2026-01-10T10:00:00Z", "--to", "2026-01-10T09:00:00Z", code=2)


def test_jobs_list_show_and_cancel(tds: Any, db: Any) -> None:
    async def create(pool: Any) -> jobs.Job:
        async with pool.acquire() as connection:
            return await jobs.create(
                connection, "sync", {"entity": "items"}, Actor("dave", via="cli"), total=9
            )

    job = db(create)
    listed = json.loads(tds("jobs", "list", "--json").output)
    assert [(j["id"], j["kind"], j["status"], j["created_by"]) for j in listed] == [
        (job.id, "sync", "queued", "dave")
    ]
    assert "sync" in tds("jobs", "list").output
    cancelled = json.loads(tds("jobs", "cancel", str(job.id), "--by", "erin", "--json").output)
    assert (cancelled["status"], cancelled["cancel_requested"]) == ("cancelled", True)
    assert "already cancelled" in tds("jobs", "cancel", str(job.id), code=1).output
    shown = json.loads(tds("jobs", "show", str(job.id), "--watch", "--json").output)
    assert (shown["status"], shown["total"], shown["params"]) == ("cancelled", 9, {"entity": "items"})
    assert "0/9 done" in tds("jobs", "show", str(job.id)).output
    tds("jobs", "show", "999999", code=1)
    tds("jobs", "list", "--status", "bogus", code=2)
    assert json.loads(tds("jobs", "list", "--status", "queued", "--json").output) == []
    assert actions(db) == [("dave", "cli", "job.create"), ("erin", "cli", "job.cancel")]
