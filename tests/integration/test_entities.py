"""Happy path for each of the seven entity types: webhook → inbox + queue → worker → ERP rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from tds_core.domain.entities import ENTITIES
from tds_core.domain.records import parse_zoho_time

from . import samples
from .conftest import Send


def utc(text: str) -> datetime:
    return parse_zoho_time(text).astimezone(UTC)


async def accept(webhook: Send, entity: str, body: Any, **kwargs: Any) -> int:
    response = await webhook(entity, body, **kwargs)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    event_id: int = response.json()["event_id"]
    return event_id


async def assert_completed(pool: Any) -> None:
    states = await pool.fetch("SELECT status::text AS s FROM tds_sync_queue")
    assert [r["s"] for r in states] and {r["s"] for r in states} == {"completed"}
    assert await pool.fetchval("SELECT count(*) FROM tds_dead_letter_queue") == 0


async def test_items_become_products(webhook: Send, pool: Any, drain: Any) -> None:
    books = samples.books_item()
    received_event = await accept(webhook, "items", books)  # a bare record, numeric ids
    await accept(webhook, "items", {"item": samples.item()})
    await drain()
    await assert_completed(pool)

    row = await pool.fetchrow("SELECT * FROM products WHERE zoho_id = '45667789900'")
    assert row["name"] == "Hard Drive"
    assert row["sku"] == "s12345"
    assert row["rate"] == Decimal("120")
    assert row["tax_id"] == "982000000037049"
    assert row["unit"] == "100GB"
    assert row["product_type"] == "goods"
    assert row["purchase_rate"] is None
    assert row["deleted_at"] is None
    assert row["data"] == books
    # no last_modified_time (Books items): versioned by the time TDS received it
    received_at = await pool.fetchval(
        "SELECT received_at FROM tds_inbox_events WHERE id = $1", received_event
    )
    assert row["source_version"] == received_at

    row = await pool.fetchrow("SELECT * FROM products WHERE zoho_id = '460000000054135'")
    assert (row["name"], row["sku"], row["item_type"], row["tax_name"]) == (
        "USB-C Cable 1m",
        "CBL-USBC-1M",
        "inventory",
        "VAT 20%",
    )
    assert (row["rate"], row["purchase_rate"], row["reorder_level"], row["stock_on_hand"]) == (
        Decimal("12.5"),
        Decimal("6.2"),
        Decimal("50"),
        Decimal("340"),
    )
    assert row["source_version"] == utc("2024-01-15T10:20:30+0530")
    assert row["content_hash"]
    # an items event does not write stock levels
    assert await pool.fetchval("SELECT count(*) FROM stock_levels") == 0
    audit = await pool.fetch("SELECT zoho_id, erp_table, action FROM tds_audit_trail")
    # one batch or two, depending on when the worker woke: the order across ids is not defined
    assert sorted(tuple(r) for r in audit) == [
        ("45667789900", "products", "insert"),
        ("460000000054135", "products", "insert"),
    ]


async def test_contacts_become_customers_and_vendors(webhook: Send, pool: Any, drain: Any) -> None:
    form = urlencode({"JSONString": json.dumps({"contact": samples.contact()})})
    await accept(
        webhook,
        "contacts",
        None,
        content=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    await accept(webhook, "contacts", {"contact": samples.vendor()}, event="created")
    await drain()
    await assert_completed(pool)

    customer = await pool.fetchrow("SELECT * FROM customers WHERE zoho_id = '460000000026049'")
    assert customer["contact_name"] == "Bowman and Co"
    assert customer["contact_type"] == "customer"
    assert customer["customer_sub_type"] == "business"
    assert customer["payment_terms"] == 15
    assert customer["payment_terms_label"] == "Net 15"
    assert customer["credit_limit"] == Decimal("1000")
    assert customer["outstanding_receivable_amount"] == Decimal("250")
    assert customer["pricebook_id"] == "460000000000123"
    assert customer["email"] == "will.smith@bowman.example"
    assert customer["source_version"] == utc("2013-10-07T18:24:51+0530")
    assert customer["data"]["billing_address"]["city"] == "Pleasanton"

    vendor = await pool.fetchrow("SELECT * FROM customers WHERE zoho_id = '460000000038029'")
    assert (vendor["contact_type"], vendor["payment_terms"], vendor["currency_code"]) == ("vendor", 0, "INR")
    assert vendor["credit_limit"] is None


async def test_invoices_with_line_items(webhook: Send, pool: Any, drain: Any) -> None:
    await accept(webhook, "invoices", {"invoice": samples.invoice()})
    await drain()
    await assert_completed(pool)

    row = await pool.fetchrow("SELECT * FROM invoices WHERE zoho_id = '982000000567114'")
    assert row["invoice_number"] == "INV-00003"
    assert row["reference_number"] == " "
    assert row["date"].isoformat() == "2013-11-17"
    assert row["due_date"].isoformat() == "2013-12-03"
    assert row["customer_id"] == "982000000567001"
    assert (row["exchange_rate"], row["sub_total"], row["tax_total"], row["total"], row["balance"]) == (
        Decimal("1"),
        Decimal("195"),
        Decimal("15"),
        Decimal("210"),
        Decimal("210"),
    )
    assert row["source_version"] == utc("2013-11-18T02:02:51-0800")

    lines = await pool.fetch(
        "SELECT * FROM invoice_line_items WHERE invoice_zoho_id = '982000000567114' ORDER BY item_order"
    )
    assert [
        (r["line_item_id"], r["item_id"], r["item_order"], r["rate"], r["quantity"], r["item_total"])
        for r in lines
    ] == [
        ("982000000567021", "982000000030049", 1, Decimal("120"), Decimal("1"), Decimal("120")),
        ("982000000567022", "460000000054199", 2, Decimal("75.0"), Decimal("1"), Decimal("75.0")),
    ]
    assert lines[0]["tax_id"] == "982000000557028"
    assert lines[0]["data"]["tags"][0]["tag_name"] == "Location"


async def test_invoice_update_replaces_line_items(webhook: Send, pool: Any, drain: Any) -> None:
    await accept(webhook, "invoices", {"invoice": samples.invoice()})
    await drain()
    lines = samples.invoice()["line_items"]
    lines[0]["quantity"] = 3
    newer = samples.invoice(
        line_items=[lines[0], {"line_item_id": "NEW-1", "item_id": "X", "quantity": 2}],
        last_modified_time="2013-11-19T09:00:00-0800",
    )
    await accept(webhook, "invoices", {"invoice": newer}, event="updated")
    await drain()
    rows = await pool.fetch(
        "SELECT line_item_id, quantity FROM invoice_line_items WHERE invoice_zoho_id = '982000000567114'"
        " ORDER BY line_item_id"
    )
    assert [(r["line_item_id"], r["quantity"]) for r in rows] == [
        ("982000000567021", Decimal("3")),
        ("NEW-1", Decimal("2")),
    ]
    audit = await pool.fetch("SELECT action FROM tds_audit_trail ORDER BY id")
    assert [r["action"] for r in audit] == ["insert", "update"]


async def test_bills_with_line_items(webhook: Send, pool: Any, drain: Any) -> None:
    await accept(webhook, "bills", {"bill": samples.bill()})
    await drain()
    await assert_completed(pool)
    row = await pool.fetchrow("SELECT * FROM bills WHERE zoho_id = '460000000098765'")
    assert (row["bill_number"], row["vendor_id"], row["vendor_name"], row["status"]) == (
        "00454",
        "460000000038029",
        None,
        "open",
    )
    assert row["exchange_rate"] == Decimal("1.23")
    assert row["total"] == Decimal("40")
    assert row["due_date"].isoformat() == "2013-09-26"
    line = await pool.fetchrow("SELECT * FROM bill_line_items WHERE bill_zoho_id = '460000000098765'")
    assert (line["line_item_id"], line["account_id"], line["rate"], line["item_total"], line["unit"]) == (
        "460000000067009",
        "460000000000403",
        Decimal("10"),
        Decimal("40"),
        "kgs",
    )


async def test_creditnotes_become_credit_notes(webhook: Send, pool: Any, drain: Any) -> None:
    await accept(webhook, "creditnotes", {"creditnote": samples.credit_note()})
    await drain()
    await assert_completed(pool)
    row = await pool.fetchrow("SELECT * FROM credit_notes WHERE zoho_id = '460000000072369'")
    assert (row["creditnote_number"], row["customer_id"], row["currency_code"]) == (
        "CN-00029",
        "460000000026049",
        "EUR",
    )
    assert (row["total"], row["balance"]) == (Decimal("30.0"), Decimal("30.0"))
    # only updated_time: that is the version
    assert row["source_version"] == utc("2024-01-20T11:00:00+0530")
    lines = await pool.fetch(
        "SELECT * FROM credit_note_line_items WHERE credit_note_zoho_id = '460000000072369'"
    )
    assert [(r["line_item_id"], r["account_id"], r["quantity"]) for r in lines] == [
        ("460000000072371", "460000000000388", Decimal("2"))
    ]


async def test_stock_per_location(webhook: Send, pool: Any, drain: Any) -> None:
    await accept(webhook, "stock", {"item": samples.item()})
    await accept(webhook, "stock", samples.warehouse_item())  # bare record, older warehouses[]
    await drain()
    await assert_completed(pool)
    rows = await pool.fetch(
        "SELECT item_zoho_id, location_id, location_name, stock_on_hand, available_stock,"
        " actual_available_stock, source_version, deleted_at FROM stock_levels"
        " ORDER BY item_zoho_id, location_id"
    )
    assert [tuple(r)[:6] for r in rows] == [
        (
            "460000000054135",
            "460000000038080",
            "Main Warehouse",
            Decimal("340"),
            Decimal("325"),
            Decimal("310"),
        ),
        ("460000000054135", "460000000038099", "Overflow", Decimal("12"), Decimal("12"), Decimal("10.5")),
        ("460000000054199", "460000000038001", "Old Depot", Decimal("7"), Decimal("6"), Decimal("5")),
    ]
    assert rows[0]["source_version"] == utc("2024-01-15T10:20:30+0530")
    assert all(r["deleted_at"] is None for r in rows)
    # a stock event does not touch products
    assert await pool.fetchval("SELECT count(*) FROM products") == 0


async def test_stock_is_absolute_and_per_location(webhook: Send, pool: Any, drain: Any) -> None:
    await accept(webhook, "stock", {"item": samples.item()})
    await drain()
    locations = samples.item()["locations"]
    locations[0]["location_stock_on_hand"] = "300"
    await accept(
        webhook,
        "stock",
        {"item": samples.item(locations=locations, last_modified_time="2024-01-16T10:00:00+0530")},
    )
    await drain()
    rows = await pool.fetch("SELECT location_id, stock_on_hand, source_version FROM stock_levels ORDER BY 1")
    assert [(r["location_id"], r["stock_on_hand"]) for r in rows] == [
        ("460000000038080", Decimal("300")),
        ("460000000038099", Decimal("12")),
    ]
    audit = await pool.fetch("SELECT row_key, action FROM tds_audit_trail ORDER BY id")
    assert [tuple(r) for r in audit] == [
        ("460000000054135/460000000038080", "insert"),
        ("460000000054135/460000000038099", "insert"),
        ("460000000054135/460000000038080", "update"),  # only the location that changed
    ]


async def test_books_item_stock_with_empty_quantities(webhook: Send, pool: Any, drain: Any) -> None:
    await accept(webhook, "stock", {"item": samples.books_item()})
    await drain()
    await assert_completed(pool)
    row = await pool.fetchrow("SELECT * FROM stock_levels")
    assert (row["item_zoho_id"], row["location_id"], row["location_name"], row["stock_on_hand"]) == (
        "45667789900",
        "460000000038080",
        None,  # Zoho's "" is NULL in every column (reference section 10)
        None,
    )


async def test_pricebooks_become_price_lists(webhook: Send, pool: Any, drain: Any) -> None:
    await accept(webhook, "pricebooks", {"pricebook": samples.pricebook()})
    await drain()
    await assert_completed(pool)
    row = await pool.fetchrow("SELECT * FROM price_lists WHERE zoho_id = '130426000002924000'")
    assert (row["name"], row["description"], row["currency_code"], row["pricebook_type"]) == (
        "Price List 1",
        "Flash sale",
        None,
        "fixed_percentage",
    )
    assert (row["is_default"], row["is_increase"], row["percentage"]) == (True, True, Decimal("4"))
    assert row["sales_or_purchase_type"] == "sales"
    items = await pool.fetch(
        "SELECT * FROM price_list_items WHERE price_list_zoho_id = '130426000002924000' ORDER BY item_id"
    )
    assert [
        (r["item_id"], r["pricebook_item_id"], r["pricebook_rate"], r["pricing_scheme"]) for r in items
    ] == [
        ("17775000000227648", "17775000000227544", Decimal("22"), "unit"),
        ("460000000054135", None, Decimal("11.25"), "unit"),
    ]


async def test_every_entity_is_traceable_inbox_to_erp(webhook: Send, pool: Any, drain: Any) -> None:
    bodies = {
        "items": {"item": samples.item()},
        "contacts": {"contact": samples.contact()},
        "invoices": {"invoice": samples.invoice()},
        "bills": {"bill": samples.bill()},
        "creditnotes": {"creditnote": samples.credit_note()},
        "stock": {"item": samples.warehouse_item()},
        "pricebooks": {"pricebook": samples.pricebook()},
    }
    assert set(bodies) == set(ENTITIES)
    events = {entity: await accept(webhook, entity, body) for entity, body in bodies.items()}
    await drain()
    await assert_completed(pool)
    for entity, event_id in events.items():
        queue = await pool.fetchrow(
            "SELECT id, zoho_id FROM tds_sync_queue WHERE inbox_event_id = $1", event_id
        )
        log = await pool.fetchval("SELECT outcome FROM tds_sync_logs WHERE queue_id = $1", queue["id"])
        audit = await pool.fetch(
            "SELECT erp_table, inbox_event_id FROM tds_audit_trail WHERE queue_id = $1", queue["id"]
        )
        assert log == "completed", entity
        assert {r["erp_table"] for r in audit} == {ENTITIES[entity].table}, entity
        assert {r["inbox_event_id"] for r in audit} == {event_id}
        count = await pool.fetchval(
            f"SELECT count(*) FROM {ENTITIES[entity].table} WHERE "
            f"{'item_zoho_id' if entity == 'stock' else 'zoho_id'} = $1",
            queue["zoho_id"],
        )
        assert count >= 1, entity
