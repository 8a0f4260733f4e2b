"""ERP-side conflicts: a row changed outside TDS since TDS last wrote it meets its entity type's
policy (source_wins, preserve_columns, hold); held events are resolved by an operator
(apply_source, keep_local); TDS's own writes never look like a conflict; a conflict that
arrives through a DLQ replay or an inbox replay meets the same policy; a line item changed,
added or deleted outside TDS is a conflict of its parent (``line_items``)."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from tds_core.access.actions import Actor
from tds_core.db import migrations
from tds_core.domain.records import parse_zoho_time
from tds_core.domain.states import Operation
from tds_core.errors import InvalidRequest, NotFound, WrongState
from tds_core.jobs.inbox_replay import InboxReplayConfig, InboxSelection, replay_handlers
from tds_core.jobs.inbox_replay import start as start_inbox_replay
from tds_core.jobs.runner import JobRunner
from tds_core.operations import conflicts, dead_letters
from tds_core.operations.conflicts import ConflictFilter
from tds_core.staging.service import Envelope, stage_event

from . import samples

ITEM = "I-CONFLICT"
V1, V2, V3, V4 = (f"2024-01-1{d}T10:20:30+0530" for d in (5, 6, 7, 8))
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
OPERATOR = Actor(name="ops", role="operator", via="cli")


def version(text: str) -> datetime:
    return parse_zoho_time(text).astimezone(UTC)


async def stage(
    pool: Any, entity: str, document: dict[str, Any], minutes: int = 0, key: str | None = None
) -> int:
    """Stage a document as a webhook does (inbox + queue row); returns the inbox event id. A
    ``key`` (X-Idempotency-Key) makes a redelivery of the same content a new event."""
    envelope = Envelope(
        entity=entity,
        source="webhook",
        received_at=T0 + timedelta(minutes=minutes),
        body=orjson.dumps(document),
        content_type="application/json",
        idempotency_key=key,
    )
    operation = Operation.DELETED if document.get("_delete") else Operation.UPSERT
    document = {k: v for k, v in document.items() if k != "_delete"}
    return (await stage_event(pool, envelope, document, operation)).event_id


def item(modified: str, **fields: Any) -> dict[str, Any]:
    return {"item": samples.item(item_id=ITEM, last_modified_time=modified, **fields)}


async def set_policies(pool: Any, policies: dict[str, Any]) -> None:
    await pool.execute(
        "INSERT INTO tds_configuration (key, version, value, updated_by)"
        " SELECT 'conflicts.policies', max(version) + 1, $1::jsonb, 'tests' FROM tds_configuration"
        " WHERE key = 'conflicts.policies'",
        policies,
    )


async def product(pool: Any) -> dict[str, Any]:
    return dict(await pool.fetchrow("SELECT * FROM products WHERE zoho_id = $1", ITEM))


async def states(pool: Any, entity: str = "items", zoho_id: str = ITEM) -> list[str]:
    rows = await pool.fetch(
        "SELECT status::text FROM tds_sync_queue WHERE zoho_id = $1 AND entity = $2 ORDER BY id",
        zoho_id,
        entity,
    )
    return [r[0] for r in rows]


async def all_conflicts(pool: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch("SELECT * FROM tds_conflicts ORDER BY id")]


async def local_edit(pool: Any, sql: str, *args: Any) -> None:
    """Someone (or another program) edits the ERP outside TDS."""
    await pool.execute(sql, *args)


# ---------------------------------------------------------------------------- detection
async def test_tds_own_writes_are_never_a_conflict(pool: Any, drain: Any) -> None:
    for n, modified in enumerate((V1, V2, V3)):
        await stage(pool, "items", item(modified, name=f"Cable {n}", rate=10 + n), n)
        await drain()
    await stage(pool, "invoices", {"invoice": samples.invoice()}, 5)
    await stage(pool, "stock", item(V1), 6)
    await drain()
    assert await states(pool) == ["completed"] * 3
    assert await all_conflicts(pool) == []
    row = await product(pool)
    assert row["tds_written"]["name"] == "Cable 2"
    # the row contains what TDS wrote: a local edit would show as a difference
    assert (
        await pool.fetchval("SELECT count(*) FROM products WHERE NOT to_jsonb(products) @> tds_written") == 0
    )
    for table in ("invoices", "stock_levels"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table} WHERE tds_written IS NULL") == 0
    audit = await pool.fetch("SELECT local_changes FROM tds_audit_trail")
    assert {r[0] for r in audit} == {None}


async def test_rows_without_a_recorded_write_are_not_conflicts(pool: Any, drain: Any) -> None:
    await set_policies(pool, {"items": {"policy": "hold"}})
    await stage(pool, "items", item(V1))
    await drain()
    # a row written before migration 0007 (never recorded) that was edited: no conflict
    await local_edit(pool, "UPDATE products SET tds_written = NULL, name = 'Local' WHERE zoho_id = $1", ITEM)
    await stage(pool, "items", item(V2, name="From Zoho"), 1)
    await drain()
    assert await states(pool) == ["completed", "completed"]
    assert (await product(pool))["name"] == "From Zoho"
    assert await all_conflicts(pool) == []


# ---------------------------------------------------------------------------- source_wins
async def test_source_wins_overwrites_and_keeps_the_local_values(pool: Any, drain: Any) -> None:
    await stage(pool, "items", item(V1))
    await drain()
    await local_edit(pool, "UPDATE products SET name = 'Local name', rate = 99.5 WHERE zoho_id = $1", ITEM)
    await stage(pool, "items", item(V2, name="Zoho name"), 1)
    await drain()
    row = await product(pool)
    assert (row["name"], row["rate"]) == ("Zoho name", Decimal("12.5"))
    assert await states(pool) == ["completed", "completed"]
    (conflict,) = await all_conflicts(pool)
    assert (conflict["policy"], conflict["status"], conflict["resolution"]) == (
        "source_wins",
        "resolved",
        "source_wins",
    )
    assert conflict["changed_columns"] == ["name", "rate"]
    assert conflict["local_row"]["name"] == "Local name"
    assert conflict["written"]["name"] == "USB-C Cable 1m"
    assert conflict["source_row"]["name"] == "Zoho name"
    # the audit trail keeps the overwritten local values, marked as a conflict
    audit = await pool.fetchrow(
        "SELECT before, after, local_changes FROM tds_audit_trail WHERE zoho_id = $1"
        " ORDER BY id DESC LIMIT 1",
        ITEM,
    )
    assert audit["before"]["name"] == "Local name"
    assert audit["after"]["name"] == "Zoho name"
    assert audit["local_changes"] == ["name", "rate"]
    # the next event finds the row as TDS wrote it: no conflict
    await stage(pool, "items", item(V3, name="Zoho again"), 2)
    await drain()
    assert len(await all_conflicts(pool)) == 1


async def test_a_delete_meets_the_policy_too(pool: Any, drain: Any) -> None:
    await stage(pool, "items", item(V1))
    await drain()
    await local_edit(pool, "UPDATE products SET sku = 'LOCAL' WHERE zoho_id = $1", ITEM)
    await stage(pool, "items", {**item(V2), "_delete": True}, 1)
    await drain()
    row = await product(pool)
    assert row["deleted_at"] is not None
    (conflict,) = await all_conflicts(pool)
    assert (conflict["operation"], conflict["resolution"], conflict["source_row"]) == (
        "deleted",
        "source_wins",
        None,
    )


# ---------------------------------------------------------------------------- preserve_columns
async def test_preserve_columns_keeps_erp_owned_columns_without_false_conflicts(
    pool: Any, drain: Any
) -> None:
    await set_policies(
        pool, {"items": {"policy": "preserve_columns", "columns": ["reorder_level", "description"]}}
    )
    await stage(pool, "items", item(V1))  # a new row takes the source's values
    await drain()
    assert (await product(pool))["reorder_level"] == Decimal("50")
    # the ERP owns reorder_level: its edit is not a conflict, and TDS never overwrites it
    await local_edit(pool, "UPDATE products SET reorder_level = 7 WHERE zoho_id = $1", ITEM)
    await stage(pool, "items", item(V2, name="Renamed", reorder_level=60, description="new"), 1)
    await drain()
    row = await product(pool)
    assert (row["name"], row["reorder_level"], row["description"]) == (
        "Renamed",
        Decimal("7"),
        "Braided USB-C to USB-C cable",
    )
    assert await all_conflicts(pool) == []
    # the hash recorded is that of the row as it holds after the write: no false conflict next
    await stage(pool, "items", item(V3, name="Renamed again"), 2)
    await drain()
    assert await all_conflicts(pool) == []
    assert (await product(pool))["name"] == "Renamed again"
    # a column TDS does write, changed locally as well: a conflict resolved by the policy
    await local_edit(pool, "UPDATE products SET reorder_level = 8, sku = 'LOCAL' WHERE zoho_id = $1", ITEM)
    await stage(pool, "items", item(V4), 3)
    await drain()
    row = await product(pool)
    assert (row["sku"], row["reorder_level"]) == ("CBL-USBC-1M", Decimal("8"))
    (conflict,) = await all_conflicts(pool)
    assert (conflict["policy"], conflict["resolution"], conflict["changed_columns"]) == (
        "preserve_columns",
        "preserve_columns",
        ["reorder_level", "sku"],
    )
    assert await states(pool) == ["completed"] * 4


# ---------------------------------------------------------------------------- hold
async def hold_one(pool: Any, drain: Any) -> dict[str, Any]:
    """Policy hold for items; v1 applied, edited locally, then v2 arrives and is held."""
    await set_policies(pool, {"items": {"policy": "hold"}})
    await stage(pool, "items", item(V1))
    await drain()
    await local_edit(pool, "UPDATE products SET name = 'Local name' WHERE zoho_id = $1", ITEM)
    await stage(pool, "items", item(V2, name="Zoho v2"), 1)
    await drain()
    (conflict,) = await all_conflicts(pool)
    return conflict


async def test_hold_parks_the_event_and_later_events_join_it(pool: Any, drain: Any) -> None:
    conflict = await hold_one(pool, drain)
    assert await states(pool) == ["completed", "held"]
    assert (conflict["policy"], conflict["status"], conflict["resolution"]) == ("hold", "open", None)
    assert conflict["source_version"] == version(V2)
    row = await product(pool)
    assert (row["name"], row["source_version"]) == ("Local name", version(V1))
    logs = await pool.fetch("SELECT outcome FROM tds_sync_logs WHERE zoho_id = $1 ORDER BY id", ITEM)
    assert [r[0] for r in logs] == ["completed", "held"]
    # a later event for the instance is held in the same conflict (the row is not touched)
    await stage(pool, "items", item(V3, name="Zoho v3"), 2)
    # an older one is stale as always (it would not write)
    await stage(pool, "items", item("2024-01-01T00:00:00+0530"), 3)
    await drain()
    assert await states(pool) == ["completed", "held", "held", "skipped_stale"]
    (joined,) = await all_conflicts(pool)
    assert joined["id"] == conflict["id"]
    assert len(joined["held_queue_ids"]) == 2
    assert (joined["source_version"], joined["payload"]["name"]) == (version(V3), "Zoho v3")
    assert joined["local_row"]["name"] == "Local name"
    assert (await product(pool))["name"] == "Local name"


async def test_hold_then_apply_source(pool: Any, drain: Any) -> None:
    conflict = await hold_one(pool, drain)
    await stage(pool, "items", item(V3, name="Zoho v3"), 2)
    await drain()
    async with pool.acquire() as connection:
        resolved = await conflicts.resolve(
            connection, conflict["id"], "apply_source", OPERATOR, "Zoho is right"
        )
    assert (resolved["status"], resolved["resolution"], resolved["resolved_by"]) == (
        "resolved",
        "apply_source",
        "ops",
    )
    assert await states(pool) == ["completed", "pending", "pending"]
    await drain(concurrency=1)  # both in one batch (two batches at once could apply v3 before v2)
    # applied through the guarded path, in version order, with no new conflict
    row = await product(pool)
    assert (row["name"], row["source_version"]) == ("Zoho v3", version(V3))
    assert await states(pool) == ["completed", "completed", "completed"]
    assert len(await all_conflicts(pool)) == 1
    action = await pool.fetchrow("SELECT actor, via, action, target, details FROM tds_operator_actions")
    assert (action["actor"], action["via"], action["action"], action["target"]) == (
        "ops",
        "cli",
        "conflict.resolve",
        str(conflict["id"]),
    )
    assert action["details"]["resolution"] == "apply_source"
    assert action["details"]["note"] == "Zoho is right"
    # resolving twice is refused
    with pytest.raises(WrongState, match="already resolved"):
        async with pool.acquire() as connection:
            await conflicts.resolve(connection, conflict["id"], "keep_local", OPERATOR)


async def test_apply_source_never_lets_an_older_held_event_overwrite_a_newer_one(
    pool: Any, drain: Any
) -> None:
    await set_policies(pool, {"items": {"policy": "hold"}})
    await pool.execute(
        "INSERT INTO tds_configuration (key, version, value) VALUES ('worker.batch_size', 2, '1')"
    )
    await stage(pool, "items", item(V1))
    await drain()
    await local_edit(pool, "UPDATE products SET name = 'Local name' WHERE zoho_id = $1", ITEM)
    await stage(pool, "items", item(V3, name="Zoho v3"), 1)  # held first
    await stage(pool, "items", item(V2, name="Zoho v2"), 2)  # older, arrives later: held behind it
    await drain()
    (conflict,) = await all_conflicts(pool)
    assert conflict["payload"]["name"] == "Zoho v3"
    async with pool.acquire() as connection:
        await conflicts.resolve(connection, conflict["id"], "apply_source", OPERATOR)
    await drain(concurrency=1)  # one event per batch, v3 (claimed first) before v2
    row = await product(pool)
    assert (row["name"], row["source_version"]) == ("Zoho v3", version(V3))
    assert await states(pool) == ["completed", "completed", "skipped_stale"]


async def test_hold_then_keep_local(pool: Any, drain: Any) -> None:
    conflict = await hold_one(pool, drain)
    async with pool.acquire() as connection:
        resolved = await conflicts.resolve(connection, conflict["id"], "keep_local", OPERATOR, "ERP is right")
    assert (resolved["status"], resolved["resolution"], resolved["note"]) == (
        "resolved",
        "keep_local",
        "ERP is right",
    )
    assert await states(pool) == ["completed", "skipped_unchanged"]
    row = await product(pool)
    # the local row is kept, accepted as the held version's content
    assert (row["name"], row["source_version"]) == ("Local name", version(V2))
    audit = await pool.fetchrow(
        "SELECT actor, action, before, after FROM tds_audit_trail WHERE zoho_id = $1"
        " ORDER BY id DESC LIMIT 1",
        ITEM,
    )
    assert (audit["actor"], audit["action"]) == ("ops", "update")
    assert audit["after"]["name"] == "Local name"
    logs = await pool.fetch("SELECT outcome FROM tds_sync_logs WHERE zoho_id = $1 ORDER BY id", ITEM)
    assert [r[0] for r in logs] == ["completed", "held", "discarded"]
    # the same event delivered again changes nothing; a newer Zoho change applies as usual
    await stage(pool, "items", item(V2, name="Zoho v2"), 5, key="redelivery")
    await drain()
    assert (await product(pool))["name"] == "Local name"
    await stage(pool, "items", item(V3, name="Zoho v3"), 6)
    await drain()
    assert (await product(pool))["name"] == "Zoho v3"
    assert await states(pool) == ["completed", "skipped_unchanged", "skipped_unchanged", "completed"]
    assert len(await all_conflicts(pool)) == 1


async def test_resolve_refuses_unknown_ids_and_resolutions(pool: Any, drain: Any) -> None:
    conflict = await hold_one(pool, drain)
    async with pool.acquire() as connection:
        with pytest.raises(NotFound):
            await conflicts.resolve(connection, conflict["id"] + 100, "keep_local", OPERATOR)
        with pytest.raises(InvalidRequest, match="resolution"):
            await conflicts.resolve(connection, conflict["id"], "source_wins", OPERATOR)
        with pytest.raises(InvalidRequest, match="entity"):
            await conflicts.list_conflicts(connection, ConflictFilter(entity="nope"))
        listed = await conflicts.list_conflicts(connection, ConflictFilter(status="open", entity="items"))
        assert [c["id"] for c in listed] == [conflict["id"]]
        shown = await conflicts.get_conflict(connection, conflict["id"])
    name = next(d for d in shown["diff"] if d["column"] == "name")
    assert name == {
        "column": "name",
        "local": "Local name",
        "source": "Zoho v2",
        "written": "USB-C Cable 1m",
        "changed_locally": True,
        "differs": True,
        "preserved": False,
    }
    rate = next(d for d in shown["diff"] if d["column"] == "rate")
    assert (rate["changed_locally"], rate["differs"]) == (False, False)  # 12.5 against "12.5"


# ---------------------------------------------------------------------------- other entity types
async def test_stock_locations_and_invoices(pool: Any, drain: Any) -> None:
    await set_policies(pool, {"stock": {"policy": "hold"}})
    await stage(pool, "stock", item(V1))
    await stage(pool, "invoices", {"invoice": samples.invoice(last_modified_time=V1)}, 1)
    await drain()
    invoice_id = await pool.fetchval("SELECT zoho_id FROM invoices")
    await local_edit(pool, "UPDATE stock_levels SET stock_on_hand = 1 WHERE location_id = '460000000038080'")
    await local_edit(pool, "UPDATE invoices SET status = 'void'")
    moved = item(V2)
    moved["item"]["locations"][0]["location_stock_on_hand"] = "300"
    await stage(pool, "stock", moved, 2)
    await stage(pool, "invoices", {"invoice": samples.invoice(last_modified_time=V2, total=5)}, 3)
    await drain()
    assert await states(pool, "stock") == ["completed", "held"]
    assert (
        await pool.fetchval("SELECT stock_on_hand FROM stock_levels WHERE location_id = '460000000038080'")
        == 1
    )
    assert await pool.fetchval("SELECT status FROM invoices") != "void"  # invoices: source_wins
    held, overwritten = sorted(await all_conflicts(pool), key=lambda c: c["entity"])[::-1]
    assert (held["entity"], held["row_key"], held["status"]) == ("stock", f"{ITEM}/460000000038080", "open")
    assert held["changed_columns"] == ["stock_on_hand"]
    assert (overwritten["entity"], overwritten["zoho_id"], overwritten["resolution"]) == (
        "invoices",
        invoice_id,
        "source_wins",
    )
    async with pool.acquire() as connection:
        await conflicts.resolve(connection, held["id"], "keep_local", OPERATOR)
    assert (
        await pool.fetchval("SELECT stock_on_hand FROM stock_levels WHERE location_id = '460000000038080'")
        == 1
    )
    assert await states(pool, "stock") == ["completed", "skipped_unchanged"]
    await stage(pool, "stock", moved, 4, key="redelivery")  # the same version again: unchanged
    await drain()
    assert await states(pool, "stock") == ["completed", "skipped_unchanged", "skipped_unchanged"]


# ---------------------------------------------------------------------------- replays
async def test_a_conflict_arriving_through_a_dlq_replay(pool: Any, drain: Any) -> None:
    await set_policies(pool, {"items": {"policy": "hold"}})
    await pool.execute(
        """
        INSERT INTO tds_configuration (key, version, value, updated_by)
        VALUES ('worker.max_attempts', 2, '1', 'tests');
        CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'ERP refuses %', NEW.name; END $$;
        CREATE TRIGGER test_refuse BEFORE UPDATE ON products
            FOR EACH ROW WHEN (NEW.name = 'Zoho v2') EXECUTE FUNCTION test_refuse();
        """
    )
    await stage(pool, "items", item(V1))
    await drain()
    await stage(pool, "items", item(V2, name="Zoho v2"), 1)
    await drain()
    assert await states(pool) == ["completed", "dead"]
    # meanwhile someone edits the row in the ERP; the refusal is fixed; the letter is replayed
    await local_edit(pool, "UPDATE products SET name = 'Local name' WHERE zoho_id = $1", ITEM)
    await pool.execute("DROP TRIGGER test_refuse ON products")
    letter = await pool.fetchval("SELECT id FROM tds_dead_letter_queue")
    async with pool.acquire() as connection:
        await dead_letters.replay_one(connection, letter, OPERATOR, "fixed")
    await drain()
    assert await states(pool) == ["completed", "held"]
    (conflict,) = await all_conflicts(pool)
    assert (conflict["status"], conflict["queue_id"]) == (
        "open",
        await pool.fetchval("SELECT queue_id FROM tds_dead_letter_queue"),
    )
    assert (await product(pool))["name"] == "Local name"
    async with pool.acquire() as connection:
        await conflicts.resolve(connection, conflict["id"], "apply_source", OPERATOR)
    await drain()
    assert (await product(pool))["name"] == "Zoho v2"
    assert await states(pool) == ["completed", "completed"]


async def test_a_conflict_arriving_through_an_inbox_replay(pool: Any, drain: Any) -> None:
    await stage(pool, "items", item(V1))
    await drain()
    # v2 arrived but never applied (its queue row ended dead and was discarded)
    await stage(pool, "items", item(V2, name="Zoho v2"), 10)
    await pool.execute(
        "UPDATE tds_sync_queue SET status = 'dead', finished_at = now() WHERE status = 'pending'"
    )
    await local_edit(pool, "UPDATE products SET name = 'Local name' WHERE zoho_id = $1", ITEM)
    await set_policies(pool, {"items": {"policy": "hold"}})
    selection = InboxSelection.build(T0 + timedelta(minutes=5), T0 + timedelta(minutes=15))
    async with pool.acquire() as connection:
        await start_inbox_replay(connection, selection, OPERATOR)
    assert await JobRunner(pool, replay_handlers(pool, config=InboxReplayConfig())).run_once()
    await drain()
    assert await states(pool) == ["completed", "dead", "held"]
    (conflict,) = await all_conflicts(pool)
    assert (conflict["status"], conflict["payload"]["name"]) == ("open", "Zoho v2")
    assert (await product(pool))["name"] == "Local name"


# ---------------------------------------------------------------------------- line items
INVOICE = "982000000567114"
LINE_1, LINE_2 = "982000000567021", "982000000567022"
PRICE_LIST = "130426000002924000"

LOCAL_LINE_EDITS = {
    "line updated": (
        "UPDATE invoice_line_items SET quantity = 5 WHERE line_item_id = $1",
        {LINE_1: Decimal("5"), LINE_2: Decimal("1")},
    ),
    "line inserted": (
        "INSERT INTO invoice_line_items (invoice_zoho_id, line_item_id, name, quantity)"
        " SELECT invoice_zoho_id, 'LOCAL-1', 'Local line', 3 FROM invoice_line_items WHERE line_item_id = $1",
        {LINE_1: Decimal("1"), LINE_2: Decimal("1"), "LOCAL-1": Decimal("3")},
    ),
    "line deleted": ("DELETE FROM invoice_line_items WHERE line_item_id = $1", {LINE_2: Decimal("1")}),
}


def invoice(modified: str, *, partial: bool = False, **fields: Any) -> dict[str, Any]:
    """An invoice record; ``partial``: without its line list (a record that leaves the lines alone)."""
    record = samples.invoice(last_modified_time=modified, **fields)
    return {"invoice": {k: v for k, v in record.items() if not (partial and k == "line_items")}}


async def quantities(pool: Any, zoho_id: str = INVOICE) -> dict[str, Decimal]:
    rows = await pool.fetch(
        "SELECT line_item_id, quantity FROM invoice_line_items WHERE invoice_zoho_id = $1", zoho_id
    )
    return {r["line_item_id"]: r["quantity"] for r in rows}


def frozen_digest(table: str) -> str:
    """Migration 0010's backfill expression: must agree with what the workers record."""
    path = Path(migrations.__file__).parent / "versions" / "0010_line_conflicts.py"
    spec = importlib.util.spec_from_file_location("migration_0010", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    digest: str = module._digest(table)
    return digest


async def test_tds_own_line_writes_are_never_a_conflict(pool: Any, drain: Any) -> None:
    # hold: any false conflict would show as a held event
    await set_policies(pool, {e: {"policy": "hold"} for e in ("invoices", "bills", "pricebooks")})
    # a full record then a partial one in the same batch: the full record's lines are written
    await stage(pool, "invoices", invoice(V1, total=1))
    await stage(pool, "invoices", invoice(V2, partial=True, total=2), 1)
    await drain(concurrency=1)  # one batch
    assert await quantities(pool) == {LINE_1: Decimal("1"), LINE_2: Decimal("1")}
    # lines changed by Zoho (one edited, one removed, one added); then a record without its list
    changed = samples.invoice(last_modified_time=V3)
    changed["line_items"] = [
        {**changed["line_items"][0], "quantity": "2.50", "rate": 119.99},
        {"line_item_id": "NEW-1", "name": "Cable", "item_order": 3, "quantity": 1, "rate": 0},
    ]
    await stage(pool, "invoices", {"invoice": changed}, 2)
    await drain()
    assert await quantities(pool) == {LINE_1: Decimal("2.50"), "NEW-1": Decimal("1")}
    await stage(pool, "invoices", invoice(V4, partial=True, status="sent"), 3)
    await drain()
    assert await quantities(pool) == {LINE_1: Decimal("2.50"), "NEW-1": Decimal("1")}
    # an empty list removes the lines; a price list and a bill (which carries no lines) twice
    await stage(pool, "invoices", invoice("2024-01-19T10:20:30+0530", line_items=[]), 4)
    await stage(pool, "pricebooks", {"pricebook": samples.pricebook()}, 5)
    await stage(pool, "bills", {"bill": samples.bill()}, 6)
    await drain()
    assert await quantities(pool) == {}
    await stage(pool, "pricebooks", {"pricebook": samples.pricebook(name="Price List 2")}, 7)
    await stage(pool, "bills", {"bill": samples.bill(updated_time="2024-01-21T11:00:00+0530")}, 8)
    await drain()
    for table in ("invoices", "price_lists", "bills"):
        # recorded, and the same digest as migration 0010's backfill computes
        assert await pool.fetchval(f"SELECT count(*) FROM {table} WHERE tds_lines_written IS NULL") == 0
        assert await pool.fetchval(
            f"SELECT bool_and(t.tds_lines_written = {frozen_digest(table)}) FROM {table} t"
        )
    # and a delete: the lines go with the row, no conflict either
    await stage(pool, "invoices", {**invoice("2024-01-20T10:20:30+0530"), "_delete": True}, 9)
    await drain()
    assert await all_conflicts(pool) == []
    assert await states(pool, "invoices", INVOICE) == ["completed"] * 6
    assert set(await states(pool, "pricebooks", PRICE_LIST)) == {"completed"}
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_queue WHERE status::text <> 'completed'") == 0
    assert {r[0] for r in await pool.fetch("SELECT local_changes FROM tds_audit_trail")} == {None}


@pytest.mark.parametrize("edit", list(LOCAL_LINE_EDITS))
async def test_a_line_changed_outside_tds_is_held(pool: Any, drain: Any, edit: str) -> None:
    sql, local = LOCAL_LINE_EDITS[edit]
    await set_policies(pool, {"invoices": {"policy": "hold"}})
    await stage(pool, "invoices", invoice(V1))
    await drain()
    await local_edit(pool, sql, LINE_1)
    await stage(pool, "invoices", invoice(V2, total=5), 1)
    await drain()
    assert await states(pool, "invoices", INVOICE) == ["completed", "held"]
    assert await quantities(pool) == local  # untouched
    (conflict,) = await all_conflicts(pool)
    assert (conflict["status"], conflict["changed_columns"]) == ("open", ["line_items"])
    assert {line["line_item_id"] for line in conflict["local_row"]["line_items"]} == set(local)
    assert [line["line_item_id"] for line in conflict["source_row"]["line_items"]] == [LINE_1, LINE_2]
    async with pool.acquire() as connection:
        shown = await conflicts.get_conflict(connection, conflict["id"])
    lines = shown["diff"][-1]
    assert (lines["column"], lines["changed_locally"], lines["differs"], lines["written"]) == (
        "line_items",
        True,
        True,
        None,
    )
    assert lines["local"] == conflict["local_row"]["line_items"]
    # apply_source: Zoho's lines replace the local ones, and the next event is no conflict
    async with pool.acquire() as connection:
        await conflicts.resolve(connection, conflict["id"], "apply_source", OPERATOR)
    await drain()
    assert await quantities(pool) == {LINE_1: Decimal("1"), LINE_2: Decimal("1")}
    await stage(pool, "invoices", invoice(V3, total=6), 2)
    await drain()
    assert await states(pool, "invoices", INVOICE) == ["completed"] * 3
    assert len(await all_conflicts(pool)) == 1


@pytest.mark.parametrize("edit", list(LOCAL_LINE_EDITS))
async def test_source_wins_overwrites_lines_changed_outside_tds(pool: Any, drain: Any, edit: str) -> None:
    sql, local = LOCAL_LINE_EDITS[edit]
    await stage(pool, "invoices", invoice(V1))
    await drain()
    await local_edit(pool, sql, LINE_1)
    await stage(pool, "invoices", invoice(V2, total=5), 1)
    await drain()
    assert await states(pool, "invoices", INVOICE) == ["completed", "completed"]
    assert await quantities(pool) == {LINE_1: Decimal("1"), LINE_2: Decimal("1")}  # overwritten
    (conflict,) = await all_conflicts(pool)
    assert (conflict["policy"], conflict["resolution"], conflict["changed_columns"]) == (
        "source_wins",
        "source_wins",
        ["line_items"],
    )
    # the audit trail keeps the overwritten local lines
    audit = await pool.fetchrow(
        "SELECT before, after, local_changes FROM tds_audit_trail WHERE zoho_id = $1"
        " ORDER BY id DESC LIMIT 1",
        INVOICE,
    )
    assert audit["local_changes"] == ["line_items"]
    before = {line["line_item_id"]: Decimal(str(line["quantity"])) for line in audit["before"]["line_items"]}
    assert before == local
    assert "line_items" not in audit["after"]
    # the next event finds the lines as TDS wrote them
    await stage(pool, "invoices", invoice(V3, total=6), 2)
    await drain()
    assert len(await all_conflicts(pool)) == 1


async def test_a_record_without_its_lines_neither_overwrites_nor_accepts_a_local_line_edit(
    pool: Any, drain: Any
) -> None:
    await set_policies(pool, {"invoices": {"policy": "hold"}})
    await stage(pool, "invoices", invoice(V1))
    await drain()
    await local_edit(pool, "UPDATE invoice_line_items SET quantity = 5 WHERE line_item_id = $1", LINE_1)
    # a partial record leaves the lines alone: applied, not held
    await stage(pool, "invoices", invoice(V2, partial=True, status="sent"), 1)
    await drain()
    assert await states(pool, "invoices", INVOICE) == ["completed", "completed"]
    assert await pool.fetchval("SELECT status FROM invoices") == "sent"
    assert await all_conflicts(pool) == []
    # ... and the local edit is still detected by the next record that carries the lines
    await stage(pool, "invoices", invoice(V3), 2)
    await drain()
    assert await states(pool, "invoices", INVOICE) == ["completed", "completed", "held"]
    (conflict,) = await all_conflicts(pool)
    assert conflict["changed_columns"] == ["line_items"]
    assert (await quantities(pool))[LINE_1] == Decimal("5")
    # keep_local accepts the lines as they are; a newer Zoho change applies with no conflict
    async with pool.acquire() as connection:
        await conflicts.resolve(connection, conflict["id"], "keep_local", OPERATOR)
    audit = await pool.fetchrow("SELECT actor, after FROM tds_audit_trail ORDER BY id DESC LIMIT 1")
    assert audit["actor"] == "ops"
    assert {line["line_item_id"]: line["quantity"] for line in audit["after"]["line_items"]}[LINE_1] == 5
    await stage(pool, "invoices", invoice(V4), 3)
    await drain()
    assert await states(pool, "invoices", INVOICE) == [
        "completed",
        "completed",
        "skipped_unchanged",
        "completed",
    ]
    assert (await quantities(pool))[LINE_1] == Decimal("1")
    assert len(await all_conflicts(pool)) == 1


async def test_a_delete_meets_a_line_changed_outside_tds(pool: Any, drain: Any) -> None:
    await stage(pool, "invoices", invoice(V1))
    await drain()
    await local_edit(pool, "DELETE FROM invoice_line_items WHERE line_item_id = $1", LINE_2)
    await stage(pool, "invoices", {**invoice(V2), "_delete": True}, 1)
    await drain()
    assert await quantities(pool) == {}
    (conflict,) = await all_conflicts(pool)
    assert (conflict["operation"], conflict["resolution"], conflict["changed_columns"]) == (
        "deleted",
        "source_wins",
        ["line_items"],
    )
    audit = await pool.fetchrow(
        "SELECT before, after FROM tds_audit_trail WHERE zoho_id = $1 ORDER BY id DESC LIMIT 1", INVOICE
    )
    assert [line["line_item_id"] for line in audit["before"]["line_items"]] == [LINE_1]
    assert "line_items" not in audit["after"]


async def test_a_price_list_item_edited_locally(pool: Any, drain: Any) -> None:
    await stage(pool, "pricebooks", {"pricebook": samples.pricebook()})
    await drain()
    await local_edit(
        pool, "UPDATE price_list_items SET pricebook_rate = 99 WHERE item_id = '460000000054135'"
    )
    await stage(pool, "pricebooks", {"pricebook": samples.pricebook(name="Price List 2")}, 1)
    await drain()
    rates = dict(await pool.fetch("SELECT item_id, pricebook_rate FROM price_list_items"))
    assert rates["460000000054135"] == Decimal("11.25")
    (conflict,) = await all_conflicts(pool)
    assert (conflict["entity"], conflict["zoho_id"], conflict["changed_columns"]) == (
        "pricebooks",
        PRICE_LIST,
        ["line_items"],
    )
    local = {line["item_id"]: line["pricebook_rate"] for line in conflict["local_row"]["line_items"]}
    assert local["460000000054135"] == 99


async def test_preserve_columns_with_lines(pool: Any, drain: Any) -> None:
    await set_policies(pool, {"invoices": {"policy": "preserve_columns", "columns": ["status"]}})
    await stage(pool, "invoices", invoice(V1))
    await drain()
    # a preserved column alone: no conflict; with a line edited too: the lines are overwritten
    await local_edit(pool, "UPDATE invoices SET status = 'approved'")
    await stage(pool, "invoices", invoice(V2, total=5), 1)
    await drain()
    assert await all_conflicts(pool) == []
    await local_edit(pool, "UPDATE invoices SET status = 'checked'")
    await local_edit(pool, "UPDATE invoice_line_items SET quantity = 5 WHERE line_item_id = $1", LINE_1)
    await stage(pool, "invoices", invoice(V3, total=6), 2)
    await drain()
    assert await pool.fetchval("SELECT status FROM invoices") == "checked"
    assert await quantities(pool) == {LINE_1: Decimal("1"), LINE_2: Decimal("1")}
    (conflict,) = await all_conflicts(pool)
    assert (conflict["resolution"], conflict["changed_columns"]) == (
        "preserve_columns",
        ["line_items", "status"],
    )
    await stage(pool, "invoices", invoice(V4, total=7), 3)
    await drain()
    assert len(await all_conflicts(pool)) == 1
    assert await states(pool, "invoices", INVOICE) == ["completed"] * 4
