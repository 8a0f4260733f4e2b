"""The simulator answers as the recordings of the real API show (reference section 10).

Each test names the recorded fact it checks: the ``x-rate-limit-*`` headers and the quota's
reset at the organization's midnight, the echoed (and possibly ignored) sort, inactive records
hidden by a default filter, creates answering 201, ``page_context`` without totals, no
``null`` and money with 2 decimals, scopes refused with the same 401 code 57.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from tds_core.simulator import Store
from tds_core.simulator.app import create_app
from tds_core.simulator.config import SimulatorConfig
from tds_core.simulator.endpoints import BY_PATH
from tds_core.simulator.listing import default_filter
from tests.simulator_support import UNLIMITED, Factory, simulators

ORG_MIDNIGHT_UTC = datetime(2024, 1, 15, 18, 30, tzinfo=UTC)  # 00:00 in Asia/Kolkata (+0530)


@pytest.fixture
async def make() -> AsyncIterator[Factory]:
    async with simulators() as factory:
        yield factory


# -- quota headers and the organization's day ------------------------------------------------


async def test_answers_carry_the_rate_limit_headers(make: Factory) -> None:
    sim = await make(records=3, daily_request_limit=1000, requests_per_minute=10**9)
    first = await sim.get("/books/v3/invoices")
    second = await sim.get(f"/books/v3/invoices/{sim.store.ids('invoices')[0]}")
    assert first.headers["x-rate-limit-limit"] == "1000"
    assert int(first.headers["x-rate-limit-remaining"]) - 1 == int(second.headers["x-rate-limit-remaining"])
    # the clock is 2024-01-15 04:50:30 UTC = 10:20:30 in Kolkata: midnight there is 13:39:30 away
    assert first.headers["x-rate-limit-reset"] == str(13 * 3600 + 39 * 60 + 30)
    missing = await sim.get("/books/v3/invoices/460000000099999")
    assert missing.status_code == 404 and "x-rate-limit-remaining" in missing.headers


async def test_the_daily_quota_resets_at_the_organizations_midnight_not_utcs(make: Factory) -> None:
    sim = await make(records=2, daily_request_limit=2, requests_per_minute=10**9)
    for _ in range(2):
        assert (await sim.get("/books/v3/items")).status_code == 200
    refused = await sim.get("/books/v3/items")
    assert (refused.status_code, refused.json()["code"]) == (429, 45)
    sim.clock.set(ORG_MIDNIGHT_UTC.replace(minute=29, second=59))  # 23:59:59 in Kolkata, 18:29 UTC
    await sim.login()  # the morning's token has expired; minting costs no API call
    assert (await sim.get("/books/v3/items")).status_code == 429
    sim.clock.set(ORG_MIDNIGHT_UTC)  # a new day in Kolkata, still the same UTC day
    fresh = await sim.get("/books/v3/items")
    assert fresh.status_code == 200
    assert fresh.headers["x-rate-limit-remaining"] == "1"
    assert fresh.headers["x-rate-limit-reset"] == str(24 * 3600)


def test_the_store_and_the_config_must_share_the_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        create_app(Store(1, time_zone="Europe/Berlin"), config=SimulatorConfig(time_zone="Asia/Kolkata"))


# -- lists ---------------------------------------------------------------------------------


async def test_lists_echo_the_sort_they_applied(make: Factory) -> None:
    sim = await make(records=20, **UNLIMITED)
    asked = await sim.ok("/books/v3/contacts", sort_column="last_modified_time", sort_order="D")
    assert (asked["page_context"]["sort_column"], asked["page_context"]["sort_order"]) == (
        "last_modified_time",
        "D",
    )
    default = await sim.ok("/books/v3/invoices")
    assert (default["page_context"]["sort_column"], default["page_context"]["sort_order"]) == (
        "created_time",
        "D",
    )


async def test_ignore_sort_applies_and_echoes_the_default_order(make: Factory) -> None:
    sim = await make(records=20, ignore_sort=True, **UNLIMITED)
    body = await sim.ok("/books/v3/contacts", sort_column="last_modified_time", sort_order="D")
    context = body["page_context"]
    assert (context["sort_column"], context["sort_order"]) == ("contact_name", "A")
    names = [row["contact_name"].casefold() for row in body["contacts"]]
    assert names == sorted(names)


async def test_inactive_records_are_hidden_without_filter_by(make: Factory) -> None:
    sim = await make(records=60, **UNLIMITED)
    for path, key in (("/books/v3/contacts", "contacts"), ("/books/v3/items", "items")):
        default = await sim.ok(path)
        everything = await sim.ok(path, filter_by="Status.All")
        assert default["page_context"]["applied_filter"] == "Status.Active"
        assert {row["status"] for row in default[key]} == {"active"}
        assert "inactive" in {row["status"] for row in everything[key]}, path
    shown = await make(records=60, hide_inactive_by_default=False, **UNLIMITED)
    assert (await shown.ok("/books/v3/contacts"))["page_context"]["applied_filter"] == "Status.All"
    config = SimulatorConfig(hide_inactive_by_default=False)
    assert default_filter(BY_PATH[("books", "items")], config) == "Status.All"


async def test_page_context_has_no_total(make: Factory) -> None:
    sim = await make(records=5)
    for path in ("/books/v3/invoices", "/books/v3/contacts", "/inventory/v1/items"):
        context = (await sim.ok(path))["page_context"]
        assert not {key for key in context if "total" in key or "count" in key}, (path, context)
        assert {"page", "per_page", "has_more_page", "applied_filter", "sort_column", "sort_order"} <= set(
            context
        )


# -- the JSON itself -----------------------------------------------------------------------


async def test_no_null_and_money_with_two_decimals(make: Factory) -> None:
    sim = await make(records=30, **UNLIMITED)
    for path in ("/books/v3/invoices", "/books/v3/items", "/books/v3/contacts", "/inventory/v1/items"):
        text = (await sim.get(path, filter_by="Status.All")).text
        assert "null" not in text, path
        for match in re.finditer(r'"(total|rate|balance)":(-?[0-9.]+)', text):
            assert re.fullmatch(r"-?[0-9]+\.[0-9]{2}", match.group(2)), (path, match.group(0))
    stock = (await sim.get("/inventory/v1/items", filter_by="Status.All")).text
    assert re.search(r'"stock_on_hand":-?[0-9]+\.[0-9]{6}[,}]', stock)
    items = (await sim.ok("/inventory/v1/items", filter_by="Status.All"))["items"]
    assert any(row.get("purchase_rate") == "" or row.get("reorder_level") == "" for row in items)
    services = [row for row in items if row.get("product_type") == "service"]
    assert services and all("stock_on_hand" not in row for row in services)


# -- writes --------------------------------------------------------------------------------


async def test_a_create_answers_201_and_writes_answer_prose(make: Factory) -> None:
    sim = await make(records=3, **UNLIMITED)
    headers = {"Authorization": f"Zoho-oauthtoken {sim.token}"}
    params = {"organization_id": sim.config.organization_id}
    created = await sim.http.post(
        "/books/v3/contacts", params=params, headers=headers, json={"contact_name": "Acme Recorded"}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["code"], body["message"]) == (0, "The contact has been added.")
    contact_id = body["contact"]["contact_id"]
    assert sim.store.get("contacts", contact_id)["contact_name"] == "Acme Recorded"
    saved = await sim.http.put(
        f"/books/v3/contacts/{contact_id}", params=params, headers=headers, json={"contact_name": "Acme 2"}
    )
    assert saved.status_code == 200 and saved.json()["contact"]["contact_name"] == "Acme 2"
    deleted = await sim.http.delete(f"/books/v3/contacts/{contact_id}", params=params, headers=headers)
    assert deleted.json() == {"code": 0, "message": "The customer has been deleted."}
    gone = await sim.get(f"/books/v3/contacts/{contact_id}")
    assert (gone.status_code, gone.json()["code"]) == (404, 1002)
    again = await sim.http.delete(f"/books/v3/contacts/{contact_id}", params=params, headers=headers)
    assert (again.status_code, again.json()["code"]) == (404, 1002)


# -- scopes --------------------------------------------------------------------------------


async def test_a_missing_scope_is_the_same_401_code_57_as_an_expired_token(make: Factory) -> None:
    sim = await make(
        records=3, granted_scopes=frozenset({"ZohoBooks.invoices.READ", "ZohoBooks.contacts.ALL"})
    )
    assert (await sim.get("/books/v3/invoices")).status_code == 200
    assert (await sim.get("/books/v3/contacts")).status_code == 200  # .ALL covers READ
    refused = await sim.get("/books/v3/bills")
    assert refused.status_code == 401
    assert refused.json() == {"code": 57, "message": "You are not authorized to perform this operation"}
    full = await make(records=3, granted_scopes=frozenset({"ZohoBooks.fullaccess.all"}))
    assert (await full.get("/books/v3/bills")).status_code == 200
