"""Reconciliation against the simulator: drift found record by record, healed through the
pipeline, and a second pass finds none."""

from __future__ import annotations

from typing import Any

from tds_core.domain.records import parse_zoho_time
from tds_core.reconcile.service import Reconciler
from tds_core.source.pull import PullConfig, Puller

from .conftest import Zoho, live_ids


async def pull_all(pool: Any, zoho: Zoho, drain: Any) -> None:
    puller = Puller(pool, zoho.client, PullConfig())
    for entity in ("items", "invoices", "stock"):
        await puller.run_once(entity)
    await drain()


async def test_missing_stale_and_deleted_records_are_found_and_healed(
    zoho: Zoho,
    pool: Any,
    drain: Any,
) -> None:
    await pull_all(pool, zoho, drain)
    invoices = zoho.store.ids("invoices")
    gone, changed = invoices[0], invoices[1]
    zoho.store.delete("invoices", gone)  # no webhook: polling cannot see deletes
    zoho.store.update("invoices", changed)  # no webhook, and no pull since
    new = zoho.store.create("invoices")["invoice_id"]
    # and one ERP row that someone tombstoned by hand while Zoho still has it
    reconciler = Reconciler(pool, zoho.client)
    first = await reconciler.run_once("invoices", triggered_by="test")
    assert first.status == "succeeded"
    assert (first.drift.missing, first.drift.stale, first.drift.extra) == ([new], [changed], [gone])
    assert first.healed == 3 and first.checked == len(zoho.store.ids("invoices"))
    run = await pool.fetchrow(
        "SELECT kind, status, drift, details FROM tds_sync_runs WHERE id = $1", first.run_id
    )
    assert (run["kind"], run["status"], run["drift"]) == ("reconcile", "succeeded", 3)
    assert run["details"]["extra"] == [gone] and run["details"]["counts"]["missing"] == 1
    await drain()
    assert await live_ids(pool, "invoices") == set(zoho.store.ids("invoices"))
    version = await pool.fetchval("SELECT source_version FROM invoices WHERE zoho_id = $1", changed)
    lines = await pool.fetchval("SELECT count(*) FROM invoice_line_items WHERE invoice_zoho_id = $1", new)
    assert lines == len(zoho.store.get("invoices", new)["line_items"])  # healed with the full record
    again = await reconciler.run_once("invoices")
    assert again.drift.total == 0 and again.healed == 0
    assert version == parse_zoho_time(zoho.store.get("invoices", changed)["last_modified_time"])


async def test_a_dry_run_reports_without_healing(zoho: Zoho, pool: Any, drain: Any) -> None:
    await pull_all(pool, zoho, drain)
    zoho.store.delete("items", zoho.store.ids("items")[0])
    result = await Reconciler(pool, zoho.client).run_once("items", heal=False)
    assert len(result.drift.extra) == 1 and result.healed == 0
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_queue WHERE status = 'pending'") == 0


async def test_stock_quantities_are_compared_per_location(zoho: Zoho, pool: Any, drain: Any) -> None:
    await pull_all(pool, zoho, drain)
    tracked = [r["item_id"] for r in zoho.store.records("items") if r.get("locations")]
    zoho.store.adjust_stock(tracked[0], delta=7)  # a stock movement whose webhook never came
    reconciler = Reconciler(pool, zoho.client)
    found = await reconciler.run_once("stock")
    assert found.drift.stale == [tracked[0]] and found.healed == 1
    await drain()
    assert (await reconciler.run_once("stock")).drift.total == 0
