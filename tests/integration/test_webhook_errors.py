"""Bad input on the webhook endpoint: the right 4xx naming the problem, never a 5xx, and
authenticated bad input kept in the inbox as ``rejected`` (never queued)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from . import samples
from .conftest import Send

JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MIB = 1_048_576


def nested(depth: int) -> bytes:
    return b'{"invoice": {"invoice_id": "1", "x": ' + b"[" * depth + b"]" * depth + b"}}"


@dataclass(frozen=True)
class Case:
    id: str
    status: int
    says: str  # a fragment of the error or one of the reasons
    entity: str = "invoices"
    body: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    stored: bool = True  # kept in the inbox as rejected


CASES = [
    Case("malformed-json", 400, "malformed JSON", content=b'{"invoice": {"invoice_id": ', headers=JSON),
    Case("single-quoted-json", 400, "malformed JSON", content=b"{'invoice': {}}", headers=JSON),
    Case(
        "json-infinity",
        400,
        "malformed JSON",
        content=b'{"invoice": {"invoice_id": "1", "total": 1e999}}',
        headers=JSON,
    ),
    Case(
        "text-plain",
        415,
        "unsupported content type 'text/plain'",
        content=b"{}",
        headers={"Content-Type": "text/plain"},
    ),
    Case(
        "xml",
        415,
        "unsupported content type 'application/xml'",
        content=b"<invoice/>",
        headers={"Content-Type": "application/xml"},
    ),
    Case("no-content-type", 415, "unsupported content type 'none'", content=b'{"invoice": {}}'),
    Case("empty-body", 400, "empty body", content=b"", headers=JSON),
    Case("blank-body", 400, "empty body", content=b"  \r\n ", headers=JSON),
    Case(
        "non-utf8", 400, "not valid UTF-8", content=b'{"invoice": {"invoice_id": "\xc3\x28"}}', headers=JSON
    ),
    Case(
        "latin1",
        400,
        "not valid UTF-8",
        content='{"invoice": {"invoice_id": "1", "name": "Café"}}'.encode("latin-1"),
        headers=JSON,
    ),
    Case("deeply-nested", 400, "levels deep", content=nested(200), headers=JSON),
    Case("very-deeply-nested", 400, "JSON", content=nested(50_000), headers=JSON),
    Case("json-array", 422, "body: expected a JSON object", body=[samples.invoice()]),
    Case("json-null", 422, "body: expected a JSON object", content=b"null", headers=JSON),
    Case("json-string", 422, "body: expected a JSON object", body="invoice"),
    Case("garbage-object", 422, "no 'invoice' object and no 'invoice_id' field", body={"hello": "world"}),
    Case("module-key-not-object", 422, "invoice: expected a JSON object", body={"invoice": "INV-1"}),
    Case(
        "missing-id", 422, "invoice.invoice_id: required", body={"invoice": samples.invoice(invoice_id=None)}
    ),
    Case("empty-id", 422, "invoice.invoice_id: required", body={"invoice": samples.invoice(invoice_id="")}),
    Case(
        "non-numeric-total",
        422,
        "invoice.total: not a number: 'lots'",
        body={"invoice": samples.invoice(total="lots")},
    ),
    Case("bad-date", 422, "invoice.date: not a date", body={"invoice": samples.invoice(date="17/11/2013")}),
    Case(
        "bad-version",
        422,
        "invoice.last_modified_time: not a Zoho timestamp",
        body={"invoice": samples.invoice(last_modified_time="last tuesday")},
    ),
    Case(
        "version-beyond-year-9999",
        422,
        "invoice.last_modified_time: timestamp out of range",
        body={"invoice": samples.invoice(last_modified_time="9999-12-31T23:59:59-1200")},
    ),
    Case(
        "nul-character",
        422,
        "invoice.invoice_number: contains U+0000",
        body={"invoice": samples.invoice(invoice_number="INV\x001")},
    ),
    Case(
        "line-without-id",
        422,
        "invoice.line_items[0].line_item_id: required",
        body={"invoice": samples.invoice(line_items=[{"item_id": "1", "quantity": 1}])},
    ),
    Case(
        "line-bad-quantity",
        422,
        "invoice.line_items[1].quantity: not a number",
        body={
            "invoice": samples.invoice(
                line_items=[{"line_item_id": "a"}, {"line_item_id": "b", "quantity": "x"}]
            )
        },
    ),
    Case(
        "contact-bad-terms",
        422,
        "contact.payment_terms: not a number",
        entity="contacts",
        body={"contact": samples.contact(payment_terms="fifteen days")},
    ),
    Case(
        "pricebook-bad-boolean",
        422,
        "pricebook.is_default: expected true or false",
        entity="pricebooks",
        body={"pricebook": samples.pricebook(is_default="maybe")},
    ),
    Case(
        "stock-without-locations",
        422,
        "item.locations: required",
        entity="stock",
        body={"item": samples.item(locations=None)},
    ),
    Case(
        "unknown-event",
        400,
        "unknown event 'frobnicated'",
        body={"invoice": samples.invoice()},
        params={"event": "frobnicated"},
    ),
    Case(
        "unknown-event-header",
        400,
        "unknown event 'voided'",
        body={"invoice": samples.invoice()},
        headers={"X-TDS-Event": "voided"},
    ),
    Case(
        "form-repeated-field",
        400,
        "appears more than once",
        content=b"invoice_id=1&total=2&total=3",
        headers=FORM,
    ),
    Case("form-empty-jsonstring", 400, "JSONString is empty", content=b"JSONString=", headers=FORM),
    Case(
        "form-malformed-jsonstring",
        400,
        "malformed JSON",
        content=urlencode({"JSONString": '{"invoice": '}).encode(),
        headers=FORM,
    ),
    Case(
        "form-invalid-record",
        422,
        "invoice.total: not a number",
        content=urlencode({"JSONString": json.dumps({"invoice": samples.invoice(total="x")})}).encode(),
        headers=FORM,
    ),
    Case(
        "unknown-entity",
        404,
        "unknown entity 'payments'",
        entity="payments",
        body={"payment": {"payment_id": "1"}},
        stored=False,
    ),
    Case(
        "idempotency-key-too-long",
        400,
        "X-Idempotency-Key",
        body={"invoice": samples.invoice()},
        headers={"X-Idempotency-Key": "k" * 201},
        stored=False,
    ),
]


async def reasons_text(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) >= {"error", "reasons"}, body
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["reasons"], list) and all(isinstance(r, str) for r in body["reasons"])
    return " | ".join([body["error"], *body["reasons"]])


async def test_bad_input_matrix(webhook: Send, pool: Any, drain: Any) -> None:
    """Every case on one database, each followed by a valid event that must still go through.
    (One database for the whole matrix keeps the suite fast; failures name the case.)"""
    good_ids: list[str] = []
    for number, case in enumerate(CASES):
        sent = case.content if case.content is not None else json.dumps(case.body).encode()
        headers = case.headers if case.content is not None else {**JSON, **case.headers}
        before = await pool.fetchval("SELECT coalesce(max(id), 0) FROM tds_inbox_events")
        response = await webhook(case.entity, content=sent, headers=headers, params=case.params)
        assert response.status_code == case.status, (case.id, response.text)
        assert response.headers["content-type"].startswith("application/json"), case.id
        assert case.says in await reasons_text(response), (case.id, response.text)
        assert response.json()["reasons"], (case.id, "reasons name the problem")
        rows = await pool.fetch(
            "SELECT id, status, entity, rejection_reasons, body FROM tds_inbox_events WHERE id > $1", before
        )
        if case.stored:
            assert len(rows) == 1, case.id
            row = rows[0]
            assert (row["status"], row["entity"]) == ("rejected", case.entity), case.id
            assert response.json()["event_id"] == row["id"], case.id
            assert any(case.says in reason for reason in row["rejection_reasons"]), (case.id, row)
            assert bytes(row["body"]) == sent, case.id  # the raw body, byte for byte
        else:
            assert rows == [], case.id
        assert await pool.fetchval("SELECT count(*) FROM tds_sync_queue") == number, case.id

        # a valid event right afterwards still goes through
        good_ids.append(f"GOOD-{number}")
        good = await webhook("invoices", {"invoice": samples.invoice(invoice_id=good_ids[-1])})
        assert good.status_code == 202 and good.json()["status"] == "queued", (case.id, good.text)

    await drain()
    applied = await pool.fetch("SELECT zoho_id FROM invoices ORDER BY id")
    assert sorted(r["zoho_id"] for r in applied) == sorted(good_ids)
    states = await pool.fetch("SELECT DISTINCT status::text FROM tds_sync_queue")
    assert [r[0] for r in states] == ["completed"]


async def test_invalid_record_names_every_field(webhook: Send, pool: Any) -> None:
    record = samples.invoice(invoice_id=None, total="lots", date="yesterday", line_items=[{"quantity": "x"}])
    response = await webhook("invoices", {"invoice": record})
    assert response.status_code == 422
    reasons = response.json()["reasons"]
    for field_name in (
        "invoice.invoice_id",
        "invoice.total",
        "invoice.date",
        "invoice.line_items[0].line_item_id",
        "invoice.line_items[0].quantity",
    ):
        assert any(r.startswith(field_name + ":") for r in reasons), (field_name, reasons)
    stored = await pool.fetchval("SELECT rejection_reasons FROM tds_inbox_events")
    assert stored == reasons


async def test_bad_or_missing_key_is_401(client: httpx.AsyncClient, api_key: str, pool: Any) -> None:
    cases = [
        (None, "missing API key"),
        ("", "missing API key"),
        ("tds_deadbeef_not-a-real-secret-at-all", "invalid or revoked API key"),
        ("not-even-the-right-shape", "invalid or revoked API key"),
        (api_key[:-4] + ("AAAA" if not api_key.endswith("AAAA") else "BBBB"), "invalid or revoked API key"),
    ]
    for key, says in cases:
        headers = {} if key is None else {"X-TDS-Key": key}
        response = await client.post(
            "/api/v1/webhooks/zoho/invoices", json={"invoice": samples.invoice()}, headers=headers
        )
        assert response.status_code == 401, key
        assert says in await reasons_text(response), key
    # nothing from an unauthenticated caller is stored
    assert await pool.fetchval("SELECT count(*) FROM tds_inbox_events") == 0


async def test_key_in_the_query_works_and_is_not_stored(
    client: httpx.AsyncClient, api_key: str, pool: Any
) -> None:
    response = await client.post(
        "/api/v1/webhooks/zoho/invoices",
        json={"invoice": samples.invoice()},
        params={"key": api_key, "event": "created"},
    )
    assert response.status_code == 202
    headers = await pool.fetchval("SELECT headers FROM tds_inbox_events")
    assert api_key not in json.dumps(headers)
    assert headers["query"] == "event=created"


async def test_unknown_entity_without_key_is_401(webhook: Send) -> None:
    response = await webhook("payments", {"payment": {}}, key=None)
    assert response.status_code == 401


# ---------------------------------------------------------------------------- body size
def big_invoice(size: int) -> bytes:
    record = samples.invoice(notes="x" * size)
    return json.dumps({"invoice": record}).encode()


async def test_body_size_limit(webhook: Send, pool: Any, settings: Any) -> None:
    body = big_invoice(0)
    padded = body[:-1] + b" " * (settings.max_body_bytes - len(body)) + b"}"
    assert len(padded) == settings.max_body_bytes == MIB
    at_limit = await webhook("invoices", content=padded, headers=JSON)
    assert at_limit.status_code == 202, at_limit.text

    oversized = big_invoice(MIB)
    declared = await webhook("invoices", content=oversized, headers=JSON)
    assert declared.status_code == 413
    assert "body of" in await reasons_text(declared)

    # a lying Content-Length: the limit is enforced on the bytes actually read
    lying = await webhook("invoices", content=oversized, headers={**JSON, "Content-Length": "100"})
    assert lying.status_code == 413
    assert "body is larger than the 1048576-byte limit" in await reasons_text(lying)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length at all (chunked)
        yield b'{"invoice": {"invoice_id": "1", "notes": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}}'

    chunked = await webhook("invoices", content=chunks(), headers=JSON)
    assert chunked.status_code == 413
    assert "body is larger than the 1048576-byte limit" in await reasons_text(chunked)

    invalid = await webhook("invoices", content=b"{}", headers={**JSON, "Content-Length": "lots"})
    assert invalid.status_code == 400
    assert "Content-Length" in await reasons_text(invalid)

    assert await pool.fetchval("SELECT count(*) FROM tds_sync_queue") == 1  # only the one at the limit


async def test_small_chunked_body_is_accepted(webhook: Send) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        body = json.dumps({"invoice": samples.invoice()}).encode()
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    response = await webhook("invoices", content=chunks(), headers=JSON)
    assert response.status_code == 202, response.text


async def test_nul_in_the_query_string_is_not_a_database_error(webhook: Send, pool: Any) -> None:
    """Starlette decodes %00 in the query; it must not reach jsonb as U+0000."""
    bad_event = await webhook("invoices", {"invoice": samples.invoice()}, params={"event": "\x00"})
    assert bad_event.status_code == 400
    assert "unknown event" in await reasons_text(bad_event)
    assert await pool.fetchval("SELECT status FROM tds_inbox_events") == "rejected"

    odd_param = await webhook("invoices", {"invoice": samples.invoice()}, params={"source": "zo\x00ho"})
    assert odd_param.status_code == 202, odd_param.text
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_queue") == 1
