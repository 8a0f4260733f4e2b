"""Lists that ask for every record, and a contacts pull that checks the sort Zoho echoes.

- Every list asks ``filter_by=Status.All`` (price books ``SalesOrPurchaseType.All``): an
  inactive contact, which a contacts list leaves out by default, still reaches the ERP.
- The contacts pull sorts by ``last_modified_time`` descending and stops below the watermark
  while ``page_context`` echoes that sort; when the answer echoes another one (the simulator's
  ``ignore_sort``: its default ``contact_name A``), the run logs asked vs echoed and scans every
  page comparing versions, so an edit on a late page is still pulled.
"""

from __future__ import annotations

from typing import Any

from structlog.testing import capture_logs

from tds_core.source.pull import PullConfig, Puller

from .test_pull_pacing import source

LISTED_WITH_EVERY_STATUS = {
    "/books/v3/items": "Status.All",
    "/books/v3/contacts": "Status.All",
    "/books/v3/invoices": "Status.All",
    "/books/v3/bills": "Status.All",
    "/books/v3/creditnotes": "Status.All",
    "/inventory/v1/items": "Status.All",
    "/inventory/v1/pricebooks": "SalesOrPurchaseType.All",
}


async def test_every_list_asks_for_every_status_and_inactive_contacts_arrive(pool: Any, drain: Any) -> None:
    async with source(pool, hide_inactive_by_default=True) as zoho:
        inactive = zoho.store.ids("contacts")[0]
        zoho.store.update("contacts", inactive, {"status": "inactive"})
        puller = Puller(pool, zoho.client, PullConfig(quota_reserve=0))
        for entity in ("items", "contacts", "invoices", "bills", "creditnotes", "stock", "pricebooks"):
            assert (await puller.run_once(entity, triggered_by="test")).status == "succeeded"
        lists = [url for url in zoho.recorder.urls if url.path in LISTED_WITH_EVERY_STATUS]
        assert {url.path for url in lists} == set(LISTED_WITH_EVERY_STATUS)
        for url in lists:
            assert url.params.get("filter_by") == LISTED_WITH_EVERY_STATUS[url.path], url
        await drain()
        status = await pool.fetchval("SELECT status FROM customers WHERE zoho_id = $1", inactive)
        assert status == "inactive"


async def _edit_the_last_contact_by_name(zoho: Any) -> str:
    contacts = sorted(
        zoho.store.records("contacts"), key=lambda r: (r["contact_name"].casefold(), r["contact_id"])
    )
    last = str(contacts[-1]["contact_id"])
    zoho.clock.advance(3600)
    zoho.store.update("contacts", last, {"credit_limit": 4321})
    return last


async def test_a_sort_the_answer_echoes_is_trusted_and_the_pull_stops_early(pool: Any, drain: Any) -> None:
    async with source(pool, ignore_sort=False) as zoho:  # 12 contacts, 5 a page
        puller = Puller(pool, zoho.client, PullConfig(quota_reserve=0))
        assert (await puller.run_once("contacts", triggered_by="test")).status == "succeeded"
        await drain()
        edited = await _edit_the_last_contact_by_name(zoho)
        with capture_logs() as logs:
            again = await puller.run_once("contacts", triggered_by="test")
        assert again.status == "succeeded" and again.queued == 1
        assert again.api_calls == 2  # page 1 (newest first, then older than the window: stop) + 1 GET
        assert again.details is None
        assert not [e for e in logs if e["event"] == "zoho_sort_not_applied"]
        await drain()
        limit = await pool.fetchval("SELECT credit_limit FROM customers WHERE zoho_id = $1", edited)
        assert limit == 4321


async def test_a_sort_the_answer_does_not_echo_falls_back_to_a_full_scan_by_version(
    pool: Any, drain: Any
) -> None:
    async with source(pool, ignore_sort=True) as zoho:
        puller = Puller(pool, zoho.client, PullConfig(quota_reserve=0))
        assert (await puller.run_once("contacts", triggered_by="test")).status == "succeeded"
        await drain()
        edited = await _edit_the_last_contact_by_name(zoho)  # on the last page in name order
        with capture_logs() as logs:
            again = await puller.run_once("contacts", triggered_by="test")
        assert again.status == "succeeded" and again.queued == 1, again
        assert again.fetched == 12 and again.api_calls == 3 + 1  # every page, 1 GET: the edited one
        warnings = [e for e in logs if e["event"] == "zoho_sort_not_applied"]
        assert warnings and warnings[0]["log_level"] == "warning"
        assert warnings[0]["asked"] == {"sort_column": "last_modified_time", "sort_order": "D"}
        assert warnings[0]["echoed"] == {"sort_column": "contact_name", "sort_order": "A"}
        details = await pool.fetchval("SELECT details FROM tds_sync_runs WHERE id = $1", again.run_id)
        assert details["sort_not_applied"]["echoed"] == {"sort_column": "contact_name", "sort_order": "A"}
        await drain()
        limit = await pool.fetchval("SELECT credit_limit FROM customers WHERE zoho_id = $1", edited)
        assert limit == 4321
        watermark = await pool.fetchval("SELECT watermark FROM tds_sync_cursors WHERE entity = 'contacts'")
        assert watermark == again.watermark and watermark is not None
