"""Staging inside a caller's transaction (the path pulls use): records commit with the caller's
other writes or not at all, and a refused record does not abort the transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from tds_core.domain.states import Operation
from tds_core.staging.service import Envelope, Rejected, stage_event


def envelope(record: dict[str, Any]) -> Envelope:
    return Envelope(
        entity="items",
        source="pull",
        received_at=datetime.now(UTC),
        body=orjson.dumps(record),
        content_type="application/json",
    )


async def counts(pool: Any) -> tuple[int, int]:
    inbox = await pool.fetchval("SELECT count(*) FROM tds_inbox_events")
    queue = await pool.fetchval("SELECT count(*) FROM tds_sync_queue")
    return inbox, queue


async def test_staged_records_roll_back_with_the_callers_transaction(pool: Any) -> None:
    record = {"item_id": "1", "name": "cable"}

    class Abort(Exception):
        pass

    async with pool.acquire() as connection:
        with pytest.raises(Abort):
            async with connection.transaction():
                staged = await stage_event(connection, envelope(record), record, Operation.UPSERT)
                assert staged.status == "queued"
                raise Abort
    assert await counts(pool) == (0, 0)
    async with pool.acquire() as connection, connection.transaction():
        first = await stage_event(connection, envelope(record), record, Operation.UPSERT)
        again = await stage_event(connection, envelope(record), record, Operation.UPSERT)
    assert (first.status, again.status, again.event_id) == ("queued", "duplicate", first.event_id)
    assert await counts(pool) == (1, 1)


async def test_an_invalid_record_is_kept_and_the_transaction_goes_on(pool: Any) -> None:
    good = {"item_id": "2", "name": "plug"}
    bad = {"item_id": "3", "rate": "twelve"}
    async with pool.acquire() as connection, connection.transaction():
        with pytest.raises(Rejected) as refused:
            await stage_event(connection, envelope(bad), bad, Operation.UPSERT)
        assert refused.value.reasons == ["item.rate: not a number: 'twelve'"]
        await stage_event(connection, envelope(good), good, Operation.UPSERT)
    rows = await pool.fetch("SELECT status, source FROM tds_inbox_events ORDER BY id")
    assert [(r["status"], r["source"]) for r in rows] == [("rejected", "pull"), ("queued", "pull")]
