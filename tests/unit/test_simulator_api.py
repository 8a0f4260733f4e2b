"""Simulator: authentication, organization, envelope, 404s, the 429 limits and fault switches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.simulator_support import ORG, UNLIMITED, Factory, GateSleep, simulators

UNAUTHORIZED = {"code": 57, "message": "You are not authorized to perform this operation"}

ENDPOINTS = [
    ("/books/v3/items", "items", "item", "item_id"),
    ("/books/v3/contacts", "contacts", "contact", "contact_id"),
    ("/books/v3/invoices", "invoices", "invoice", "invoice_id"),
    ("/books/v3/bills", "bills", "bill", "bill_id"),
    ("/books/v3/creditnotes", "creditnotes", "creditnote", "creditnote_id"),
    ("/inventory/v1/items", "items", "item", "item_id"),
    ("/inventory/v1/pricebooks", "pricebooks", "pricebook", "pricebook_id"),
]


@pytest.fixture
async def make() -> AsyncIterator[Factory]:
    async with simulators() as factory:
        yield factory


# -- authentication and organization -----------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    ["Bearer {token}", "zoho-oauthtoken {token}", "Zoho-oauthtoken", "Zoho-oauthtoken 1000.made.up"],
)
async def test_calls_need_a_live_zoho_oauthtoken(make: Factory, authorization: str | None) -> None:
    sim = await make()
    headers = {} if authorization is None else {"Authorization": authorization.format(token=sim.token)}
    response = await sim.http.get("/books/v3/invoices", params={"organization_id": ORG}, headers=headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


async def test_a_call_without_authorization_is_code_14(make: Factory) -> None:
    sim = await make()
    response = await sim.http.get("/books/v3/invoices", params={"organization_id": ORG})
    assert response.status_code == 401
    assert response.json()["code"] == 14  # reference section 10: no Authorization header


async def test_calls_need_the_organization_id(make: Factory) -> None:
    sim = await make()
    missing = await sim.get("/books/v3/invoices", org=None)
    assert missing.status_code == 400
    assert missing.json() == {"code": 2, "message": "Invalid value passed for organization_id"}
    other = await sim.get("/books/v3/invoices", org="99999999")
    assert other.status_code == 401
    assert other.json() == UNAUTHORIZED
    assert (await sim.get("/books/v3/invoices")).status_code == 200


# -- envelope and 404 ----------------------------------------------------------------------


@pytest.mark.parametrize(("path", "list_key", "record_key", "id_field"), ENDPOINTS)
async def test_envelope_of_lists_and_records(
    make: Factory, path: str, list_key: str, record_key: str, id_field: str
) -> None:
    sim = await make(records=5)
    body = await sim.ok(path)
    assert set(body) == {"code", "message", list_key, "page_context"}
    assert set(body["page_context"]) >= {
        "page",
        "per_page",
        "has_more_page",
        "report_name",
        "applied_filter",
        "sort_column",
        "sort_order",
    }
    record_id = body[list_key][0][id_field]
    assert record_id.isdigit() and len(record_id) == 15  # a numeric string, like Zoho's ids
    one = await sim.ok(f"{path}/{record_id}")
    assert set(one) == {"code", "message", record_key}
    assert one[record_key][id_field] == record_id


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/books/v3/invoices/460000000000001", "Invoice does not exist."),
        ("/books/v3/items/460000000000001", "Item does not exist."),
        ("/books/v3/contacts/460000000000001", "Contact does not exist."),
        ("/books/v3/bills/460000000000001", "Bill does not exist."),
        ("/books/v3/creditnotes/460000000000001", "Credit Note does not exist."),
        ("/inventory/v1/pricebooks/460000000000001", "Price Book does not exist."),
        ("/books/v3/invoices/not-a-number", "Invoice does not exist."),
        ("/books/v3/estimates", "Invalid URL Passed"),
        ("/books/v3/invoices/1/payments", "Invalid URL Passed"),
    ],
)
async def test_not_found_is_code_1002(make: Factory, path: str, message: str) -> None:
    sim = await make(records=2)
    response = await sim.get(path)
    assert response.status_code == 404
    assert response.json() == {"code": 1002, "message": message}


async def test_deleted_records_vanish_from_get_and_list(make: Factory) -> None:
    sim = await make(records=5)
    invoice_id = sim.store.ids("invoices")[0]
    sim.store.delete("invoices", invoice_id)
    assert (await sim.get(f"/books/v3/invoices/{invoice_id}")).status_code == 404
    rows, _ = await sim.pages("/books/v3/invoices", "invoices")
    assert invoice_id not in {row["invoice_id"] for row in rows}
    assert len(rows) == 4


# -- limits --------------------------------------------------------------------------------


async def test_per_minute_limit_is_429_code_44_without_retry_after(make: Factory) -> None:
    sim = await make(requests_per_minute=5)
    sim.clock.set(sim.clock().replace(second=0))
    for _ in range(5):
        assert (await sim.get("/books/v3/contacts")).status_code == 200
    refused = await sim.get("/books/v3/contacts")
    assert refused.status_code == 429
    assert refused.json()["code"] == 44
    assert "per minute" in refused.json()["message"]
    assert "retry-after" not in refused.headers
    sim.clock.advance(59)
    assert (await sim.get("/books/v3/contacts")).json()["code"] == 44
    sim.clock.advance(1)  # the next calendar minute
    assert (await sim.get("/books/v3/contacts")).status_code == 200


async def test_daily_quota_is_429_code_45(make: Factory) -> None:
    sim = await make(daily_request_limit=3)
    for _ in range(3):
        assert (await sim.get("/books/v3/items")).status_code == 200
        sim.clock.advance(61)
    refused = await sim.get("/books/v3/items")
    assert refused.status_code == 429
    assert refused.json() == {
        "code": 45,
        "message": "The API call for this organization has exceeded the maximum call rate limit of 3.",
    }
    assert "retry-after" not in refused.headers
    sim.clock.advance(24 * 3600)
    await sim.login()  # the access token expired meanwhile
    assert (await sim.get("/books/v3/items")).status_code == 200


async def test_refused_and_unauthenticated_calls_are_not_counted(make: Factory) -> None:
    sim = await make(daily_request_limit=2)
    for _ in range(5):
        assert (await sim.get("/books/v3/items", token=None)).status_code == 401
    assert sim.limits.used_today(ORG) == 0
    assert (await sim.get("/books/v3/items")).status_code == 200
    assert (await sim.get("/books/v3/items")).status_code == 200
    assert (await sim.get("/books/v3/items")).status_code == 429
    assert sim.limits.used_today(ORG) == 2


async def test_more_than_ten_in_flight_is_429_code_1070(make: Factory) -> None:
    gate = GateSleep()
    sim = await make(sleep=gate, **UNLIMITED)
    sim.faults.latency_seconds = 2.5
    slow = [asyncio.create_task(sim.get("/books/v3/items")) for _ in range(10)]
    await gate.until_waiting(10)
    assert sim.limits.in_flight(ORG) == 10
    refused = await sim.get("/books/v3/items")
    assert refused.status_code == 429
    assert refused.json() == {
        "code": 1070,
        "message": "You have reached the maximum number of in process requests allowed."
        " Kindly try again after some time.",
    }
    assert "retry-after" not in refused.headers
    gate.open()
    assert [r.status_code for r in await asyncio.gather(*slow)] == [200] * 10
    assert gate.asked == [2.5] * 10
    assert sim.limits.in_flight(ORG) == 0
    assert (await sim.get("/books/v3/items")).status_code == 200


async def test_concurrency_limit_is_configurable(make: Factory) -> None:
    gate = GateSleep()
    sim = await make(sleep=gate, max_concurrent_requests=5)
    sim.faults.latency_seconds = 1
    slow = [asyncio.create_task(sim.get("/books/v3/items")) for _ in range(5)]
    await gate.until_waiting(5)
    assert (await sim.get("/books/v3/items")).json()["code"] == 1070
    gate.open()
    await asyncio.gather(*slow)


# -- faults --------------------------------------------------------------------------------


async def test_fail_the_next_calls_with_internal_error(make: Factory) -> None:
    sim = await make()
    sim.faults.fail_next(2)
    for _ in range(2):
        failed = await sim.get("/books/v3/bills")
        assert failed.status_code == 500
        assert failed.json() == {"code": 1000, "message": "Internal error"}
    assert (await sim.get("/books/v3/bills")).status_code == 200


# -- shapes the reference calls out --------------------------------------------------------


async def test_credit_notes_say_updated_time_in_get_and_last_modified_time_in_lists(make: Factory) -> None:
    sim = await make(records=3)
    row = (await sim.ok("/books/v3/creditnotes"))["creditnotes"][0]
    assert "last_modified_time" in row and "updated_time" not in row
    record = (await sim.ok(f"/books/v3/creditnotes/{row['creditnote_id']}"))["creditnote"]
    assert "updated_time" in record and "last_modified_time" not in record
    assert record["updated_time"] == row["last_modified_time"]


async def test_books_items_lack_inventory_fields_unless_configured(make: Factory) -> None:
    sim = await make(records=10)
    goods = next(r for r in sim.store.records("items") if r.get("locations") and r["status"] == "active")
    books = (await sim.ok(f"/books/v3/items/{goods['item_id']}"))["item"]
    inventory = (await sim.ok(f"/inventory/v1/items/{goods['item_id']}"))["item"]
    for field in ("last_modified_time", "stock_on_hand", "created_time"):
        assert field not in books
        assert field in inventory
    assert books["locations"] == inventory["locations"]
    wide = await make(records=10, books_items_include_inventory_fields=True)
    item_id = next(r["item_id"] for r in wide.store.records("items") if r.get("locations"))
    assert "last_modified_time" in (await wide.ok(f"/books/v3/items/{item_id}"))["item"]


async def test_contact_top_level_person_fields_are_the_primary_persons(make: Factory) -> None:
    """Reference section 10: top-level e-mail, names and phones are the primary contact
    person's in list rows and GETs alike, "" when there is none; people only on the GET."""
    sim = await make(records=40)
    rows = (await sim.ok("/books/v3/contacts", filter_by="Status.All"))["contacts"]
    with_person = without_person = 0
    for row in rows:
        assert "contact_persons" not in row
        record = (await sim.ok(f"/books/v3/contacts/{row['contact_id']}"))["contact"]
        primary = [p for p in record["contact_persons"] if p["is_primary_contact"]]
        assert len(primary) <= 1
        for field in ("email", "first_name", "last_name", "phone", "mobile"):
            expected = primary[0][field] if primary else ""
            assert record[field] == row[field] == expected, (field, record["contact_id"])
        with_person += bool(primary)
        without_person += not primary
    assert with_person and without_person  # both shapes are simulated


async def test_timestamps_and_dates_use_zoho_formats(make: Factory) -> None:
    sim = await make(records=3)
    invoice = (await sim.ok(f"/books/v3/invoices/{sim.store.ids('invoices')[0]}"))["invoice"]
    assert invoice["last_modified_time"][-5:] == "+0530"
    assert len(invoice["last_modified_time"]) == len("2024-01-15T10:20:30+0530")
    assert len(invoice["date"]) == len("2024-01-15")
    assert invoice["line_items"] and all(line["line_item_id"].isdigit() for line in invoice["line_items"])
