"""Compare the ERP tables with a simulator store, the ground truth: what the soak, the bench and
the source tests check after reconciliation. Independent of TDS's own reconciler, so it can
judge it.

Compared: live ids of every entity table, versions where Zoho has them (contacts, invoices,
bills, credit notes; Books items and price lists carry none, so TDS versions those by receipt
time), line item ids, stock per item and location, and price list rates.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from tds_core.simulator.clock import parse_zoho_time
from tds_core.simulator.store import ID_FIELDS, Store

TABLES = {
    "items": "products",
    "contacts": "customers",
    "invoices": "invoices",
    "bills": "bills",
    "creditnotes": "credit_notes",
    "pricebooks": "price_lists",
}
LINES = {
    "invoices": ("invoice_line_items", "invoice_zoho_id"),
    "bills": ("bill_line_items", "bill_zoho_id"),
    "creditnotes": ("credit_note_line_items", "credit_note_zoho_id"),
}
VERSIONED = ("contacts", "invoices", "bills", "creditnotes")
QUANTITIES = ("location_stock_on_hand", "location_available_stock", "location_actual_available_stock")
Quantities = tuple[Decimal | None, ...]


def record_version(record: dict[str, Any]) -> datetime:
    """The record's Zoho version: ``last_modified_time`` (a credit note's GET and webhook call the
    same stamp ``updated_time``; the store keeps it under ``last_modified_time``)."""
    return parse_zoho_time(record["last_modified_time"])


def _quantities(location: dict[str, Any]) -> Quantities:
    return tuple(
        None if location.get(q) in (None, "") else Decimal(str(location[q])).normalize() for q in QUANTITIES
    )


def store_stock(record: dict[str, Any] | None) -> dict[str, Quantities]:
    """An item's stock per location id, as the store holds it."""
    return {str(loc["location_id"]): _quantities(loc) for loc in (record or {}).get("locations") or []}


async def live_ids(db: Any, table: str) -> set[str]:
    rows = await db.fetch(f"SELECT zoho_id FROM {table} WHERE deleted_at IS NULL")
    return {r["zoho_id"] for r in rows}


async def differences(db: Any, store: Store, limit: int = 5) -> list[str]:
    """Every way the ERP (``db``: an asyncpg pool or connection) differs from ``store``; empty
    when they are equal. Each entry names the table and up to ``limit`` example ids."""
    problems: list[str] = []
    for module, table in TABLES.items():
        held = await live_ids(db, table)
        want = set(store.ids(module))
        if held != want:
            problems.append(
                f"{table}: {len(want - held)} missing {sorted(want - held)[:limit]}, "
                f"{len(held - want)} extra {sorted(held - want)[:limit]}"
            )
    for module in VERSIONED:
        rows = await db.fetch(
            f"SELECT zoho_id, source_version FROM {TABLES[module]} WHERE deleted_at IS NULL"
        )
        versions = {r["zoho_id"]: r["source_version"] for r in rows}
        wrong = [
            f"{record[ID_FIELDS[module]]}: {versions[record[ID_FIELDS[module]]]} != {record_version(record)}"
            for record in store.records(module)
            if record[ID_FIELDS[module]] in versions
            and versions[record[ID_FIELDS[module]]] != record_version(record)
        ]
        if wrong:
            problems.append(f"{module}: {len(wrong)} versions differ, e.g. {wrong[:limit]}")
    for module, (line_table, parent) in LINES.items():
        lines: dict[str, set[str]] = defaultdict(set)
        for r in await db.fetch(f"SELECT {parent} AS parent, line_item_id FROM {line_table}"):
            lines[r["parent"]].add(r["line_item_id"])
        wrong_lines = [
            record[ID_FIELDS[module]]
            for record in store.records(module)
            if lines.get(record[ID_FIELDS[module]], set())
            != {str(line["line_item_id"]) for line in record.get("line_items") or []}
        ]
        if wrong_lines:
            problems.append(f"{line_table}: lines of {len(wrong_lines)} differ, e.g. {wrong_lines[:limit]}")
    stock_rows = await db.fetch(
        "SELECT item_zoho_id, location_id, stock_on_hand, available_stock, actual_available_stock"
        " FROM stock_levels WHERE deleted_at IS NULL AND location_id <> '*'"
    )
    held_stock = {
        (r["item_zoho_id"], r["location_id"]): tuple(
            None if r[c] is None else r[c].normalize()
            for c in ("stock_on_hand", "available_stock", "actual_available_stock")
        )
        for r in stock_rows
    }
    want_stock = {
        (item["item_id"], location): quantities
        for item in store.records("items")
        for location, quantities in store_stock(item).items()
    }
    if held_stock != want_stock:
        diff = set(held_stock.items()) ^ set(want_stock.items())
        problems.append(f"stock_levels: {len(diff)} differences at {sorted(diff, key=str)[:limit]}")
    held_prices: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for r in await db.fetch("SELECT price_list_zoho_id, item_id, pricebook_rate FROM price_list_items"):
        held_prices[r["price_list_zoho_id"]][r["item_id"]] = r["pricebook_rate"].normalize()
    wrong_prices = [
        record["pricebook_id"]
        for record in store.records("pricebooks")
        if held_prices.get(record["pricebook_id"], {})
        != {
            str(e["item_id"]): Decimal(str(e["pricebook_rate"])).normalize()
            for e in record.get("pricebook_items") or []
        }
    ]
    if wrong_prices:
        problems.append(
            f"price_list_items: {len(wrong_prices)} price lists differ, e.g. {wrong_prices[:limit]}"
        )
    return problems
