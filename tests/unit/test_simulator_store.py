"""Simulator store: deterministic seeding, Zoho formats, versions, the change log, stock."""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tds_core.simulator import ManualClock, Store
from tds_core.simulator.clock import parse_zoho_time
from tds_core.simulator.store import ID_FIELDS, MODULES, UnknownRecord

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SIMULATOR_SOURCE = Path(__file__).resolve().parents[2] / "src" / "tds_core" / "simulator"


def seeded(seed: int = 3, records: int = 20) -> tuple[Store, ManualClock]:
    clock = ManualClock()
    store = Store(seed, clock=clock)
    store.seed(records)
    return store, clock


def test_the_same_seed_gives_the_same_organization() -> None:
    first, _ = seeded(seed=5)
    second, _ = seeded(seed=5)
    other, _ = seeded(seed=6)
    for module in MODULES:
        assert list(first.records(module)) == list(second.records(module))
    assert list(first.records("invoices")) != list(other.records("invoices"))
    first.update("invoices", first.ids("invoices")[0])
    second.update("invoices", second.ids("invoices")[0])
    assert first.changes_after(0)[0].record == second.changes_after(0)[0].record


def test_seeding_fills_every_module_in_zoho_formats() -> None:
    store, clock = seeded(records=25)
    for module in MODULES:
        assert store.count(module) == 25
        for record in store.records(module):
            record_id = record[ID_FIELDS[module]]
            assert isinstance(record_id, str) and record_id.isdigit() and len(record_id) == 15
            for field in ("created_time", "last_modified_time"):
                if module != "pricebooks":
                    assert TIMESTAMP.match(record[field]), (module, field, record[field])
                    assert parse_zoho_time(record[field]) < clock()
    for invoice in store.records("invoices"):
        assert DATE.match(invoice["date"]) and DATE.match(invoice["due_date"])
        assert invoice["customer_id"] in store.ids("contacts")
        assert all(line["line_item_id"].isdigit() for line in invoice["line_items"])
        assert invoice["sub_total"] == round(sum(line["item_total"] for line in invoice["line_items"]), 2)
        assert invoice["total"] == round(invoice["sub_total"] + invoice["tax_total"], 2)
    for bill in store.records("bills"):
        vendor = store.get("contacts", bill["vendor_id"])
        assert vendor["contact_type"] == "vendor"
    assert {"customer", "vendor"} == {c["contact_type"] for c in store.records("contacts")}


def test_ids_are_unique_across_modules_and_lines() -> None:
    store, _ = seeded(records=30)
    seen: list[str] = []
    for module in MODULES:
        seen.extend(store.ids(module))
    for module in ("invoices", "bills", "creditnotes"):
        seen.extend(line["line_item_id"] for r in store.records(module) for line in r["line_items"])
    assert len(seen) == len(set(seen))


def test_update_bumps_last_modified_time_strictly() -> None:
    store, clock = seeded()
    invoice_id = store.ids("invoices")[0]
    first = store.update("invoices", invoice_id, {"notes": "one"})
    second = store.update("invoices", invoice_id, {"notes": "two"})  # same clock second
    assert parse_zoho_time(first["last_modified_time"]) == clock().replace(microsecond=0)
    assert parse_zoho_time(second["last_modified_time"]) == parse_zoho_time(
        first["last_modified_time"]
    ) + timedelta(seconds=1)
    assert first["created_time"] == second["created_time"]


def test_explicit_updates_keep_documents_consistent() -> None:
    store, _ = seeded()
    invoice = store.get("invoices", store.ids("invoices")[0])
    lines = invoice["line_items"]
    lines[0]["quantity"] = 3
    lines[0]["rate"] = 10.0
    updated = store.update("invoices", invoice["invoice_id"], {"line_items": lines, "status": "paid"})
    assert updated["line_items"][0]["item_total"] == 30.0
    assert updated["balance"] == 0.0
    assert updated["payment_made"] == updated["total"]
    with pytest.raises(ValueError, match="id"):
        store.update("invoices", invoice["invoice_id"], {"invoice_id": "1"})


def test_records_handed_out_are_copies() -> None:
    store, _ = seeded()
    item_id = store.ids("items")[0]
    copy = store.get("items", item_id)
    copy["name"] = "changed outside"
    assert store.get("items", item_id)["name"] != "changed outside"


def test_change_log_answers_what_changed_since() -> None:
    store, clock = seeded()
    start = clock()
    assert store.changes_since(start - timedelta(days=365)) == []  # seeding is not a change
    clock.advance(10)
    created = store.create("contacts", {"contact_name": "New Customer Ltd"})
    clock.advance(10)
    middle = clock()
    updated = store.update("items", store.ids("items")[0])
    clock.advance(10)
    deleted = store.delete("bills", store.ids("bills")[0])
    assert [(c.module, c.event) for c in store.changes_since(start)] == [
        ("contacts", "created"),
        ("items", "updated"),
        ("bills", "deleted"),
    ]
    assert [c.record_id for c in store.changes_since(middle)] == [deleted["bill_id"]]
    assert [c.module for c in store.changes_since(start, module="items")] == ["items"]
    assert store.changes_since(start)[0].record["contact_name"] == "New Customer Ltd"
    assert store.changes_since(start)[1].record == updated
    assert [c.seq for c in store.changes_after(1)] == [2, 3]
    assert created["contact_id"] in store.ids("contacts")


def test_deleted_records_are_gone() -> None:
    store, _ = seeded()
    bill_id = store.ids("bills")[0]
    last = store.delete("bills", bill_id)
    assert last["bill_id"] == bill_id
    assert bill_id not in store.ids("bills")
    with pytest.raises(UnknownRecord):
        store.get("bills", bill_id)
    with pytest.raises(UnknownRecord):
        store.update("bills", bill_id)
    assert store.changes_after(0)[-1].event == "deleted"


def test_stock_moves_are_absolute_per_location_and_summed() -> None:
    store, _ = seeded()
    item = next(r for r in store.records("items") if r.get("locations"))
    location = item["locations"][1]
    before = int(location["location_stock_on_hand"])
    moved = store.adjust_stock(item["item_id"], location["location_id"], 7)

    def at_location(record: dict[str, Any]) -> dict[str, Any]:
        return next(e for e in record["locations"] if e["location_id"] == location["location_id"])

    assert at_location(moved)["location_stock_on_hand"] == str(before + 7)  # Zoho sends strings
    assert moved["stock_on_hand"] == sum(float(e["location_stock_on_hand"]) for e in moved["locations"])
    drained = store.adjust_stock(item["item_id"], location["location_id"], -(10**6))
    assert at_location(drained)["location_stock_on_hand"] == "0"  # never below zero
    change = store.changes_after(0)[-1]
    assert change.stock and change.entity == "stock" and change.module == "items"
    service = next((r for r in store.records("items") if not r.get("locations")), None)
    if service is not None:
        with pytest.raises(ValueError, match="stock"):
            store.adjust_stock(service["item_id"])


def test_random_edits_change_something_for_every_module() -> None:
    store, clock = seeded()
    for module in MODULES:
        for record_id in store.ids(module)[:5]:
            before = store.get(module, record_id)
            clock.advance(1)
            after = store.update(module, record_id)
            assert after != before, module


def test_the_simulator_imports_no_other_part_of_tds() -> None:
    """It stands in for Zoho: nothing of processor, api, cli, db (or any other stage) leaks in."""
    for path in SIMULATOR_SOURCE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("tds_core"):
                    assert name.startswith("tds_core.simulator"), f"{path.name} imports {name}"
