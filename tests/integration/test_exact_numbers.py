"""Amounts and quantities keep the exact decimal Zoho sent, from the webhook body through the
inbox and the queue payload into the ERP's numeric columns (issue 16, item 9: a JSON number
was read as a double, and ``18446744073709551616`` was stored as ``18446744073709552000``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .conftest import Send

BIG = "18446744073709551616"  # 2**64: beyond a double's 53 bits and orjson's 64-bit integers
CENTS = "12345678901234567.89"  # 19 significant digits
TINY = "0.1000000000000000055511151231257827"

ITEM = (
    '{"item": {"item_id": "460000000099001", "name": "Exact", "status": "active",'
    f' "rate": {BIG}, "purchase_rate": {CENTS}, "stock_on_hand": 3,'
    ' "last_modified_time": "2024-03-01T10:00:00+0530"}}'
)
INVOICE = (
    '{"invoice": {"invoice_id": "460000000099002", "invoice_number": "INV-EXACT",'
    ' "customer_id": "460000000026049", "status": "sent", "date": "2024-03-01",'
    f' "exchange_rate": {TINY}, "sub_total": {CENTS}, "total": {CENTS}, "balance": 0.00,'
    ' "last_modified_time": "2024-03-01T10:00:00+0530",'
    f' "line_items": [{{"line_item_id": "L1", "item_id": "460000000099001", "rate": {CENTS},'
    f' "quantity": {TINY}, "item_total": {BIG}}}]}}}}'
)


async def test_long_numbers_reach_the_erp_digit_for_digit(webhook: Send, pool: Any, drain: Any) -> None:
    for entity, body in (("items", ITEM), ("invoices", INVOICE)):
        response = await webhook(entity, content=body.encode(), headers={"Content-Type": "application/json"})
        assert response.status_code == 202, response.text
    await drain()
    product = await pool.fetchrow("SELECT * FROM products WHERE zoho_id = '460000000099001'")
    assert (product["rate"], product["purchase_rate"]) == (Decimal(BIG), Decimal(CENTS))
    # the stored copy of the record (jsonb) holds the same digits, read back exactly too
    assert (product["data"]["rate"], product["data"]["purchase_rate"]) == (Decimal(BIG), Decimal(CENTS))
    invoice = await pool.fetchrow("SELECT * FROM invoices WHERE zoho_id = '460000000099002'")
    assert (invoice["exchange_rate"], invoice["total"], invoice["balance"]) == (
        Decimal(TINY),
        Decimal(CENTS),
        Decimal("0.00"),
    )
    line = await pool.fetchrow("SELECT * FROM invoice_line_items WHERE invoice_zoho_id = '460000000099002'")
    assert (line["rate"], line["quantity"], line["item_total"]) == (
        Decimal(CENTS),
        Decimal(TINY),
        Decimal(BIG),
    )
    payload = await pool.fetchval(
        "SELECT payload::text FROM tds_sync_queue WHERE zoho_id = '460000000099001'"
    )
    assert BIG in payload and CENTS in payload, payload


async def test_a_resent_body_with_long_numbers_is_a_duplicate(webhook: Send, pool: Any) -> None:
    """The content hash is taken over the exact numbers: the same text hashes the same."""
    answers = [
        await webhook("items", content=ITEM.encode(), headers={"Content-Type": "application/json"})
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [202, 202]
    assert [a.json()["status"] for a in answers] == ["queued", "duplicate"], [a.text for a in answers]
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_queue") == 1
