"""A captured signed webhook replays at most into a ``duplicate`` (issue 16, item 2).

``X-Zoho-Webhook-Signature`` covers the query and the body, nothing else. So a signed request
takes its operation only from the signed ``?event=``, and a header that would change what it
does (``X-TDS-Event``, ``X-Idempotency-Key``) is refused (400, kept as ``rejected``), not
obeyed; a signed body must carry Zoho's version (``last_modified_time``), so a replay is never
versioned by its receipt; and a replay as captured is a ``duplicate`` by its content hash.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from . import samples
from .conftest import Send, zoho_signature

INVOICE_ID = "982000000567114"
URL = "/api/v1/webhooks/zoho/invoices"


def capture(record: dict[str, Any], **query: str) -> tuple[bytes, dict[str, str], dict[str, str]]:
    """A request as Zoho signs it: the body, its query and its headers."""
    body = json.dumps({"invoice": record}).encode()
    signature = zoho_signature(list(query.items()), body)
    headers = {"Content-Type": "application/json", "X-Zoho-Webhook-Signature": signature}
    return body, query, headers


async def erp_invoice(pool: Any) -> Any:
    return await pool.fetchrow(
        "SELECT total, deleted_at, source_version FROM invoices WHERE zoho_id = $1", INVOICE_ID
    )


async def test_unsigned_headers_cannot_turn_a_signed_upsert_into_a_delete_or_a_new_event(
    signed_client: httpx.AsyncClient, pool: Any, drain: Any
) -> None:
    record = samples.invoice(total=100.0, last_modified_time="2024-01-15T10:00:00+0530")
    body, query, headers = capture(record)  # an upsert: no ?event=
    first = await signed_client.post(URL, content=body, params=query, headers=headers)
    assert first.status_code == 202 and first.json()["status"] == "queued", first.text
    await drain()
    before = await erp_invoice(pool)
    assert before["deleted_at"] is None

    as_delete = await signed_client.post(
        URL, content=body, params=query, headers={**headers, "X-TDS-Event": "deleted"}
    )
    assert as_delete.status_code == 400
    assert "x-tds-event is not covered by X-Zoho-Webhook-Signature" in as_delete.json()["error"]
    fresh_key = await signed_client.post(
        URL, content=body, params=query, headers={**headers, "X-Idempotency-Key": "replay-1"}
    )
    assert fresh_key.status_code == 400
    assert "x-idempotency-key is not covered" in fresh_key.json()["error"]
    as_captured = await signed_client.post(URL, content=body, params=query, headers=headers)
    assert as_captured.status_code == 202 and as_captured.json()["status"] == "duplicate"

    await drain()
    assert await erp_invoice(pool) == before  # not deleted, not rewritten
    statuses = await pool.fetch("SELECT status::text AS status FROM tds_inbox_events ORDER BY id")
    assert [r["status"] for r in statuses] == [
        "queued",
        "rejected",
        "rejected",
    ]  # refusals kept; a duplicate adds no row
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_queue") == 1  # one event applied, once


async def test_a_signed_body_without_zohos_version_is_refused_not_versioned_by_receipt(
    signed_client: httpx.AsyncClient, pool: Any, drain: Any
) -> None:
    newer = samples.invoice(total=200.0, last_modified_time="2024-02-01T10:00:00+0530")
    body, query, headers = capture(newer, event="updated")
    assert (await signed_client.post(URL, content=body, params=query, headers=headers)).status_code == 202
    await drain()
    before = await erp_invoice(pool)
    stale = samples.invoice(total=1.0, last_modified_time=None, updated_time=None)
    body, query, headers = capture(stale, event="updated")
    refused = await signed_client.post(URL, content=body, params=query, headers=headers)
    assert refused.status_code == 422
    assert "must carry invoice.last_modified_time" in refused.json()["error"]
    await drain()
    assert await erp_invoice(pool) == before
    rejected = await pool.fetchval("SELECT count(*) FROM tds_inbox_events WHERE status = 'rejected'")
    assert rejected == 1


async def test_an_older_signed_body_replayed_later_is_stale_and_changes_nothing(
    signed_client: httpx.AsyncClient, pool: Any, drain: Any
) -> None:
    old = samples.invoice(total=50.0, last_modified_time="2024-01-15T10:00:00+0530")
    new = samples.invoice(total=75.0, last_modified_time="2024-01-16T10:00:00+0530")
    captured = capture(old, event="updated")
    for record in (old, new):
        body, query, headers = capture(record, event="updated")
        assert (await signed_client.post(URL, content=body, params=query, headers=headers)).status_code == 202
        await drain()
    before = await erp_invoice(pool)
    body, query, headers = captured
    replay = await signed_client.post(URL, content=body, params=query, headers=headers)
    assert replay.status_code == 202 and replay.json()["status"] == "duplicate"
    await drain()
    assert await erp_invoice(pool) == before


async def test_the_signed_url_still_names_a_delete(
    signed_client: httpx.AsyncClient, pool: Any, drain: Any
) -> None:
    record = samples.invoice(last_modified_time="2024-01-15T10:00:00+0530")
    body, query, headers = capture(record)
    assert (await signed_client.post(URL, content=body, params=query, headers=headers)).status_code == 202
    await drain()
    body, query, headers = capture({"invoice_id": INVOICE_ID}, event="deleted")
    deleted = await signed_client.post(URL, content=body, params=query, headers=headers)
    assert deleted.status_code == 202, deleted.text
    await drain()
    assert (await erp_invoice(pool))["deleted_at"] is not None


async def test_a_key_authenticated_request_may_still_name_its_event_in_a_header(
    webhook: Send, pool: Any, drain: Any
) -> None:
    record = samples.invoice(last_modified_time="2024-01-15T10:00:00+0530")
    created = await webhook("invoices", {"invoice": record}, headers={"X-TDS-Event": "created"})
    assert created.status_code == 202, created.text
    await drain()
    deleted = await webhook(
        "invoices", {"invoice": {"invoice_id": INVOICE_ID}}, headers={"X-TDS-Event": "deleted"}
    )
    assert deleted.status_code == 202, deleted.text
    await drain()
    assert (await erp_invoice(pool))["deleted_at"] is not None
