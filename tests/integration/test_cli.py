"""The `tds` command against a real database: keys, status, dead letters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
import structlog
from typer.testing import CliRunner

from tds_core.cli.main import app
from tds_core.db.pool import connect


@pytest.fixture
def tds(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("TDS_DATABASE_URL", database_url)
    monkeypatch.setenv("TDS_LOG_LEVEL", "WARNING")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result

    yield run
    structlog.reset_defaults()  # the CLI configured logging for itself; leave no trace for other tests


def sql(database_url: str, query: str, *args: Any) -> Any:
    async def go() -> Any:
        connection: asyncpg.Connection = await connect(database_url)
        try:
            return await connection.fetch(query, *args)
        finally:
            await connection.close()

    return asyncio.run(go())


def test_keys_are_shown_once_stored_hashed_listed_and_revoked(tds: Any, database_url: str) -> None:
    created = json.loads(tds("keys", "create", "--name", "zoho-prod", "--json").output)
    assert set(created) >= {"id", "key"} and created["key"].startswith("tds_")
    stored = sql(database_url, "SELECT key_hash, prefix FROM tds_api_keys")
    assert created["key"] not in json.dumps([dict(r) for r in stored], default=str)
    listed = json.loads(tds("keys", "list", "--json").output)
    assert [k["name"] for k in listed] == ["zoho-prod"] and "key" not in listed[0]
    assert "key_hash" not in listed[0]
    revoked = json.loads(tds("keys", "revoke", str(created["id"]), "--json").output)
    assert revoked["revoked"][0]["id"] == created["id"]
    tds("keys", "revoke", str(created["id"]), code=1)  # already revoked: says so, exits 1


def test_status_reports_states_dead_letters_and_the_oldest_pending(tds: Any, database_url: str) -> None:
    sql(
        database_url,
        "INSERT INTO tds_sync_queue (entity, zoho_id, operation, source_version, content_hash, payload,"
        " enqueued_at) VALUES ('items', 'A', 'upsert', now(), 'h', '{}', now() - interval '90 seconds')",
    )
    status = json.loads(tds("status", "--json").output)
    assert status["queue"] == {"pending": 1}
    assert status["dlq_open"] == 0
    assert status["oldest_pending_age_seconds"] >= 90
    assert "pending" in tds("status").output


def test_dead_letters_list_show_and_discard_with_a_note(tds: Any, database_url: str) -> None:
    sql(
        database_url,
        "WITH q AS (INSERT INTO tds_sync_queue (entity, zoho_id, operation, source_version, content_hash,"
        " payload, status, attempts, finished_at) VALUES ('bills', 'B1', 'upsert', now(), 'h',"
        " '{\"bill_id\": \"B1\"}', 'dead', 8, now()) RETURNING *)"
        " INSERT INTO tds_dead_letter_queue (queue_id, entity, zoho_id, operation, source_version, payload,"
        " error, error_class, attempts) SELECT id, entity, zoho_id, operation, source_version, payload,"
        " 'boom', 'permanent', 8 FROM q",
    )
    listed = json.loads(tds("dlq", "list", "--json").output)
    assert [(d["entity"], d["zoho_id"], d["error"]) for d in listed] == [("bills", "B1", "boom")]
    shown = json.loads(tds("dlq", "show", str(listed[0]["id"])).output)
    assert shown["payload"] == {"bill_id": "B1"} and shown["attempts"] == 8
    tds("dlq", "discard", str(listed[0]["id"]), code=2)  # a note is required
    done = json.loads(
        tds("dlq", "discard", str(listed[0]["id"]), "--note", "test data", "--by", "alice", "--json").output
    )
    assert done["discarded"] == 1
    row = sql(database_url, "SELECT status, resolved_by, resolution_note FROM tds_dead_letter_queue")[0]
    assert dict(row) == {"status": "discarded", "resolved_by": "alice", "resolution_note": "test data"}
    assert json.loads(tds("dlq", "list", "--json").output) == []
    tds("dlq", "replay", code=2)  # neither ids nor a filter: refused
