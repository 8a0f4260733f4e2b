"""The core pipeline end to end, in process: webhook → inbox + queue → worker → ERP."""

from __future__ import annotations

from typing import Any

import httpx

INVOICE = {
    "invoice_id": "460000000091001",
    "invoice_number": "INV-000123",
    "date": "2024-01-15",
    "status": "sent",
    "customer_id": "460000000026049",
    "total": 240.0,
    "last_modified_time": "2024-01-15T10:20:30+0530",
    "line_items": [
        {
            "line_item_id": "L1",
            "item_id": "460000000054135",
            "quantity": 10,
            "rate": 12.5,
            "item_total": 125.0,
        },
        {"line_item_id": "L2", "item_id": "460000000054199", "quantity": 1, "rate": 75.0, "item_total": 75.0},
    ],
}


async def post(client: httpx.AsyncClient, key: str, entity: str, body: Any, **kwargs: Any) -> httpx.Response:
    return await client.post(
        f"/api/v1/webhooks/zoho/{entity}", json=body, headers={"X-TDS-Key": key}, **kwargs
    )


async def test_invoice_with_line_items_is_applied(
    client: httpx.AsyncClient, api_key: str, pool: Any, drain: Any
) -> None:
    response = await post(client, api_key, "invoices", {"invoice": INVOICE})
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    await drain()
    row = await pool.fetchrow("SELECT * FROM invoices WHERE zoho_id = $1", INVOICE["invoice_id"])
    assert row["invoice_number"] == "INV-000123"
    assert str(row["total"]) == "240.0"
    lines = await pool.fetch(
        "SELECT line_item_id, quantity FROM invoice_line_items WHERE invoice_zoho_id = $1 ORDER BY 1",
        INVOICE["invoice_id"],
    )
    assert [(r["line_item_id"], float(r["quantity"])) for r in lines] == [("L1", 10.0), ("L2", 1.0)]
    audit = await pool.fetch("SELECT action FROM tds_audit_trail WHERE zoho_id = $1", INVOICE["invoice_id"])
    assert [r["action"] for r in audit] == ["insert"]
    state = await pool.fetchval("SELECT status::text FROM tds_sync_queue")
    assert state == "completed"
