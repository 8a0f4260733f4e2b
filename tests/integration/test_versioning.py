"""Guarantee 3: an older version never overwrites a newer one; deletes are final."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tds_core.domain.records import parse_zoho_time

from . import samples
from .conftest import Send

ID = "982000000567114"
V1, V2, V3 = "2024-01-15T10:20:30+0530", "2024-01-16T10:20:30+0530", "2024-01-17T10:20:30+0530"
TOTALS = {V1: 100, V2: 200, V3: 300}


def version(text: str) -> datetime:
    return parse_zoho_time(text).astimezone(UTC)


def invoice_at(modified: str, **overrides: Any) -> dict[str, Any]:
    return {
        "invoice": samples.invoice(last_modified_time=modified, total=TOTALS.get(modified, 1), **overrides)
    }


async def audit(pool: Any) -> list[tuple[str, datetime]]:
    rows = await pool.fetch(
        "SELECT action, source_version FROM tds_audit_trail WHERE zoho_id = $1 AND erp_table = 'invoices'"
        " ORDER BY id",
        ID,
    )
    return [(r["action"], r["source_version"]) for r in rows]


async def test_out_of_order_deliveries_keep_the_newest(
    webhook: Send, pool: Any, drain: Any, queue_states: Any
) -> None:
    for modified in (V3, V1, V2):
        response = await webhook("invoices", invoice_at(modified))
        assert response.json()["status"] == "queued"
        await drain()
    row = await pool.fetchrow("SELECT total, source_version, data FROM invoices WHERE zoho_id = $1", ID)
    assert row["total"] == Decimal("300")
    assert row["source_version"] == version(V3)
    assert row["data"]["last_modified_time"] == V3
    assert await queue_states(ID) == ["completed", "skipped_stale", "skipped_stale"]
    assert await audit(pool) == [("insert", version(V3))]
    outcomes = await pool.fetch("SELECT outcome FROM tds_sync_logs ORDER BY id")
    assert [r["outcome"] for r in outcomes] == ["completed", "skipped_stale", "skipped_stale"]


async def test_all_versions_in_one_batch_apply_in_version_order(
    webhook: Send, pool: Any, drain: Any, queue_states: Any
) -> None:
    for modified in (V3, V1, V2):
        await webhook("invoices", invoice_at(modified))
    worker = await drain(concurrency=1)
    assert worker.stats.batches == 1
    row = await pool.fetchrow("SELECT total, source_version FROM invoices WHERE zoho_id = $1", ID)
    assert (row["total"], row["source_version"]) == (Decimal("300"), version(V3))
    # every event was newer than the row when its turn came: all applied, in version order
    assert await queue_states(ID) == ["completed", "completed", "completed"]
    assert await audit(pool) == [("insert", version(V1)), ("update", version(V2)), ("update", version(V3))]
    befores = await pool.fetch(
        "SELECT before->>'total' AS before, after->>'total' AS after FROM tds_audit_trail ORDER BY id"
    )
    assert [(r["before"], r["after"]) for r in befores] == [(None, "100"), ("100", "200"), ("200", "300")]


async def test_v1_and_v3_in_the_same_batch(webhook: Send, pool: Any, drain: Any, queue_states: Any) -> None:
    await webhook("invoices", invoice_at(V3))
    await webhook("invoices", invoice_at(V1))
    worker = await drain(concurrency=1)
    assert worker.stats.batches == 1
    assert await pool.fetchval("SELECT source_version FROM invoices WHERE zoho_id = $1", ID) == version(V3)
    assert await audit(pool) == [("insert", version(V1)), ("update", version(V3))]
    # a later v2 is stale now
    await webhook("invoices", invoice_at(V2))
    await drain()
    assert await queue_states(ID) == ["completed", "completed", "skipped_stale"]
    assert await pool.fetchval("SELECT total FROM invoices WHERE zoho_id = $1", ID) == Decimal("300")


async def test_v1_after_v3_in_one_batch_when_v3_is_already_applied(
    webhook: Send, pool: Any, drain: Any, queue_states: Any
) -> None:
    await webhook("invoices", invoice_at(V3))
    await drain()
    await webhook("invoices", invoice_at(V1))
    await webhook("invoices", invoice_at(V2))
    worker = await drain(concurrency=1)
    assert worker.stats.batches == 1
    assert await queue_states(ID) == ["completed", "skipped_stale", "skipped_stale"]
    assert await audit(pool) == [("insert", version(V3))]


async def test_delete_then_late_update_stays_deleted(
    webhook: Send, pool: Any, drain: Any, queue_states: Any
) -> None:
    await webhook("invoices", invoice_at(V2))
    await drain()
    assert await pool.fetchval("SELECT count(*) FROM invoice_line_items") == 2

    deleted = await webhook("invoices", {"invoice_id": ID}, event="deleted")  # a delete needs only the id
    assert deleted.status_code == 202 and deleted.json()["status"] == "queued"
    await drain()
    row = await pool.fetchrow(
        "SELECT deleted_at, source_version, total, data FROM invoices WHERE zoho_id = $1", ID
    )
    assert row["deleted_at"] is not None
    assert row["source_version"] >= version(V2)
    assert row["total"] == Decimal("200")  # the tombstone keeps the last known row
    assert await pool.fetchval("SELECT count(*) FROM invoice_line_items") == 0

    late = await webhook("invoices", invoice_at(V1))  # older than the delete
    assert late.json()["status"] == "queued"
    await drain()
    newer = await webhook("invoices", invoice_at("2099-01-01T00:00:00+0000"))  # newer: still no resurrection
    assert newer.json()["status"] == "queued"
    await drain()

    assert await queue_states(ID) == ["completed", "completed", "skipped_stale", "skipped_stale"]
    after = await pool.fetchrow("SELECT deleted_at, total FROM invoices WHERE zoho_id = $1", ID)
    assert after["deleted_at"] == row["deleted_at"]
    assert after["total"] == Decimal("200")
    assert await pool.fetchval("SELECT count(*) FROM invoice_line_items") == 0
    assert [a for a, _ in await audit(pool)] == ["insert", "delete"]


async def test_delete_by_header_and_repeat_delete(
    webhook: Send, pool: Any, drain: Any, queue_states: Any
) -> None:
    await webhook("invoices", invoice_at(V1))
    await drain()
    first = await webhook("invoices", invoice_at(V2), headers={"X-TDS-Event": "invoice.deleted"})
    assert first.json()["status"] == "queued"
    await drain()
    assert await pool.fetchval("SELECT deleted_at IS NOT NULL FROM invoices WHERE zoho_id = $1", ID)
    # a second, different delete body: a new event, which leaves the tombstone as it is except
    # its version, which becomes the newer delete's (a row is never older than an event that
    # ended on it: a reconciliation tombstone after the webhook's delete, in the soak)
    second = await webhook("invoices", {"invoice": {"invoice_id": ID}}, event="delete")
    assert second.json()["status"] == "queued"
    await drain()
    assert await queue_states(ID) == ["completed", "completed", "skipped_unchanged"]
    assert [a for a, _ in await audit(pool)] == ["insert", "delete"]
    row = await pool.fetchrow("SELECT deleted_at, source_version FROM invoices WHERE zoho_id = $1", ID)
    newest = await pool.fetchval("SELECT max(source_version) FROM tds_sync_queue WHERE zoho_id = $1", ID)
    assert row["deleted_at"] is not None and row["source_version"] == newest > version(V2)


async def test_delete_and_update_in_one_batch(
    webhook: Send, pool: Any, drain: Any, queue_states: Any
) -> None:
    await webhook("invoices", invoice_at(V1))
    await webhook("invoices", {"invoice_id": ID}, event="deleted")  # versioned by its arrival: newest
    await webhook("invoices", invoice_at(V3))
    worker = await drain(concurrency=1)
    assert worker.stats.batches == 1
    # decided in version order: v1 (insert), v3 (update), then the delete (received now, so newest)
    assert await queue_states(ID) == ["completed", "completed", "completed"]
    assert [a for a, _ in await audit(pool)] == ["insert", "update", "delete"]
    row = await pool.fetchrow("SELECT deleted_at FROM invoices WHERE zoho_id = $1", ID)
    assert row["deleted_at"] is not None
    assert await pool.fetchval("SELECT count(*) FROM invoice_line_items") == 0


async def test_delete_of_an_unknown_entity_leaves_a_tombstone(
    webhook: Send, pool: Any, drain: Any, queue_states: Any
) -> None:
    await webhook("invoices", {"invoice_id": ID}, event="deleted")
    await drain()
    row = await pool.fetchrow("SELECT deleted_at, invoice_number FROM invoices WHERE zoho_id = $1", ID)
    assert row["deleted_at"] is not None and row["invoice_number"] is None
    await webhook("invoices", invoice_at(V1))  # the create arrives late
    await drain()
    assert await queue_states(ID) == ["completed", "skipped_stale"]
    assert await pool.fetchval("SELECT count(*) FROM invoice_line_items") == 0


async def test_stock_delete_and_stale_location_update(
    webhook: Send, pool: Any, drain: Any, queue_states: Any
) -> None:
    await webhook("stock", {"item": samples.item()})
    await drain()
    old = samples.item(last_modified_time="2023-01-01T00:00:00+0530")
    old["locations"][0]["location_stock_on_hand"] = "1"
    await webhook("stock", {"item": old})
    await drain()
    assert await pool.fetchval(
        "SELECT stock_on_hand FROM stock_levels WHERE location_id = '460000000038080'"
    ) == Decimal("340")
    await webhook("stock", {"item_id": "460000000054135"}, event="deleted")
    await drain()
    assert await pool.fetchval("SELECT count(*) FROM stock_levels WHERE deleted_at IS NULL") == 0
    await webhook("stock", {"item": samples.item(last_modified_time="2099-01-01T00:00:00+0000")})
    await drain()
    assert await pool.fetchval("SELECT count(*) FROM stock_levels WHERE deleted_at IS NULL") == 0
    assert await queue_states() == ["completed", "skipped_stale", "completed", "skipped_stale"]


def _stock_at(time: str, main: str, overflow: int) -> dict[str, Any]:
    item = samples.item(last_modified_time=time)
    item["locations"][0]["location_stock_on_hand"] = main
    item["locations"][1]["location_stock_on_hand"] = overflow
    return item


@pytest.mark.parametrize("together", [False, True], ids=["separate-batches", "one-batch"])
async def test_a_location_back_to_earlier_quantities_is_not_overwritten_by_a_late_older_event(
    webhook: Send, pool: Any, drain: Any, queue_states: Any, together: bool
) -> None:
    """Main goes 340 → 1 → 340 while Overflow moves 12 → 12 → 20; the newest event (main 340
    again) arrives before the middle one (main 1). A location's hash covers its quantities
    only, so the newest event leaves Main's content as it is; its version must still move, or
    the late middle event passes the guard against the first version and writes 1."""
    await webhook("stock", {"item": _stock_at("2024-01-15T10:00:00+0000", "340", 12)})
    await drain()
    await webhook("stock", {"item": _stock_at("2024-01-15T12:00:00+0000", "340", 20)})
    if not together:
        await drain()
    await webhook("stock", {"item": _stock_at("2024-01-15T11:00:00+0000", "1", 12)})
    # one batch loop: with two, each could claim one of the pending events (two batches)
    await drain(concurrency=1)
    rows = await pool.fetch("SELECT location_id, stock_on_hand, source_version FROM stock_levels ORDER BY 1")
    assert [(r["location_id"], r["stock_on_hand"]) for r in rows] == [
        ("460000000038080", Decimal("340")),
        ("460000000038099", Decimal("20")),
    ]
    assert {r["source_version"] for r in rows} == {datetime(2024, 1, 15, 12, tzinfo=UTC)}
    # in one batch the events apply in version order, so the middle one applies (and is undone)
    assert await queue_states() == ["completed", "completed", "completed" if together else "skipped_stale"]


async def test_stock_delete_also_covers_locations_not_seen_yet(webhook: Send, pool: Any, drain: Any) -> None:
    await webhook("stock", {"item_id": "460000000054135"}, event="deleted")
    await drain()
    await webhook("stock", {"item": samples.item()})  # older than the delete
    await drain()
    assert await pool.fetchval("SELECT count(*) FROM stock_levels WHERE deleted_at IS NULL") == 0
