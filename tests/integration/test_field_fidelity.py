"""Every column the ERP promises, filled the way the real API sends it (reference section 10).

- A contact's e-mail, phone, mobile, first and last name: the top level, else the primary
  contact person's (``contact_persons[]`` on a GET, ``contact_persons_details[]`` in a webhook).
- ``""`` is NULL; a record that does not carry a column (a list row, a partial webhook) keeps
  the ERP's value instead of blanking it.
- An invoice's signed ``invoice_url`` changes on every call: it is not a change.
"""

from __future__ import annotations

from typing import Any

from .conftest import Send
from .test_entities import accept

PEOPLE = [
    {
        "contact_person_id": "460000000026051",
        "first_name": "Ana",
        "last_name": "Garcia",
        "email": "ana.garcia@bowman.example",
        "phone": "+1-555-0101",
        "mobile": "+1-555-0199",
        "is_primary_contact": False,
    },
    {
        "contact_person_id": "460000000026052",
        "first_name": "Will",
        "last_name": "Smith",
        "email": "will.smith@bowman.example",
        "phone": "+1-555-0202",
        "mobile": "+1-555-0299",
        "is_primary_contact": True,
    },
]


def contact(version: str = "2024-01-10T08:01:44+0100", **fields: Any) -> dict[str, Any]:
    record = {
        "contact_id": "460000000026049",
        "contact_name": "Bowman and Co",
        "company_name": "Bowman and Co",
        "contact_type": "customer",
        "status": "active",
        "currency_code": "USD",
        "credit_limit": 1000,
        "pricebook_id": "460000000000123",
        "email": "",
        "phone": "",
        "mobile": "",
        "first_name": "",
        "last_name": "",
        "last_modified_time": version,
    }
    return {**record, **fields}


async def customer(pool: Any) -> Any:
    return await pool.fetchrow("SELECT * FROM customers WHERE zoho_id = '460000000026049'")


PERSON_COLUMNS = ("email", "phone", "mobile", "first_name", "last_name")


async def test_a_get_shaped_contact_takes_its_people_from_the_primary_contact_person(
    webhook: Send, pool: Any, drain: Any
) -> None:
    await accept(webhook, "contacts", {"contact": contact(contact_persons=PEOPLE)}, event="updated")
    await drain()
    row = await customer(pool)
    assert tuple(row[c] for c in PERSON_COLUMNS) == (
        "will.smith@bowman.example",
        "+1-555-0202",
        "+1-555-0299",
        "Will",
        "Smith",
    )


async def test_a_webhook_contact_takes_them_from_contact_persons_details(
    webhook: Send, pool: Any, drain: Any
) -> None:
    details = [
        {
            "contact_person_id": "460000000026052",
            "first_name": "Will",
            "last_name": "Smith",
            "contact_person_email": "will@bowman.example",
            "phone": "",
            "mobile": "+1-555-0299",
            "is_primary_contact": True,
        }
    ]
    body = contact(contact_persons=["460000000026052"], contact_persons_details=details, phone="+1-555-7777")
    await accept(webhook, "contacts", {"contact": body}, event="updated")
    await drain()
    row = await customer(pool)
    # the top level wins where it is set (phone); the primary person fills the rest
    assert tuple(row[c] for c in PERSON_COLUMNS) == (
        "will@bowman.example",
        "+1-555-7777",
        "+1-555-0299",
        "Will",
        "Smith",
    )


async def test_no_people_and_empty_strings_are_null(webhook: Send, pool: Any, drain: Any) -> None:
    await accept(
        webhook, "contacts", {"contact": contact(contact_persons=[], credit_limit="")}, event="updated"
    )
    await drain()
    row = await customer(pool)
    assert [row[c] for c in (*PERSON_COLUMNS, "credit_limit")] == [None] * 6


async def test_a_list_row_never_blanks_what_a_detail_row_set(webhook: Send, pool: Any, drain: Any) -> None:
    await accept(webhook, "contacts", {"contact": contact(contact_persons=PEOPLE)}, event="updated")
    await drain()
    # a later list row: no contact_persons, no credit_limit or pricebook_id keys at all
    row = contact("2024-01-11T08:01:44+0100", email="will.smith@bowman.example", status="inactive")
    for absent in ("credit_limit", "pricebook_id", "mobile", "first_name", "last_name"):
        del row[absent]
    await accept(webhook, "contacts", {"contact": row}, event="updated")
    await drain()
    after = await customer(pool)
    assert after["status"] == "inactive"  # what the row carries is applied
    assert after["credit_limit"] == 1000 and after["pricebook_id"] == "460000000000123"
    assert (after["mobile"], after["first_name"], after["last_name"]) == ("+1-555-0299", "Will", "Smith")
    assert after["phone"] is None  # carried as "": Zoho says it is empty now


async def test_a_new_signed_invoice_url_alone_is_not_a_change(webhook: Send, pool: Any, drain: Any) -> None:
    invoice = {
        "invoice_id": "982000000567114",
        "invoice_number": "INV-00003",
        "status": "sent",
        "customer_id": "460000000026049",
        "total": 100,
        "line_items": [],
        "last_modified_time": "2024-01-10T08:01:44+0100",
    }
    first = {**invoice, "invoice_url": "https://books.zoho.com/SecurePayment?CInvoiceID=abc&sig=1 "}
    again = {**invoice, "invoice_url": "https://books.zoho.com/SecurePayment?CInvoiceID=abc&sig=2 "}
    await accept(webhook, "invoices", {"invoice": first}, event="updated")
    response = await webhook("invoices", {"invoice": again}, event="updated")
    # the same content: a duplicate (the content hash, which is also the idempotency key,
    # leaves the signed link out), not a second update
    assert response.json()["status"] == "duplicate", response.text
    await drain()
    states = await pool.fetch("SELECT status::text AS s FROM tds_sync_queue ORDER BY id")
    assert [r["s"] for r in states] == ["completed"]
