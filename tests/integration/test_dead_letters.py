"""Guarantee 5, in process: a poison event is retried, then dead-lettered with its history, while
good events in the same batch are still applied."""

from __future__ import annotations

from typing import Any

import pytest

from tds_core.access.actions import Actor
from tds_core.operations import dead_letters

from . import samples
from .conftest import Send

POISON = "POISON-1"
TESTER = Actor(name="tests", role="operator", via="cli")


@pytest.fixture
async def poisoned(pool: Any) -> None:
    """products refuse one zoho id (a target-side failure), after 2 attempts it is dead, no backoff."""
    await pool.execute(
        """
        CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ERP trigger refuses product %', NEW.zoho_id;
        END $$;
        CREATE TRIGGER test_poison BEFORE INSERT OR UPDATE ON products
            FOR EACH ROW WHEN (NEW.zoho_id = 'POISON-1') EXECUTE FUNCTION test_poison();
        INSERT INTO tds_configuration (key, version, value, updated_by)
        VALUES ('worker.max_attempts', 2, '2', 'tests'), ('retry.backoff_base_seconds', 2, '0', 'tests');
        """
    )


async def test_poison_event_ends_in_the_dead_letter_queue(
    poisoned: None, webhook: Send, pool: Any, drain: Any
) -> None:
    response = await webhook("items", {"item": samples.item(item_id=POISON)})
    event_id = response.json()["event_id"]
    await drain()

    queue = await pool.fetchrow("SELECT * FROM tds_sync_queue WHERE inbox_event_id = $1", event_id)
    assert queue["status"] == "dead"
    assert queue["attempts"] == 2
    assert queue["locked_by"] is None and queue["finished_at"] is not None
    letter = await pool.fetchrow("SELECT * FROM tds_dead_letter_queue")
    assert letter["queue_id"] == queue["id"]
    assert letter["inbox_event_id"] == event_id
    assert (letter["entity"], letter["zoho_id"], letter["status"]) == ("items", POISON, "open")
    assert "ERP trigger refuses product POISON-1" in letter["error"]
    assert letter["error_class"] == "retryable"
    assert letter["attempts"] == 2
    history = letter["attempt_history"]
    assert [h["attempt"] for h in history] == [1, 2]
    assert all("ERP trigger refuses product" in h["error"] for h in history)
    assert all(h["class"] == "retryable" and h["worker"] and h["at"] for h in history)
    assert letter["payload"]["item_id"] == POISON
    assert await pool.fetchval("SELECT count(*) FROM products") == 0
    assert await pool.fetchval("SELECT count(*) FROM tds_audit_trail") == 0
    logs = await pool.fetch("SELECT outcome, attempt FROM tds_sync_logs ORDER BY id")
    assert [(r["outcome"], r["attempt"]) for r in logs] == [("retry", 1), ("dead", 2)]
    summary = await pool.fetch("SELECT entity, error_class, open_items FROM tds_v_dlq_summary")
    assert [tuple(r) for r in summary] == [("items", "retryable", 1)]


async def test_good_events_in_the_poisoned_batch_still_apply(
    poisoned: None, webhook: Send, pool: Any, drain: Any
) -> None:
    good = [samples.item(item_id=f"GOOD-{n}", name=f"Good {n}") for n in range(3)]
    await webhook("items", {"item": good[0]})
    await webhook("items", {"item": samples.item(item_id=POISON)})
    await webhook("items", {"item": good[1]})
    await webhook("invoices", {"invoice": samples.invoice()})
    await webhook("items", {"item": good[2]})
    await drain(concurrency=1)

    states = await pool.fetch("SELECT zoho_id, status::text AS status FROM tds_sync_queue ORDER BY id")
    assert [(r["zoho_id"], r["status"]) for r in states] == [
        ("GOOD-0", "completed"),
        (POISON, "dead"),
        ("GOOD-1", "completed"),
        ("982000000567114", "completed"),
        ("GOOD-2", "completed"),
    ]
    names = await pool.fetch("SELECT zoho_id, name FROM products ORDER BY zoho_id")
    assert [(r["zoho_id"], r["name"]) for r in names] == [
        ("GOOD-0", "Good 0"),
        ("GOOD-1", "Good 1"),
        ("GOOD-2", "Good 2"),
    ]
    assert await pool.fetchval("SELECT count(*) FROM invoice_line_items") == 2
    assert await pool.fetchval("SELECT count(*) FROM tds_dead_letter_queue") == 1
    # every applied event has exactly its audit rows; the poison none
    audited = await pool.fetch("SELECT DISTINCT zoho_id FROM tds_audit_trail ORDER BY 1")
    assert [r["zoho_id"] for r in audited] == ["982000000567114", "GOOD-0", "GOOD-1", "GOOD-2"]


async def test_permanent_error_is_dead_at_once(webhook: Send, pool: Any, drain: Any) -> None:
    """A value the database refuses (a CHECK added by the ERP side) cannot pass by retrying."""
    await pool.execute("ALTER TABLE products ADD CONSTRAINT test_rate_positive CHECK (rate > 0)")
    await webhook("items", {"item": samples.item(item_id="NEG", rate=-1)})
    await webhook("items", {"item": samples.item(item_id="POS")})
    await drain()
    states = await pool.fetch(
        "SELECT zoho_id, status::text AS status, attempts FROM tds_sync_queue ORDER BY id"
    )
    assert [tuple(r) for r in states] == [("NEG", "dead", 1), ("POS", "completed", 1)]
    letter = await pool.fetchrow("SELECT error_class, attempts FROM tds_dead_letter_queue")
    assert tuple(letter) == ("permanent", 1)


async def test_replayed_dead_letter_applies_once_fixed(
    poisoned: None, webhook: Send, pool: Any, drain: Any
) -> None:
    await webhook("items", {"item": samples.item(item_id=POISON)})
    await drain()
    letter_id = await pool.fetchval("SELECT id FROM tds_dead_letter_queue")
    await pool.execute("DROP TRIGGER test_poison ON products")
    async with pool.acquire() as connection:
        replayed = await dead_letters.replay_ids(connection, [letter_id], TESTER, "trigger fixed")
    assert len(replayed.resolved) == 1
    assert replayed.skipped == []
    letter = await pool.fetchrow("SELECT resolved_by, resolution_note FROM tds_dead_letter_queue")
    assert tuple(letter) == ("tests", "trigger fixed")
    await drain()
    assert await pool.fetchval("SELECT status::text FROM tds_sync_queue") == "completed"
    assert await pool.fetchval("SELECT status FROM tds_dead_letter_queue") == "replayed"
    assert await pool.fetchval("SELECT name FROM products WHERE zoho_id = $1", POISON) == "USB-C Cable 1m"
