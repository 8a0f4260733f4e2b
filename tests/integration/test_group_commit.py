"""Group commit on the webhook path: concurrent events share statements, and each caller gets
exactly the answer the single-event path gives (queued / duplicate of the first, a refused value
failing only its own event, an outage failing every caller of the batch)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson

from tds_core.db.pool import create_pool
from tds_core.domain.states import Operation
from tds_core.errors import DatabaseUnavailable, DataError
from tds_core.staging.service import Envelope, Staged, group_commit, stage_event

from . import samples
from .conftest import Send


def envelope(record: dict[str, Any], key: str | None = None) -> Envelope:
    return Envelope(
        entity="items",
        source="webhook",
        received_at=datetime.now(UTC),
        body=orjson.dumps(record),
        content_type="application/json",
        idempotency_key=key,
    )


async def counts(pool: Any) -> tuple[int, int]:
    inbox = await pool.fetchval("SELECT count(*) FROM tds_inbox_events")
    queue = await pool.fetchval("SELECT count(*) FROM tds_sync_queue")
    return inbox, queue


async def test_concurrent_events_share_statements_and_repeats_name_the_first(pool: Any) -> None:
    group = group_commit(pool)
    records = [{"item_id": str(n), "name": f"part {n}", "rate": n} for n in range(60)]
    # every fifth event is sent twice at once: one is stored, the other names it
    sends = [*records, *records[::5]]

    async def send(record: dict[str, Any]) -> Staged:
        return await stage_event(pool, envelope(record), record, Operation.UPSERT, group=group)

    answers = await asyncio.gather(*(send(record) for record in sends))
    assert 1 <= group.batches < len(sends)  # statements were shared
    by_id: dict[str, list[Staged]] = {}
    for record, answer in zip(sends, answers, strict=True):
        by_id.setdefault(record["item_id"], []).append(answer)
    for item_id, staged in by_id.items():
        expected = ["duplicate", "queued"] if len(staged) == 2 else ["queued"]
        assert sorted(s.status for s in staged) == expected
        assert len({s.event_id for s in staged}) == 1, item_id
    assert await counts(pool) == (60, 60)
    rows = await pool.fetch(
        "SELECT i.id, i.zoho_id AS inbox_zoho_id, q.zoho_id, q.payload FROM tds_inbox_events i "
        "JOIN tds_sync_queue q ON q.inbox_event_id = i.id"
    )
    assert all(r["inbox_zoho_id"] == r["zoho_id"] == r["payload"]["item_id"] for r in rows)
    stored = {r["zoho_id"]: r["id"] for r in rows}
    assert stored == {item_id: staged[0].event_id for item_id, staged in by_id.items()}

    # once committed, a later repeat answers duplicate through the batch as well
    again = await asyncio.gather(*(send(record) for record in records[:10]))
    assert [a.status for a in again] == ["duplicate"] * 10
    assert [a.event_id for a in again] == [stored[r["item_id"]] for r in records[:10]]
    assert await counts(pool) == (60, 60)


async def test_a_value_the_database_refuses_fails_only_its_own_event(pool: Any) -> None:
    group = group_commit(pool)
    good = [{"item_id": str(n), "name": f"part {n}"} for n in range(20)]
    bad = {"item_id": "99", "name": "bad"}
    refused_envelope = envelope(bad)
    refused_envelope.content_type = "application/json\u0000"  # text refuses NUL: the batch fails

    async def send(record: dict[str, Any]) -> Staged:
        target = refused_envelope if record is bad else envelope(record)
        return await stage_event(pool, target, record, Operation.UPSERT, group=group)

    answers = await asyncio.gather(*(send(r) for r in [*good[:10], bad, *good[10:]]), return_exceptions=True)
    refused = [a for a in answers if isinstance(a, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], DataError)
    assert all(isinstance(a, Staged) and a.status == "queued" for a in answers if a not in refused)
    # the 20 good events are stored and queued once each; nothing of the bad one
    assert await counts(pool) == (20, 20)
    assert await pool.fetchval("SELECT count(DISTINCT zoho_id) FROM tds_sync_queue") == 20


async def test_an_outage_fails_every_caller_of_the_batch(pool: Any) -> None:
    # a pool whose server is gone: nothing is stored and every caller hears "retry"
    dead = await create_pool("postgresql://tds@127.0.0.1:9/none", min_size=0, max_size=2, timeout=1)
    try:
        group = group_commit(dead)
        records = [{"item_id": str(n), "name": "x"} for n in range(12)]
        answers = await asyncio.gather(
            *(stage_event(dead, envelope(r), r, Operation.UPSERT, group=group) for r in records),
            return_exceptions=True,
        )
    finally:
        await dead.close()
    assert all(isinstance(a, DatabaseUnavailable) for a in answers)


async def test_a_cancelled_caller_does_not_cancel_the_others(pool: Any) -> None:
    group = group_commit(pool)
    records = [{"item_id": str(n), "name": "x"} for n in range(30)]
    tasks = [
        asyncio.ensure_future(stage_event(pool, envelope(r), r, Operation.UPSERT, group=group))
        for r in records
    ]
    await asyncio.sleep(0)
    tasks[3].cancel()  # a client that went away mid-flight
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[3], asyncio.CancelledError)
    assert all(isinstance(a, Staged) for i, a in enumerate(done) if i != 3)
    # its event is written anyway (a webhook the client gave up on is still kept once)
    assert await counts(pool) == (30, 30)


async def test_webhooks_through_the_api_are_answered_as_before(webhook: Send, pool: Any) -> None:
    copies = 12
    body = {"invoice": samples.invoice()}
    others = [{"invoice": samples.invoice(invoice_id=f"98200000056{n:04d}")} for n in range(copies)]
    answers = await asyncio.gather(*(webhook("invoices", b) for b in [body, *others, body, body]))
    assert {a.status_code for a in answers} == {202}
    statuses = [a.json()["status"] for a in answers]
    assert statuses.count("queued") == copies + 1 and statuses.count("duplicate") == 2
    assert await counts(pool) == (copies + 1, copies + 1)
