"""Simulator: pagination, the documented filters and sort columns, and what happens to others.

Choices where the reference is silent (see ``tds_core.simulator.listing``): a filter an
endpoint does not document is ignored (the full list comes back); a ``sort_column`` it does
not document is refused with 400 code 2 (or ignored, when configured so).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from tds_core.simulator.clock import format_zoho_time, parse_zoho_time
from tests.simulator_support import UNLIMITED, Factory, simulators

ALL = {"filter_by": "Status.All"}
LISTS = [
    ("/books/v3/items", "items", "item_id", "items", ALL),
    ("/books/v3/contacts", "contacts", "contact_id", "contacts", {"filter_by": "Status.All"}),
    ("/books/v3/invoices", "invoices", "invoice_id", "invoices", {}),
    ("/books/v3/bills", "bills", "bill_id", "bills", {}),
    ("/books/v3/creditnotes", "creditnotes", "creditnote_id", "creditnotes", {}),
    ("/inventory/v1/items", "items", "item_id", "items", ALL),
    ("/inventory/v1/pricebooks", "pricebooks", "pricebook_id", "pricebooks", {}),
]
MONEY_AND_DATES = ("date", "due_date", "total", "balance", "created_time")
SORTS = {
    "/books/v3/items": ("name", "rate", "tax_name"),
    "/books/v3/contacts": (
        "contact_name",
        "first_name",
        "last_name",
        "email",
        "outstanding_receivable_amount",
        "created_time",
        "last_modified_time",
    ),
    "/books/v3/invoices": (
        "customer_name",
        "invoice_number",
        "date",
        "due_date",
        "total",
        "balance",
        "created_time",
    ),
    "/books/v3/bills": ("vendor_name", "bill_number", "date", "due_date", "total", "balance", "created_time"),
    "/books/v3/creditnotes": (
        "customer_name",
        "creditnote_number",
        "balance",
        "total",
        "date",
        "created_time",
    ),
    "/inventory/v1/items": (
        "name",
        "sku",
        "rate",
        "purchase_rate",
        "created_time",
        "last_modified_time",
        "reorder_level",
        "stock_on_hand",
    ),
}
KEYS = {path: key for path, key, *_ in LISTS}
ID_FIELDS = {path: id_field for path, _, id_field, *_ in LISTS}


@pytest.fixture
async def make() -> AsyncIterator[Factory]:
    async with simulators() as factory:
        yield factory


def ordered(values: list[Any], column: str) -> list[Any]:
    """Values as comparable keys: timestamps by instant, numbers as numbers, text without case."""
    keys: list[Any] = []
    for value in values:
        if value in (None, ""):
            keys.append((0, ""))
        elif column.endswith("_time"):
            keys.append((1, parse_zoho_time(value).timestamp()))
        elif isinstance(value, int | float):
            keys.append((1, float(value)))
        else:
            keys.append((2, str(value).casefold()))
    return keys


# -- pagination ----------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "key", "id_field", "module", "params"), LISTS)
async def test_pages_until_has_more_page_is_false(
    make: Factory, path: str, key: str, id_field: str, module: str, params: dict[str, str]
) -> None:
    sim = await make(records=450, **UNLIMITED)
    first = await sim.ok(path, **params)
    assert first["page_context"]["per_page"] == 200
    assert len(first[key]) == 200
    assert first["page_context"]["has_more_page"] is True
    rows, pages = await sim.pages(path, key, **params)
    assert pages == 3
    ids = [row[id_field] for row in rows]
    assert len(ids) == len(set(ids)) == 450  # no overlap, no gap
    assert set(ids) == set(sim.store.ids(module))


async def test_per_page_is_capped_at_200(make: Factory) -> None:
    sim = await make(records=450, **UNLIMITED)
    body = await sim.ok("/books/v3/invoices", per_page=500)
    assert body["page_context"]["per_page"] == 200
    assert len(body["invoices"]) == 200
    rows, pages = await sim.pages("/books/v3/invoices", "invoices", per_page=50)
    assert (len(rows), pages) == (450, 9)


async def test_a_page_past_the_end_is_empty(make: Factory) -> None:
    sim = await make(records=5)
    body = await sim.ok("/books/v3/bills", page=3)
    assert body["bills"] == []
    assert body["page_context"] == {**body["page_context"], "page": 3, "has_more_page": False}


@pytest.mark.parametrize(("name", "value"), [("page", "0"), ("page", "two"), ("per_page", "-1")])
async def test_malformed_paging_is_refused(make: Factory, name: str, value: str) -> None:
    sim = await make(records=2)
    response = await sim.get("/books/v3/invoices", **{name: value})
    assert response.status_code == 400
    assert response.json() == {"code": 2, "message": f"Invalid value passed for {name}"}


# -- last_modified_time --------------------------------------------------------------------


def modified(rows: list[dict[str, Any]]) -> list[datetime]:
    return [parse_zoho_time(row["last_modified_time"]) for row in rows]


def modified_ids(sim: Any, module: str, keep: Any) -> set[str]:
    """Ids of the store's records whose version passes ``keep``."""
    id_field = {"items": "item_id", "invoices": "invoice_id", "bills": "bill_id"}[module]
    return {r[id_field] for r in sim.store.records(module) if keep(parse_zoho_time(r["last_modified_time"]))}


async def pivot(sim: Any, module: str) -> tuple[datetime, str]:
    """A version held by exactly one record, and that version's text."""
    record = sorted(sim.store.records(module), key=lambda r: r["last_modified_time"])[10]
    return parse_zoho_time(record["last_modified_time"]), record["last_modified_time"]


async def test_invoices_filter_is_modified_after(make: Factory) -> None:
    sim = await make(records=40)
    cut, text = await pivot(sim, "invoices")
    rows, _ = await sim.pages("/books/v3/invoices", "invoices", last_modified_time=text)
    assert rows and all(moment > cut for moment in modified(rows))
    expected = {
        r["invoice_id"]
        for r in sim.store.records("invoices")
        if parse_zoho_time(r["last_modified_time"]) > cut
    }
    assert {row["invoice_id"] for row in rows} == expected


async def test_bills_filter_is_at_or_after(make: Factory) -> None:
    sim = await make(records=40)
    cut, text = await pivot(sim, "bills")
    rows, _ = await sim.pages("/books/v3/bills", "bills", last_modified_time=text)
    assert cut in modified(rows)
    expected = {
        r["bill_id"] for r in sim.store.records("bills") if parse_zoho_time(r["last_modified_time"]) >= cut
    }
    assert {row["bill_id"] for row in rows} == expected


async def test_inventory_items_filter_is_modified_after_in_any_offset(make: Factory) -> None:
    sim = await make(records=40)
    cut, _ = await pivot(sim, "items")
    as_utc = cut.strftime("%Y-%m-%dT%H:%M:%SZ")  # the Inventory doc writes yyyy-MM-ddTHH:mm:ssZ
    rows, _ = await sim.pages("/inventory/v1/items", "items", last_modified_time=as_utc, **ALL)
    expected = {
        r["item_id"] for r in sim.store.records("items") if parse_zoho_time(r["last_modified_time"]) > cut
    }
    assert {row["item_id"] for row in rows} == expected


@pytest.mark.parametrize(
    ("path", "params"),
    [("/books/v3/items", ALL), ("/books/v3/contacts", {}), ("/books/v3/creditnotes", {})],
)
async def test_undocumented_last_modified_time_filters_are_ignored(
    make: Factory, path: str, params: dict[str, str]
) -> None:
    sim = await make(records=30)
    everything, _ = await sim.pages(path, KEYS[path], **params)
    future = format_zoho_time(sim.clock().replace(year=2099), sim.store.zone)
    filtered, _ = await sim.pages(path, KEYS[path], last_modified_time=future, **params)
    assert filtered == everything
    assert len(everything) > 0


async def test_changes_after_a_watermark_show_up_in_the_filter(make: Factory) -> None:
    sim = await make(records=30)
    watermark = format_zoho_time(sim.clock(), sim.store.zone)
    assert (await sim.ok("/books/v3/invoices", last_modified_time=watermark))["invoices"] == []
    sim.clock.advance(5)
    changed = sim.store.update("invoices", sim.store.ids("invoices")[3])
    created = sim.store.create("invoices")
    sim.store.delete("invoices", sim.store.ids("invoices")[0])  # deletes are invisible to polling
    rows = (await sim.ok("/books/v3/invoices", last_modified_time=watermark))["invoices"]
    assert {row["invoice_id"] for row in rows} == {changed["invoice_id"], created["invoice_id"]}


async def test_an_unencoded_plus_is_refused(make: Factory) -> None:
    sim = await make(records=5)
    query = f"organization_id={sim.config.organization_id}&last_modified_time=2024-01-15T10:20:30+0530"
    url = f"/books/v3/invoices?{query}"
    response = await sim.http.get(url, headers={"Authorization": f"Zoho-oauthtoken {sim.token}"})
    assert response.status_code == 400
    assert response.json() == {"code": 2, "message": "Invalid value passed for last_modified_time"}
    encoded = await sim.get("/books/v3/invoices", last_modified_time="2024-01-15T10:20:30+0530")
    assert encoded.status_code == 200  # httpx sends the '+' as %2B


# -- sorting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "column"), [(path, column) for path, columns in SORTS.items() for column in columns]
)
async def test_documented_sort_columns(make: Factory, path: str, column: str) -> None:
    sim = await make(records=60)
    params = ALL if path.endswith("/items") else {}
    for order in ("A", "D"):
        body = await sim.ok(path, sort_column=column, sort_order=order, **params)
        rows = body[KEYS[path]]
        assert body["page_context"]["sort_column"] == column
        assert body["page_context"]["sort_order"] == order
        keys = ordered([row.get(column) for row in rows], column)
        assert keys == sorted(keys, reverse=order == "D"), f"{path} by {column} {order}"


async def test_contacts_sort_by_last_modified_time_descending(make: Factory) -> None:
    sim = await make(records=30)
    sim.clock.advance(10)
    newest = sim.store.update("contacts", sim.store.ids("contacts")[7])
    rows = (await sim.ok("/books/v3/contacts", sort_column="last_modified_time", sort_order="D"))["contacts"]
    assert rows[0]["contact_id"] == newest["contact_id"]
    assert modified(rows) == sorted(modified(rows), reverse=True)


@pytest.mark.parametrize(
    ("path", "column"),
    [
        ("/books/v3/invoices", "last_modified_time"),
        ("/books/v3/bills", "last_modified_time"),
        ("/books/v3/items", "sku"),
        ("/books/v3/creditnotes", "last_modified_time"),
        ("/inventory/v1/pricebooks", "name"),
    ],
)
async def test_undocumented_sort_columns_are_refused(make: Factory, path: str, column: str) -> None:
    sim = await make(records=3)
    response = await sim.get(path, sort_column=column)
    assert response.status_code == 400
    assert response.json() == {"code": 2, "message": "Invalid value passed for sort_column"}


async def test_undocumented_sort_columns_can_be_ignored_instead(make: Factory) -> None:
    sim = await make(records=10, undocumented_sort_column="ignore")
    body = await sim.ok("/books/v3/invoices", sort_column="last_modified_time")
    assert body["page_context"]["sort_column"] == "created_time"  # the default order was used
    assert len(body["invoices"]) == 10


async def test_sort_order_must_be_a_or_d(make: Factory) -> None:
    sim = await make(records=3)
    response = await sim.get("/books/v3/contacts", sort_column="contact_name", sort_order="ascending")
    assert response.status_code == 400
    assert response.json()["code"] == 2


@pytest.mark.parametrize(
    ("path", "column", "order"),
    [
        ("/books/v3/items", "name", "A"),
        ("/books/v3/contacts", "contact_name", "A"),
        ("/books/v3/invoices", "created_time", "D"),
        ("/books/v3/bills", "created_time", "D"),
        ("/books/v3/creditnotes", "created_time", "D"),
        ("/inventory/v1/items", "name", "A"),
    ],
)
async def test_default_order(make: Factory, path: str, column: str, order: str) -> None:
    sim = await make(records=30)
    body = await sim.ok(path)
    assert (body["page_context"]["sort_column"], body["page_context"]["sort_order"]) == (column, order)
    keys = ordered([row.get(column) for row in body[KEYS[path]]], column)
    assert keys == sorted(keys, reverse=order == "D")


# -- filter_by and exact-match filters -----------------------------------------------------


@pytest.mark.parametrize("path", ["/books/v3/items", "/inventory/v1/items"])
async def test_items_list_active_ones_unless_filter_by_says_otherwise(make: Factory, path: str) -> None:
    sim = await make(records=60)
    statuses = {r["item_id"]: r["status"] for r in sim.store.records("items")}
    assert "inactive" in statuses.values()
    default = await sim.ok(path)
    assert default["page_context"]["applied_filter"] == "Status.Active"
    assert {row["item_id"] for row in default["items"]} == {i for i, s in statuses.items() if s == "active"}
    inactive = (await sim.ok(path, filter_by="Status.Inactive"))["items"]
    assert {row["item_id"] for row in inactive} == {i for i, s in statuses.items() if s == "inactive"}
    everything = await sim.ok(path, filter_by="Status.All")
    assert everything["page_context"]["applied_filter"] == "Status.All"
    assert len(everything["items"]) == len(statuses)


async def test_unknown_filter_by_values_are_refused(make: Factory) -> None:
    sim = await make(records=3)
    response = await sim.get("/books/v3/items", filter_by="Status.Everything")
    assert response.status_code == 400
    assert response.json() == {"code": 2, "message": "Invalid value passed for filter_by"}


async def test_document_status_filters(make: Factory) -> None:
    sim = await make(records=60)
    paid = (await sim.ok("/books/v3/invoices", filter_by="Status.Paid"))["invoices"]
    assert paid and {row["status"] for row in paid} == {"paid"}
    unpaid = (await sim.ok("/books/v3/invoices", status="unpaid"))["invoices"]
    assert unpaid and {row["status"] for row in unpaid} <= {"sent", "overdue", "partially_paid"}
    open_bills = (await sim.ok("/books/v3/bills", filter_by="Status.Open"))["bills"]
    assert open_bills and {row["status"] for row in open_bills} == {"open"}
    vendors = (await sim.ok("/books/v3/contacts", contact_type="vendor"))["contacts"]
    assert vendors and {row["contact_type"] for row in vendors} == {"vendor"}
    vendor_id = vendors[0]["contact_id"]
    bills = (await sim.ok("/books/v3/bills", vendor_id=vendor_id))["bills"]
    assert {row["vendor_id"] for row in bills} <= {vendor_id}
    purchases = await sim.ok("/inventory/v1/pricebooks", filter_by="SalesOrPurchaseType.Purchases")
    assert {row["sales_or_purchase_type"] for row in purchases["pricebooks"]} <= {"purchases"}
