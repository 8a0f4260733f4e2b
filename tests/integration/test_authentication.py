"""Who may send webhooks: API keys (revocable) and, where configured, the Zoho signature."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlencode

import httpx

from tds_core.db.queries import QUERIES

from . import samples
from .conftest import Send, sender, zoho_signature

URL = "/api/v1/webhooks/zoho/invoices"


def raw(body: Any) -> bytes:
    return json.dumps(body).encode()


async def test_signed_request_without_key_is_accepted(
    signed_client: httpx.AsyncClient, pool: Any, drain: Any
) -> None:
    body = raw({"invoice": samples.invoice()})
    params = [("event", "updated"), ("account", "tsh")]
    response = await signed_client.post(
        URL,
        content=body,
        params=params,
        headers={
            "Content-Type": "application/json",
            "X-Zoho-Webhook-Signature": zoho_signature(params, body),
        },
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    await drain()
    assert await pool.fetchval("SELECT count(*) FROM invoices") == 1
    stored = await pool.fetchval("SELECT headers FROM tds_inbox_events")
    assert stored["x-zoho-webhook-signature"] == zoho_signature(params, body)


async def test_signed_form_body_is_accepted(signed_client: httpx.AsyncClient) -> None:
    form = [("JSONString", json.dumps({"invoice": samples.invoice()}))]
    params = [("event", "created")]
    response = await signed_client.post(
        URL,
        content=urlencode(form).encode(),
        params=params,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Zoho-Webhook-Signature": zoho_signature(params + form, b""),
        },
    )
    assert response.status_code == 202, response.text


async def test_wrong_signature_is_401(signed_client: httpx.AsyncClient, pool: Any) -> None:
    body = raw({"invoice": samples.invoice()})
    wrong = [
        "0" * 64,
        "not-a-signature",
        zoho_signature([("event", "updated")], body, secret="wrong-secret-123"),
        zoho_signature([], body),  # right secret and body, but the query parameter was not signed
        zoho_signature([("event", "created")], body),  # a different parameter value was signed
    ]
    for signature in wrong:
        response = await signed_client.post(
            URL,
            content=body,
            params={"event": "updated"},
            headers={"Content-Type": "application/json", "X-Zoho-Webhook-Signature": signature},
        )
        assert response.status_code == 401, signature
        assert "X-Zoho-Webhook-Signature" in response.json()["error"]
    assert await pool.fetchval("SELECT count(*) FROM tds_inbox_events") == 0


async def test_tampered_body_is_401(signed_client: httpx.AsyncClient) -> None:
    body = raw({"invoice": samples.invoice()})
    response = await signed_client.post(
        URL,
        content=raw({"invoice": samples.invoice(total=1)}),
        headers={"Content-Type": "application/json", "X-Zoho-Webhook-Signature": zoho_signature([], body)},
    )
    assert response.status_code == 401


async def test_with_a_secret_an_api_key_still_authenticates(
    signed_client: httpx.AsyncClient, api_key: str
) -> None:
    send = sender(signed_client, api_key)
    assert (await send("invoices", {"invoice": samples.invoice()})).status_code == 202
    assert (await send("invoices", {"invoice": samples.invoice()}, key=None)).status_code == 401


async def test_signature_is_ignored_when_no_secret_is_configured(webhook: Send) -> None:
    body = {"invoice": samples.invoice()}
    signature = zoho_signature([], raw(body))
    no_key = await webhook("invoices", body, key=None, headers={"X-Zoho-Webhook-Signature": signature})
    assert no_key.status_code == 401
    with_key = await webhook("invoices", body, headers={"X-Zoho-Webhook-Signature": "whatever"})
    assert with_key.status_code == 202


async def test_revoked_key_is_401(webhook: Send, api_key: str, pool: Any) -> None:
    assert (await webhook("invoices", {"invoice": samples.invoice()})).status_code == 202
    prefix = api_key.split("_")[1]
    revoked = await pool.fetch(QUERIES.api_keys_revoke, prefix, "tests")
    assert len(revoked) == 1
    response = await webhook("invoices", {"invoice": samples.invoice(total=1)})
    assert response.status_code == 401
    assert "invalid or revoked API key" in response.json()["error"]
    assert await pool.fetchval("SELECT count(*) FROM tds_inbox_events") == 1


async def test_other_keys_keep_working_after_a_revoke(
    client: httpx.AsyncClient, api_key: str, pool: Any
) -> None:
    from tds_core.access import api_keys

    async with pool.acquire() as connection:
        other = await api_keys.create(connection, "second")
    await pool.fetch(QUERIES.api_keys_revoke, str(other.id), "tests")
    assert (await sender(client, other.key)("invoices", {"invoice": samples.invoice()})).status_code == 401
    assert (await sender(client, api_key)("invoices", {"invoice": samples.invoice()})).status_code == 202


async def test_key_use_is_recorded_and_only_its_hash_is_stored(
    webhook: Send, api_key: str, pool: Any
) -> None:
    assert (await webhook("invoices", {"invoice": samples.invoice()})).status_code == 202
    row = await pool.fetchrow("SELECT key_hash, last_used_at FROM tds_api_keys")
    assert row["last_used_at"] is not None
    assert row["key_hash"] == hashlib.sha256(api_key.encode()).hexdigest()
    dump = json.dumps(
        [dict(r) for r in await pool.fetch("SELECT headers FROM tds_inbox_events")], default=str
    )
    assert api_key not in dump
