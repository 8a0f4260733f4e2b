"""Source guarantees against the in-process simulator: an initial pull makes the ERP equal to
Zoho's ground truth, and lossy webhooks (drops, duplicates, reordering) plus one reconciliation
with heal leave it exactly equal again, the reconciliation reporting precisely the dropped drift."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime
from typing import Any

import httpx

from tds_core.reconcile.service import Reconciler
from tds_core.simulator.clock import ManualClock
from tds_core.simulator.store import ID_FIELDS, Change, Store
from tds_core.simulator.truth import TABLES, VERSIONED, differences, store_stock
from tds_core.simulator.truth import record_version as _version
from tds_core.simulator.webhooks import WebhookConfig, WebhookEmitter
from tds_core.source.pull import PullConfig, Puller

from .conftest import Zoho

ENTITIES = ("items", "contacts", "invoices", "bills", "creditnotes", "stock", "pricebooks")


async def assert_erp_matches(pool: Any, store: Store) -> None:
    problems = await differences(pool, store)
    assert not problems, f"{len(problems)} differences from the simulator: {problems}"


async def test_an_initial_full_sync_equals_the_simulators_ground_truth(
    zoho: Zoho, pool: Any, drain: Any
) -> None:
    puller = Puller(pool, zoho.client, PullConfig())
    for entity in ENTITIES:
        result = await puller.run_once(entity, full=True, triggered_by="test")
        assert result.status == "succeeded" and result.failed == 0, result
    await drain()
    await assert_erp_matches(pool, zoho.store)
    # the equality is not vacuous: every kind of row is there
    for table in ("products", "customers", "invoices", "bills", "credit_notes", "price_lists"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table}") > 0, table
    for table in ("invoice_line_items", "bill_line_items", "credit_note_line_items", "price_list_items"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table}") > 0, table
    assert await pool.fetchval("SELECT count(*) FROM stock_levels WHERE location_id <> '*'") > 0


# ------------------------------------------------------------------ lossy webhooks + reconcile
def _mutate(store: Store, rng: random.Random) -> None:
    """One random change. Items and price lists are only created or deleted: reconciliation
    cannot see a changed one (no version in Zoho's list rows), so a dropped update of either
    is healed by the next scheduled full scan, not by reconciliation (docs/zoho-source.md)."""
    roll = rng.random()
    if roll < 0.2:
        stocked = [r["item_id"] for r in store.records("items") if r.get("locations")]
        store.adjust_stock(rng.choice(stocked))
        return
    module = rng.choice(("items", "contacts", "invoices", "bills", "creditnotes", "pricebooks"))
    ids = store.ids(module)
    versioned = module in VERSIONED
    if roll < 0.35 or len(ids) < 3 or (not versioned and roll < 0.85):
        store.create(module)
    elif versioned and roll < 0.9:
        store.update(module, rng.choice(ids))
    else:
        store.delete(module, rng.choice(ids))


def _expected_drift(
    store: Store,
    seeded: dict[str, dict[str, dict[str, Any]]],
    changes: list[Change],
    delivered: set[int],
) -> dict[str, dict[str, list[str]]]:
    """What reconciliation must find, derived from which changes were dropped: per entity, the
    ERP holds the newest delivered change of each record (the version guard orders them), or
    the initially pulled state when none of its changes was delivered."""
    expected: dict[str, dict[str, list[str]]] = {}
    for module in TABLES:
        missing, stale, extra = [], [], []
        touched = {c.record_id for c in changes if c.module == module and not c.stock}
        for record_id in sorted(touched):
            got = [c for c in changes if c.module == module and c.record_id == record_id and not c.stock]
            landed = [c for c in got if c.seq in delivered]
            erp: dict[str, Any] | None
            erp_deleted = False
            if landed:
                erp, erp_deleted = landed[-1].record, landed[-1].event == "deleted"
            else:
                erp = seeded[module].get(record_id)
            now = store.find(module, record_id)
            if now is not None and erp is None:
                missing.append(record_id)
            elif now is not None and not erp_deleted and module in VERSIONED:
                assert erp is not None
                if _version(now) > _version(erp):
                    stale.append(record_id)
            elif now is None and erp is not None and not erp_deleted:
                extra.append(record_id)
        expected[module] = {"missing": missing, "stale": stale, "extra": extra}
    # stock: the newest delivered stock change of an item (or its pulled locations)
    missing, stale, extra = [], [], []
    item_ids = set(seeded["items"]) | {c.record_id for c in changes if c.module == "items"}
    for item_id in sorted(item_ids):
        landed = [c for c in changes if c.stock and c.record_id == item_id and c.seq in delivered]
        held = store_stock(landed[-1].record if landed else seeded["items"].get(item_id))
        now = store_stock(store.find("items", item_id))
        if now and not held:
            missing.append(item_id)
        elif now and held != now:
            stale.append(item_id)
        elif not now and held:
            (stale if store.find("items", item_id) else extra).append(item_id)
    expected["stock"] = {"missing": missing, "stale": stale, "extra": extra}
    return expected


async def test_lossy_webhooks_then_one_reconciliation_heal_to_exact_equality(
    zoho: Zoho, pool: Any, drain: Any, client: httpx.AsyncClient, api_key: str
) -> None:
    store = zoho.store
    puller = Puller(pool, zoho.client, PullConfig())
    for entity in ENTITIES:
        await puller.run_once(entity, full=True, triggered_by="test")
    await drain()
    await assert_erp_matches(pool, store)
    seeded = {
        module: {r[ID_FIELDS[module]]: copy.deepcopy(r) for r in store.records(module)} for module in TABLES
    }

    rng = random.Random(20240115)
    before = store.last_seq
    # One change a (simulated) second: Zoho's versions have whole seconds, and two edits of one
    # record in the same second would tie — then the later arrival wins (versioning.py) and a
    # reordered pair could leave the older content for the reconciliation to heal, making the
    # expected drift depend on how fast this machine runs the loop.
    real_clock, store.clock = store.clock, ManualClock(datetime.now(UTC))
    try:
        for _ in range(120):
            store.clock.advance(1)
            _mutate(store, rng)
    finally:
        store.clock = real_clock
    changes = store.changes_after(before)
    config = WebhookConfig(
        base_url=str(client.base_url),
        api_key=api_key,
        drop_percent=20,
        duplicate_percent=10,
        reorder_percent=10,
        seed=7,
    )
    emitter = WebhookEmitter(config, client=client)
    for change in changes:
        await emitter.emit(change)
    await emitter.flush()
    stats = emitter.stats
    assert stats.dropped > 0 and stats.duplicates > 0 and stats.reordered > 0, stats
    assert stats.failed == 0 and stats.delivered == stats.sent, stats.by_status
    delivered = {d.change_seq for d in emitter.deliveries}
    assert len(delivered) == len(changes) - stats.dropped
    await drain()
    # every delivered event finished (none waiting out a retry's backoff, which the drain skips)
    unfinished = await pool.fetch(
        "SELECT entity, zoho_id, status::text, attempts, last_error FROM tds_sync_queue"
        " WHERE status NOT IN ('completed', 'skipped_stale', 'skipped_unchanged')"
    )
    assert not unfinished, [dict(row) for row in unfinished]

    expected = _expected_drift(store, seeded, changes, delivered)
    assert sum(len(ids) for drift in expected.values() for ids in drift.values()) > 0
    reconciler = Reconciler(pool, zoho.client)
    for entity in ENTITIES:
        result = await reconciler.run_once(entity, heal=True, triggered_by="test")
        assert result.status == "succeeded", result.error
        found = {
            "missing": sorted(result.drift.missing),
            "stale": sorted(result.drift.stale),
            "extra": sorted(result.drift.extra),
        }
        assert found == expected[entity], entity
        assert result.drift.conflicts == []
        assert result.healed == result.drift.total, entity
        details = await pool.fetchval("SELECT details FROM tds_sync_runs WHERE id = $1", result.run_id)
        assert details["counts"] == {
            "missing": len(found["missing"]),
            "stale": len(found["stale"]),
            "extra": len(found["extra"]),
            "conflicts": 0,
            "unconfirmed": 0,
        }
    await drain()
    await assert_erp_matches(pool, store)
    for entity in ENTITIES:
        again = await reconciler.run_once(entity, heal=False, triggered_by="test")
        assert again.drift.total == 0, (entity, again.drift)
