"""Webhook as a hint: a partial webhook is stored at once (202) and completed by fetching the
record from Zoho; the full record is what reaches the ERP."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from tds_core.settings import Settings
from tds_core.simulator.app import create_app
from tds_core.simulator.config import SimulatorConfig
from tds_core.source.hints import HintCompleter
from tds_core.source.zoho import InvalidURL, NotFound, PostgresRateLimiter, ZohoClient

from .conftest import SIM, Send, Zoho


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        env="test", home=tmp_path, api_key_cache_seconds=0, log_level="WARNING", webhook_complete_partial=True
    )


async def inbox(pool: Any) -> list[tuple[str, str]]:
    rows = await pool.fetch("SELECT status, source FROM tds_inbox_events ORDER BY id")
    return [(r["status"], r["source"]) for r in rows]


async def test_a_partial_webhook_is_completed_from_zoho(
    webhook: Send, zoho: Zoho, pool: Any, drain: Any
) -> None:
    invoice = next(iter(zoho.store.records("invoices")))
    invoice_id = invoice["invoice_id"]
    first = await webhook("invoices", {"invoice": {"invoice_id": invoice_id}}, event="updated")
    again = await webhook("invoices", {"invoice": {"invoice_id": invoice_id}}, event="updated")
    assert first.status_code == 202 and first.json()["status"] == "queued"
    assert again.json() == {"event_id": first.json()["event_id"], "status": "duplicate"}
    assert await inbox(pool) == [("hint", "webhook")]
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_queue") == 0  # nothing partial is applied

    assert await HintCompleter(pool, zoho.client).run_once() == 1
    assert await HintCompleter(pool, zoho.client).run_once() == 0  # completed exactly once
    assert await inbox(pool) == [("fetched", "webhook"), ("queued", "webhook")]
    await drain()
    row = await pool.fetchrow("SELECT invoice_number, total FROM invoices WHERE zoho_id = $1", invoice_id)
    assert row["invoice_number"] == invoice["invoice_number"]
    lines = await pool.fetchval(
        "SELECT count(*) FROM invoice_line_items WHERE invoice_zoho_id = $1", invoice_id
    )
    assert lines == len(invoice["line_items"]) > 0
    completed_by = await pool.fetchval(
        "SELECT headers->>'completed_by_event' FROM tds_inbox_events WHERE id = $1", first.json()["event_id"]
    )
    assert completed_by is not None


async def test_a_hint_for_a_record_zoho_no_longer_has_becomes_a_delete(
    webhook: Send, zoho: Zoho, pool: Any, drain: Any
) -> None:
    contact_id = zoho.store.ids("contacts")[0]
    zoho.store.delete("contacts", contact_id)
    await webhook("contacts", {"contact_id": contact_id}, event="updated")
    assert await HintCompleter(pool, zoho.client).run_once() == 1
    await drain()
    row = await pool.fetchrow("SELECT deleted_at FROM customers WHERE zoho_id = $1", contact_id)
    assert row["deleted_at"] is not None


async def test_complete_webhooks_and_deletes_are_not_hints(
    webhook: Send, zoho: Zoho, pool: Any, drain: Any
) -> None:
    invoice = next(iter(zoho.store.records("invoices")))
    full = await webhook("invoices", {"invoice": invoice})
    gone = await webhook("invoices", {"invoice_id": "999"}, event="deleted")
    assert full.status_code == gone.status_code == 202
    assert await inbox(pool) == [("queued", "webhook"), ("queued", "webhook")]
    assert await HintCompleter(pool, zoho.client).run_once() == 0


async def test_a_hint_whose_get_answers_invalid_url_is_a_configuration_error_not_a_delete(
    webhook: Send, zoho: Zoho, pool: Any
) -> None:
    # a wrong Books base path: the simulator answers 404 {"code": 1002, "message": "Invalid URL Passed"}
    config = replace(zoho.client.config, books_path="/books/v2")
    app = create_app(zoho.store, config=SimulatorConfig(api_domain=SIM))
    contact_id = zoho.store.ids("contacts")[0]
    await webhook("contacts", {"contact_id": contact_id}, event="updated")
    async with ZohoClient(
        config, PostgresRateLimiter.for_config(pool, config), transport=httpx.ASGITransport(app)
    ) as client:
        with pytest.raises(InvalidURL, match="Invalid URL Passed") as refused:
            await HintCompleter(pool, client).run_once()
    assert refused.value.alert and not isinstance(refused.value, NotFound)
    assert await inbox(pool) == [("hint", "webhook")]  # still waiting, nothing staged
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_queue") == 0
    # once the URL is right, the same hint completes as an update, not a delete
    assert await HintCompleter(pool, zoho.client).run_once() == 1
    assert await inbox(pool) == [("fetched", "webhook"), ("queued", "webhook")]
