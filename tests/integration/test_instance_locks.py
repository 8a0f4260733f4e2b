"""Instance locks in a batch: an instance another batch is applying is not waited for; its events
go back to pending (ready, no attempt spent) and the rest of the batch is applied. A batch whose
instances are all busy waits, as before."""

from __future__ import annotations

import asyncio
from typing import Any

from tds_core.db.queries import QUERIES
from tds_core.domain.hashing import lock_key
from tds_core.domain.states import Operation
from tds_core.processor.apply import BatchApplier
from tds_core.queue.leases import ClaimedEvent
from tds_core.staging.service import stage_event

from .test_group_commit import envelope

WORKER = "worker-under-test"
LEASE = 300.0


async def stage(pool: Any, item_id: str, name: str) -> None:
    record = {"item_id": item_id, "name": name}
    await stage_event(pool, envelope(record), record, Operation.UPSERT)


async def claim(pool: Any) -> list[ClaimedEvent]:
    rows = await pool.fetch(QUERIES.queue_claim_batch, WORKER, 100, None, LEASE)
    return [ClaimedEvent.from_row(row) for row in rows]


async def test_a_busy_instance_is_handed_back_and_the_rest_applied(pool: Any) -> None:
    for item_id in ("1", "2", "3"):
        await stage(pool, item_id, f"part {item_id}")
    events = await claim(pool)
    assert len(events) == 3
    async with pool.acquire() as other, other.transaction():
        # another batch is applying item 2 right now
        await other.execute(QUERIES.erp_lock_instances, [lock_key("items", "2")])
        async with pool.acquire() as connection, connection.transaction():
            result = await asyncio.wait_for(BatchApplier(WORKER).apply(connection, events), 10)
    by_item = {e.zoho_id: e.id for e in events}
    assert result.deferred == [by_item["2"]]
    assert set(result.states) == {by_item["1"], by_item["3"]}
    rows = await pool.fetch(
        "SELECT zoho_id, status::text, attempts, locked_by FROM tds_sync_queue ORDER BY zoho_id"
    )
    assert [(r["zoho_id"], r["status"], r["attempts"], r["locked_by"]) for r in rows] == [
        ("1", "completed", 1, None),
        ("2", "pending", 0, None),  # ready again, its attempt given back
        ("3", "completed", 1, None),
    ]
    assert await pool.fetchval("SELECT array_agg(zoho_id ORDER BY zoho_id) FROM products") == ["1", "3"]
    # once the other batch is done, the next claim applies it
    again = await claim(pool)
    async with pool.acquire() as connection, connection.transaction():
        result = await BatchApplier(WORKER).apply(connection, again)
    assert [e.zoho_id for e in again] == ["2"] and result.deferred == []
    assert await pool.fetchval("SELECT count(*) FROM products") == 3


async def test_a_batch_whose_instances_are_all_busy_waits_for_them(pool: Any) -> None:
    await stage(pool, "7", "only")
    events = await claim(pool)
    async with pool.acquire() as other:
        transaction = other.transaction()
        await transaction.start()
        await other.execute(QUERIES.erp_lock_instances, [lock_key("items", "7")])

        async def apply() -> Any:
            async with pool.acquire() as connection, connection.transaction():
                return await BatchApplier(WORKER).apply(connection, events)

        waiting = asyncio.ensure_future(apply())
        await asyncio.sleep(0.3)
        assert not waiting.done()  # nothing else to do: it waits instead of handing everything back
        await transaction.commit()
        result = await asyncio.wait_for(waiting, 10)
    assert result.deferred == [] and [state.value for state in result.states.values()] == ["completed"]
