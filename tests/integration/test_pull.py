"""Incremental pull against the built-in Zoho simulator: every entity lands in the ERP, the
cursor moves only with the records it covers, and a pull killed half-way leaves no gap."""

from __future__ import annotations

from typing import Any

import pytest

from tds_core.domain.records import parse_zoho_time
from tds_core.source.pull import PullConfig, Puller
from tds_core.source.zoho.errors import ZohoError

from .conftest import Zoho, live_ids


async def test_every_entity_is_pulled_into_the_erp(zoho: Zoho, pool: Any, drain: Any) -> None:
    puller = Puller(pool, zoho.client, PullConfig())
    for entity in ("items", "contacts", "invoices", "bills", "creditnotes", "stock", "pricebooks"):
        result = await puller.run_once(entity, triggered_by="test")
        assert result.status == "succeeded" and result.failed == 0, result
        assert result.fetched == result.queued + result.unchanged and result.queued > 0
        assert result.api_calls >= 3  # 12 records, 5 per page
    await drain()
    for module, table in (
        ("items", "products"),
        ("contacts", "customers"),
        ("invoices", "invoices"),
        ("bills", "bills"),
        ("creditnotes", "credit_notes"),
        ("pricebooks", "price_lists"),
    ):
        assert await live_ids(pool, table) == set(zoho.store.ids(module)), table
    expected_lines = sum(len(r.get("line_items") or []) for r in zoho.store.records("invoices"))
    assert await pool.fetchval("SELECT count(*) FROM invoice_line_items") == expected_lines
    expected_stock = sum(len(r.get("locations") or []) for r in zoho.store.records("items"))
    assert await pool.fetchval("SELECT count(*) FROM stock_levels WHERE location_id <> '*'") == expected_stock
    runs = await pool.fetch("SELECT entity, status, api_calls FROM tds_sync_runs ORDER BY id")
    assert len(runs) == 7 and {r["status"] for r in runs} == {"succeeded"}
    cursors = await pool.fetch("SELECT entity, watermark FROM tds_sync_cursors")
    assert {c["entity"] for c in cursors} == {
        "items",
        "contacts",
        "invoices",
        "bills",
        "creditnotes",
        "stock",
        "pricebooks",
    }


async def test_an_incremental_pull_fetches_only_the_changed_window(zoho: Zoho, pool: Any, drain: Any) -> None:
    puller = Puller(pool, zoho.client, PullConfig())
    first = await puller.run_once("invoices")
    watermark = first.watermark
    assert watermark is not None
    changed = zoho.store.ids("invoices")[:2]
    for record_id in changed:
        zoho.store.update("invoices", record_id)
    second = await puller.run_once("invoices")
    assert second.kind == "incremental"
    assert second.queued == 2  # what changed; records in the overlap window come back as duplicates
    assert second.fetched - second.queued == second.unchanged
    assert second.watermark is not None and second.watermark > watermark
    await drain()
    for record_id in changed:
        version = await pool.fetchval("SELECT source_version FROM invoices WHERE zoho_id = $1", record_id)
        assert version == parse_zoho_time(zoho.store.get("invoices", record_id)["last_modified_time"])
        assert version <= second.watermark


async def test_a_pull_that_fails_half_way_keeps_its_cursor_and_the_rerun_leaves_no_gap(
    zoho: Zoho, pool: Any, drain: Any
) -> None:
    puller = Puller(pool, zoho.client, PullConfig())
    pages: list[int] = []

    def after_page(result: Any) -> None:
        pages.append(result.fetched)
        if len(pages) == 1:
            zoho.faults.fail_next(1_000)  # Zoho answers 500 from now on: the pull dies mid-way

    with pytest.raises(ZohoError):
        await puller.run_once("bills", progress=after_page)
    assert await pool.fetchval("SELECT watermark FROM tds_sync_cursors WHERE entity = 'bills'") is None
    run = await pool.fetchrow("SELECT status, fetched, error FROM tds_sync_runs")
    assert run["status"] == "failed" and run["fetched"] == 5 and run["error"]
    zoho.faults.fail_next(0)
    again = await puller.run_once("bills")
    assert again.status == "succeeded"
    assert again.unchanged == 5 and again.queued == len(zoho.store.ids("bills")) - 5
    await drain()
    assert await live_ids(pool, "bills") == set(zoho.store.ids("bills"))
