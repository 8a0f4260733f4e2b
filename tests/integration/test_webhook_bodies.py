"""The webhook bodies Zoho can send (reference sections 5 and 10): Zoho's form body with one field
per parameter, a JSON document under the form content type ("Raw"), flattened ``cf_*`` keys kept,
and a delete-shaped body without ``?event=`` refused (and stored) instead of upserted."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tds_core import app as composition
from tds_core.ingest.bodies import BodyError, parse
from tds_core.settings import Settings

from . import samples
from .conftest import Send

SECRET = "abcdefghijkl123"

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
INVOICE_ID = "460000000091001"
FORM_INVOICE = [
    ("invoice_id", INVOICE_ID),
    ("invoice_number", "INV-000123"),
    ("date", "2024-01-15"),
    ("status", "sent"),
    ("customer_id", "460000000026049"),
    ("total", "240.00"),
    ("last_modified_time", "2024-01-15T10:20:30+0530"),
    ("cf_priority", "Rush"),
    ("cf_is_export", "True"),
    ("tenant", "tsh"),  # a custom parameter of the webhook
]


async def inbox(pool: Any) -> list[Any]:
    return await pool.fetch(
        "SELECT status::text AS status, operation, zoho_id, rejection_reasons, body FROM tds_inbox_events"
        " ORDER BY id"
    )


async def test_form_fields_are_staged_and_applied_with_cf_keys_kept(
    webhook: Send, pool: Any, drain: Any
) -> None:
    body = urlencode(FORM_INVOICE).encode()
    response = await webhook("invoices", event="created", content=body, headers=FORM)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    payload = await pool.fetchval("SELECT payload FROM tds_sync_queue")
    assert payload == dict(FORM_INVOICE)  # every key kept, values the strings sent
    await drain()
    row = await pool.fetchrow("SELECT * FROM invoices WHERE zoho_id = $1", INVOICE_ID)
    assert row["invoice_number"] == "INV-000123"
    assert str(row["total"]) == "240.00"
    assert row["data"]["cf_priority"] == "Rush"
    assert row["data"]["cf_is_export"] == "True"
    assert row["data"]["tenant"] == "tsh"
    [stored] = await inbox(pool)
    assert (stored["status"], bytes(stored["body"])) == ("queued", body)


async def test_a_form_without_event_is_an_upsert(webhook: Send, pool: Any, drain: Any) -> None:
    response = await webhook("invoices", content=urlencode(FORM_INVOICE).encode(), headers=FORM)
    assert response.status_code == 202, response.text
    await drain()
    assert await pool.fetchval("SELECT data->>'cf_priority' FROM invoices") == "Rush"


async def test_json_under_the_form_content_type_is_read_as_json(webhook: Send, pool: Any, drain: Any) -> None:
    document = {"invoice": samples.invoice(cf_priority="Rush")}
    body = b"\r\n  " + json.dumps(document).encode()
    response = await webhook("invoices", event="updated", content=body, headers=FORM)
    assert response.status_code == 202, response.text
    await drain()
    data = await pool.fetchval("SELECT data FROM invoices")
    assert data["cf_priority"] == "Rush"
    assert data["line_items"] == document["invoice"]["line_items"]


@pytest.fixture
async def signed_client(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        env="test", home=tmp_path, api_key_cache_seconds=0, log_level="WARNING", zoho_webhook_secret=SECRET
    )
    app = composition.build_api(settings, database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tds.test") as http:
            yield http


async def test_signed_json_under_the_form_content_type_is_verified_as_json(
    signed_client: httpx.AsyncClient,
) -> None:
    """Zoho's recipe appends a JSON body unchanged (no form pairs to decode)."""
    body = json.dumps({"invoice": samples.invoice()}).encode()
    message = b"eventupdated" + body
    signed = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    response = await signed_client.post(
        "/api/v1/webhooks/zoho/invoices",
        content=body,
        params={"event": "updated"},
        headers={**FORM, "X-Zoho-Webhook-Signature": signed},
    )
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("content", "status", "says"),
    [
        (b"invoice_id=1&total=2&invoice_id=3", 400, "form field 'invoice_id' appears more than once"),
        (b"invoice_id=1&cf_x=a&cf_x=a", 400, "form field 'cf_x' appears more than once"),
        (b"invoice_id=1&JSONString=%7B%7D&JSONString=%7B%7D", 400, "'JSONString' appears more than once"),
        (b"invoice_id", 400, "malformed form body"),
        (b"invoice_id=1&&total=2", 400, "malformed form body"),
        (b"=1&invoice_id=2", 400, "a field with an empty name"),
        (b'{"invoice": {"invoice_id": ', 400, "malformed JSON"),
        (b"[1, 2]", 422, "body: expected a JSON object"),
        (b"total=1", 422, "invoice.invoice_id: required"),
        (b"invoice_id=1&total=lots", 422, "invoice.total: not a number"),
        (b"invoice_id=1&invoice_number=A%00B", 422, "invoice.invoice_number: contains U+0000"),
        (b"invoice_id=1&last_modified_time=yesterday", 422, "invoice.last_modified_time"),
    ],
)
async def test_malformed_form_bodies_are_a_4xx_naming_the_problem(
    webhook: Send, pool: Any, content: bytes, status: int, says: str
) -> None:
    response = await webhook("invoices", event="updated", content=content, headers=FORM)
    assert response.status_code == status, response.text
    answer = response.json()
    assert says in answer["error"] + " ".join(answer["reasons"]), answer
    [stored] = await inbox(pool)
    assert stored["status"] == "rejected"
    assert any(says in reason for reason in stored["rejection_reasons"])
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_queue") == 0


DELETE_SHAPED = [
    pytest.param(urlencode({"invoice_id": INVOICE_ID}).encode(), FORM, id="form-id-only"),
    pytest.param(
        urlencode({"invoice_id": INVOICE_ID, "invoice_number": "", "total": ""}).encode(),
        FORM,
        id="form-id-and-blanks",
    ),
    pytest.param(
        json.dumps({"invoice": {"invoice_id": INVOICE_ID}}).encode(),
        {"Content-Type": "application/json"},
        id="json-wrapped",
    ),
    pytest.param(
        json.dumps({"invoice_id": INVOICE_ID, "customer_id": None}).encode(),
        {"Content-Type": "application/json"},
        id="json-bare",
    ),
    pytest.param(json.dumps({"invoice": {"invoice_id": INVOICE_ID}}).encode(), FORM, id="raw-json-as-form"),
]


@pytest.mark.parametrize(("content", "headers"), DELETE_SHAPED)
async def test_a_delete_shaped_body_without_event_is_refused_and_stored(
    webhook: Send, pool: Any, content: bytes, headers: dict[str, str]
) -> None:
    response = await webhook("invoices", content=content, headers=headers)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert "?event=deleted" in answer["error"]
    assert "invoice.invoice_id" in answer["error"]
    [stored] = await inbox(pool)
    assert stored["status"] == "rejected"
    assert stored["zoho_id"] == INVOICE_ID
    assert answer["event_id"] is not None
    assert "?event=deleted" in stored["rejection_reasons"][0]
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_queue") == 0


@pytest.mark.parametrize(
    ("params", "headers"),
    [({"event": "deleted"}, {}), ({"event": "invoice.deleted"}, {}), ({}, {"X-TDS-Event": "deleted"})],
)
async def test_a_delete_shaped_body_with_the_event_is_applied_as_a_delete(
    webhook: Send, pool: Any, drain: Any, params: dict[str, str], headers: dict[str, str]
) -> None:
    created = await webhook(
        "invoices", event="created", content=urlencode(FORM_INVOICE).encode(), headers=FORM
    )
    assert created.status_code == 202, created.text
    await drain()
    response = await webhook(
        "invoices",
        content=urlencode({"invoice_id": INVOICE_ID}).encode(),
        headers={**FORM, **headers},
        params=params,
    )
    assert response.status_code == 202, response.text
    await drain()
    assert await pool.fetchval("SELECT deleted_at IS NOT NULL FROM invoices WHERE zoho_id = $1", INVOICE_ID)


async def test_an_id_only_body_with_event_updated_is_applied_as_an_update(
    webhook: Send, pool: Any, drain: Any
) -> None:
    response = await webhook(
        "invoices", event="updated", content=urlencode({"invoice_id": INVOICE_ID}).encode(), headers=FORM
    )
    assert response.status_code == 202, response.text


async def test_a_partial_update_without_event_is_not_refused(webhook: Send, pool: Any, drain: Any) -> None:
    """Any field with a value besides the id (even only the version) makes it an update."""
    assert (
        await webhook("invoices", content=urlencode(FORM_INVOICE).encode(), headers=FORM)
    ).status_code == 202
    await drain()
    partial = {"invoice_id": INVOICE_ID, "last_modified_time": "2024-01-16T09:00:00+0530", "cf_priority": ""}
    response = await webhook("invoices", content=urlencode(partial).encode(), headers=FORM)
    assert response.status_code == 202, response.text
    await drain()
    row = await pool.fetchrow("SELECT * FROM invoices WHERE zoho_id = $1", INVOICE_ID)
    assert row["deleted_at"] is None
    assert row["invoice_number"] == "INV-000123"  # an update keeps what the record does not carry
    json_partial = {"contact": {"contact_id": "1", "status": "inactive"}}
    assert (await webhook("contacts", json_partial)).status_code == 202


def test_parse_without_a_module_key_gives_the_bare_record() -> None:
    """Inbox replay calls ``parse`` without the entity: a form's pairs are then the bare record."""
    assert parse(b"invoice_id=1&cf_a=b", FORM["Content-Type"], 64).document == {
        "invoice_id": "1",
        "cf_a": "b",
    }
    wrapped = parse(b"invoice_id=1", FORM["Content-Type"], 64, "invoice").document
    assert wrapped == {"invoice": {"invoice_id": "1"}}
    with pytest.raises(BodyError, match="appears more than once"):
        parse(b"a=1&a=2", FORM["Content-Type"], 64)
