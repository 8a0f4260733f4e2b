"""Guarantee 5: a poison event lands in the DLQ after max_attempts, its neighbours are applied,
and once the cause is fixed ``tds dlq replay`` (the real CLI) applies it.

The poison is a trigger on ``products`` that raises for one Zoho id (a retryable target error,
like a failing ERP constraint a DBA will fix).
"""

from __future__ import annotations

import json

import pytest

from tests.acceptance.conftest import (
    Delivery,
    Processes,
    check_all_accepted_finished,
    check_applied_once,
    check_no_busy_rows,
    connect,
    create_api_key,
    make_record,
    send_all,
    set_config,
    wait_drained,
    wait_until,
)

pytestmark = pytest.mark.acceptance

POISON = "POISON-1"
MAX_ATTEMPTS = 3
OPERATOR = "acceptance-operator"


async def test_poison_event_is_dead_lettered_then_replayed_by_the_cli(
    tds: Processes, database_url: str
) -> None:
    key = await create_api_key(database_url)
    db = await connect(database_url)
    try:
        await set_config(
            db,
            {
                "worker.max_attempts": MAX_ATTEMPTS,
                "retry.backoff_base_seconds": 0.05,
                "retry.backoff_cap_seconds": 0.2,
            },
        )
        await db.execute(
            f"""
            CREATE FUNCTION acceptance_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.zoho_id = '{POISON}' THEN
                    RAISE EXCEPTION 'acceptance poison: % is refused by the ERP', NEW.zoho_id;
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER acceptance_poison BEFORE INSERT OR UPDATE ON products
                FOR EACH ROW EXECUTE FUNCTION acceptance_poison();
            """
        )
        api = await tds.api(database_url)
        ids = [f"GOOD-{n}" for n in range(10)]
        ids.insert(5, POISON)
        deliveries = [Delivery("items", i, 1, {"item": make_record("items", i, 1)}) for i in ids]
        load = await send_all(api.base_url, key, deliveries)
        assert not load.failed, load.summary()
        poison_event = next(a.event_id for a in load.answers if a.delivery.zoho_id == POISON)

        worker = tds.worker(database_url)
        await wait_drained(db, len(ids), timeout=60)

        # The poison is dead after exactly max_attempts; its neighbours were applied.
        queue = await db.fetchrow(
            "SELECT id, status::text AS status, attempts FROM tds_sync_queue WHERE inbox_event_id = $1",
            poison_event,
        )
        assert (queue["status"], queue["attempts"]) == ("dead", MAX_ATTEMPTS)
        good = await db.fetchval(
            "SELECT count(*) FROM products WHERE zoho_id = ANY($1::text[])", [i for i in ids if i != POISON]
        )
        assert good == len(ids) - 1
        assert await db.fetchval("SELECT count(*) FROM products WHERE zoho_id = $1", POISON) == 0
        outcomes = [
            r["outcome"]
            for r in await db.fetch(
                "SELECT outcome FROM tds_sync_logs WHERE queue_id = $1 ORDER BY id", queue["id"]
            )
        ]
        assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["dead"]

        listed = tds.cli(database_url, "dlq", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        letters = [row for row in json.loads(listed.stdout) if row["zoho_id"] == POISON]
        assert len(letters) == 1, listed.stdout
        letter = letters[0]
        assert letter["queue_id"] == queue["id"]
        assert letter["status"] == "open" and letter["attempts"] == MAX_ATTEMPTS
        assert "acceptance poison" in letter["error"] and letter["error_class"] == "retryable"

        # Fix the cause, then replay through the CLI; the running worker applies it.
        await db.execute("DROP TRIGGER acceptance_poison ON products")
        replayed = tds.cli(database_url, "dlq", "replay", str(letter["id"]), "--by", OPERATOR, "--json")
        assert replayed.returncode == 0, replayed.stderr
        assert json.loads(replayed.stdout) == {"replayed": 1, "ids": [letter["id"]], "skipped": []}

        async def applied() -> bool:
            return bool(
                await db.fetchval(
                    "SELECT count(*) FROM products WHERE zoho_id = $1 AND deleted_at IS NULL", POISON
                )
            )

        await wait_until(applied, timeout=30, what="the replayed event to be applied")
        await wait_drained(db, len(ids), timeout=30)
        assert worker.alive(), worker.log()[-3000:]

        dead_letter = await db.fetchrow(
            "SELECT status, resolved_by, resolved_at FROM tds_dead_letter_queue WHERE id = $1", letter["id"]
        )
        assert dead_letter["status"] == "replayed"
        assert dead_letter["resolved_by"] == OPERATOR and dead_letter["resolved_at"] is not None
        data = await db.fetchval("SELECT data FROM products WHERE zoho_id = $1", POISON)
        assert data == deliveries[5].body["item"]
        assert (
            await db.fetchval("SELECT status::text FROM tds_sync_queue WHERE id = $1", queue["id"])
            == "completed"
        )
        assert (
            await db.fetchval(
                "SELECT count(*) FROM tds_audit_trail WHERE queue_id = $1 AND action = 'insert'", queue["id"]
            )
            == 1
        )
        await check_no_busy_rows(db)
        await check_all_accepted_finished(db, load.accepted)
        await check_applied_once(db)
    finally:
        await db.close()
