"""The admin API of the dead letter queue: list, show, replay one, discard with a note, bulk
discard, bulk replay as a job; wrong states and bad input answered 404/409/422; every action
recorded with who did it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from tds_core.domain.states import Operation
from tds_core.jobs.inbox_replay import InboxReplayConfig, replay_handlers
from tds_core.jobs.runner import JobRunner
from tds_core.staging.service import Envelope, stage_event

from . import samples

Headers = Callable[..., Awaitable[dict[str, str]]]

POISON = """
CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ERP trigger refuses product %', NEW.zoho_id;
END $$;
CREATE TRIGGER test_poison BEFORE INSERT OR UPDATE ON products
    FOR EACH ROW WHEN (NEW.zoho_id LIKE 'DL-%') EXECUTE FUNCTION test_poison();
INSERT INTO tds_configuration (key, version, value, updated_by) VALUES
    ('worker.max_attempts', 2, '1', 'tests'),
    ('retry.backoff_base_seconds', 2, '0', 'tests'),
    ('breaker.min_calls', 2, '1000000', 'tests');
"""


async def make_dead_letters(pool: Any, drain: Any, count: int, *, cure: bool = True) -> list[int]:
    """``count`` item events that an ERP trigger refuses, dead-lettered on their first attempt
    (the technique of test_dead_letters.py); with ``cure`` the trigger is dropped afterwards, so a
    replay applies them. Returns the dead letter ids, oldest first."""
    await pool.execute(POISON)
    async with pool.acquire() as connection, connection.transaction():  # one commit, not 1,000
        for n in range(count):
            document = {"item": samples.item(item_id=f"DL-{n:04d}", name=f"Dead {n}")}
            envelope = Envelope(
                entity="items",
                source="webhook",
                received_at=datetime.now(UTC),
                body=orjson.dumps(document),
                content_type="application/json",
            )
            await stage_event(connection, envelope, document, Operation.UPSERT)
    await drain(concurrency=1)  # one worker: the letters are written in event order (ids follow zoho ids)
    if cure:
        await pool.execute("DROP TRIGGER test_poison ON products")
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM tds_dead_letter_queue ORDER BY id")]
    assert len(ids) == count
    zoho_ids = await pool.fetch("SELECT zoho_id FROM tds_dead_letter_queue ORDER BY id")
    assert [r["zoho_id"] for r in zoho_ids] == [f"DL-{n:04d}" for n in range(count)]
    return ids


async def actions(pool: Any, action: str | None = None) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT actor, role, via, action, target, details FROM tds_operator_actions"
        " WHERE $1::text IS NULL OR action = $1 ORDER BY id",
        action,
    )
    return [dict(r) for r in rows]


async def test_list_show_replay_and_a_second_replay_is_refused(
    client: httpx.AsyncClient, auth_headers: Headers, pool: Any, drain: Any
) -> None:
    first, second = await make_dead_letters(pool, drain, 2)
    viewer, operator = await auth_headers("viewer"), await auth_headers("operator")

    listed = await client.get("/api/v1/dlq", headers=viewer)
    assert listed.status_code == 200, listed.text
    assert [d["id"] for d in listed.json()] == [second, first]  # newest first
    assert {d["status"] for d in listed.json()} == {"open"}
    page = await client.get("/api/v1/dlq", params={"before_id": second, "limit": 1}, headers=viewer)
    assert [d["id"] for d in page.json()] == [first]
    by_id = await client.get("/api/v1/dlq", params={"zoho_id": "DL-0001"}, headers=viewer)
    assert [d["id"] for d in by_id.json()] == [second]
    by_error = await client.get("/api/v1/dlq", params={"error": "erp TRIGGER refuses"}, headers=viewer)
    assert len(by_error.json()) == 2
    literal = await client.get("/api/v1/dlq", params={"error": "ERP%refuses"}, headers=viewer)
    assert literal.json() == []  # the error filter is a literal substring, not a pattern

    shown = await client.get(f"/api/v1/dlq/{first}", headers=viewer)
    assert shown.status_code == 200
    letter = shown.json()
    assert letter["payload"]["item_id"] == "DL-0000" and letter["attempts"] == 1
    assert "ERP trigger refuses product DL-0000" in letter["error"]
    assert [h["attempt"] for h in letter["attempt_history"]] == [1]

    refused = await client.post(f"/api/v1/dlq/{first}/replay", headers=viewer)
    assert refused.status_code == 403
    replayed = await client.post(
        f"/api/v1/dlq/{first}/replay", json={"note": "trigger fixed"}, headers=operator
    )
    assert replayed.status_code == 200, replayed.text
    body = replayed.json()
    assert (body["status"], body["resolved_by"], body["resolution_note"]) == (
        "replayed",
        "operator-user",
        "trigger fixed",
    )
    again = await client.post(f"/api/v1/dlq/{first}/replay", headers=operator)
    assert again.status_code == 409
    assert again.json()["error"].startswith(f"dead letter {first} is already replayed (by operator-user")

    await drain()
    assert await pool.fetchval("SELECT name FROM products WHERE zoho_id = 'DL-0000'") == "Dead 0"
    assert await pool.fetchval("SELECT count(*) FROM products") == 1  # the other letter is still open
    queue = await pool.fetchrow(
        "SELECT status::text AS status, attempts, attempt_history FROM tds_sync_queue WHERE id = $1",
        letter["queue_id"],
    )
    assert (queue["status"], queue["attempts"]) == ("completed", 1)
    assert queue["attempt_history"][-1]["event"] == "replayed from the dead letter queue"
    recorded = await actions(pool, "dlq.replay")
    assert recorded == [
        {
            "actor": "operator-user",
            "role": "operator",
            "via": "api",
            "action": "dlq.replay",
            "target": str(first),
            "details": {"queue_id": letter["queue_id"], "note": "trigger fixed"},
        }
    ]


async def test_discard_needs_a_note_and_is_recorded(
    client: httpx.AsyncClient, auth_headers: Headers, pool: Any, drain: Any
) -> None:
    (letter,) = await make_dead_letters(pool, drain, 1)
    operator = await auth_headers("operator")
    missing = await client.post(f"/api/v1/dlq/{letter}/discard", json={}, headers=operator)
    assert missing.status_code == 422 and "note" in " ".join(missing.json()["reasons"])
    blank = await client.post(f"/api/v1/dlq/{letter}/discard", json={"note": "   "}, headers=operator)
    assert blank.status_code == 422 and "note" in " ".join(blank.json()["reasons"])
    done = await client.post(f"/api/v1/dlq/{letter}/discard", json={"note": "test data"}, headers=operator)
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["resolution_note"]) == ("discarded", "test data")
    assert (await client.post(f"/api/v1/dlq/{letter}/replay", headers=operator)).status_code == 409
    assert (
        await client.post(f"/api/v1/dlq/{letter}/discard", json={"note": "again"}, headers=operator)
    ).status_code == 409
    assert await pool.fetchval("SELECT status::text FROM tds_sync_queue") == "dead"  # the event stays dead
    logs = await pool.fetch("SELECT outcome, message FROM tds_sync_logs WHERE outcome = 'discarded'")
    assert [tuple(r) for r in logs] == [("discarded", "discarded by operator-user: test data")]
    recorded = await actions(pool, "dlq.discard")
    assert [(a["actor"], a["via"], a["target"], a["details"]["note"]) for a in recorded] == [
        ("operator-user", "api", str(letter), "test data")
    ]


async def test_unknown_letters_and_bad_filters(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    operator = await auth_headers("operator")
    assert (await client.get("/api/v1/dlq/42", headers=operator)).json() == {
        "error": "no dead letter 42",
        "reasons": ["no dead letter 42"],
    }
    assert (await client.post("/api/v1/dlq/42/replay", headers=operator)).status_code == 404
    assert (
        await client.post("/api/v1/dlq/42/discard", json={"note": "x"}, headers=operator)
    ).status_code == 404
    for params in ({"entity": "widgets"}, {"status": "lost"}, {"limit": 0}, {"error_class": "odd"}):
        answer = await client.get("/api/v1/dlq", params=params, headers=operator)
        assert answer.status_code == 422, params
        assert answer.json()["error"] == "invalid request"
    assert (await client.get("/api/v1/dlq/0", headers=operator)).status_code == 422
    assert (await client.get("/api/v1/dlq")).status_code == 401
    nothing = await client.post("/api/v1/dlq/replay", json={}, headers=operator)
    assert nothing.status_code == 422 and "filter" in nothing.json()["error"]
    no_note = await client.post("/api/v1/dlq/discard", json={"all": True}, headers=operator)
    assert no_note.status_code == 422


async def test_bulk_discard_by_ids_and_by_filter(
    client: httpx.AsyncClient, auth_headers: Headers, pool: Any, drain: Any
) -> None:
    ids = await make_dead_letters(pool, drain, 5)
    operator = await auth_headers("operator")
    by_ids = await client.post(
        "/api/v1/dlq/discard", json={"ids": [ids[0], ids[1], 999_999], "note": "duplicates"}, headers=operator
    )
    assert by_ids.status_code == 200, by_ids.text
    assert by_ids.json() == {"discarded": 2}
    rest = await client.post(
        "/api/v1/dlq/discard", json={"zoho_id": "DL-0004", "note": "bad record"}, headers=operator
    )
    assert rest.json() == {"discarded": 1}
    rows = await pool.fetch("SELECT id, status, resolution_note FROM tds_dead_letter_queue ORDER BY id")
    assert [(r["status"], r["resolution_note"]) for r in rows] == [
        ("discarded", "duplicates"),
        ("discarded", "duplicates"),
        ("open", None),
        ("open", None),
        ("discarded", "bad record"),
    ]
    recorded = await actions(pool, "dlq.discard")
    assert [a["details"]["ids"] for a in recorded] == [[ids[0], ids[1]], [ids[4]]]
    assert {a["actor"] for a in recorded} == {"operator-user"}


async def test_bulk_replay_by_filter_is_a_job(
    client: httpx.AsyncClient, auth_headers: Headers, pool: Any, drain: Any
) -> None:
    ids = await make_dead_letters(pool, drain, 4)
    await pool.execute(
        "UPDATE tds_dead_letter_queue SET error = 'timeout talking to the ERP' WHERE id = $1", ids[2]
    )
    operator = await auth_headers("operator")
    started = await client.post(
        "/api/v1/dlq/replay", json={"error": "timeout", "note": "ERP is back"}, headers=operator
    )
    assert started.status_code == 202, started.text
    job = started.json()
    assert (job["kind"], job["status"], job["total"], job["done"]) == ("dlq_replay", "queued", 1, 0)
    assert job["created_by"] == "operator-user"
    runner = JobRunner(pool, replay_handlers(pool, config=InboxReplayConfig(batch_size=2)))
    assert await runner.run_once()
    finished = (await client.get(f"/api/v1/jobs/{job['id']}", headers=operator)).json()
    assert (finished["status"], finished["done"], finished["progress"]) == ("completed", 1, 1.0)
    assert finished["result"] == {"replayed": 1, "skipped": 0}
    letters = await pool.fetch(
        "SELECT id, status, resolved_by, resolution_note FROM tds_dead_letter_queue ORDER BY id"
    )
    assert [r["status"] for r in letters] == ["open", "open", "replayed", "open"]
    assert (letters[2]["resolved_by"], letters[2]["resolution_note"]) == (
        "operator-user",
        f"job {job['id']}: ERP is back",
    )
    created = await actions(pool, "job.create")
    assert [(a["actor"], a["via"], a["target"], a["details"]["kind"]) for a in created] == [
        ("operator-user", "api", str(job["id"]), "dlq_replay")
    ]
