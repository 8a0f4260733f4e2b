"""The alerts admin API and ``tds alerts``: viewers read, operators act, every action is
recorded with who did it, and wrong ids or states get clear 404/409/422 answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import httpx
import pytest
import structlog
from typer.testing import CliRunner

from tds_core.alerts.engine import AlertEngine
from tds_core.alerts.numbers import HostUsage
from tds_core.alerts.rules import RULES
from tds_core.api.routes.alerts import RuleName
from tds_core.cli.alerts import alerts_app
from tds_core.db.pool import connect
from tds_core.db.queries import QUERIES

Headers = Callable[..., Awaitable[dict[str, str]]]
URL = "/api/v1/alerts"


def calm_host() -> HostUsage:
    return HostUsage("api-host", 1.0, 1.0, 1.0, "/")


async def configure(pool: Any, **values: Any) -> None:
    async with pool.acquire() as connection:
        for key, value in values.items():
            await connection.fetch(QUERIES.configuration_set, key.replace("__", "."), value, "tests", None)


async def fire_dlq_growth(pool: Any) -> int:
    """Ten dead letters: the DLQ growth rule (default threshold 10) opens an alert; returns its id."""
    await configure(
        pool,
        alerts__db_connections_percent=100,
        alerts__channels=[{"type": "webhook", "name": "hook", "url": "http://127.0.0.1:9/never-sent"}],
    )
    await pool.execute(
        "INSERT INTO tds_dead_letter_queue (queue_id, entity, zoho_id, operation, source_version, payload,"
        " error, error_class, attempts) SELECT n, 'items', 'Z' || n, 'upsert', now(), '{}', 'boom',"
        " 'permanent', 8 FROM generate_series(1, 10) n"
    )
    await AlertEngine(pool, daily_quota=1000, organization_id=None, host_probe=calm_host).run_once()
    alert_id = await pool.fetchval("SELECT id FROM tds_alerts WHERE fingerprint = 'dlq_growth'")
    assert alert_id is not None
    return int(alert_id)


def test_the_api_knows_every_rule() -> None:
    assert get_args(RuleName) == tuple(rule.name for rule in RULES)


async def test_viewers_read_operators_act(
    client: httpx.AsyncClient, pool: Any, auth_headers: Headers
) -> None:
    alert_id = await fire_dlq_growth(pool)
    viewer, operator = await auth_headers("viewer"), await auth_headers("operator")
    assert (await client.get(URL)).status_code == 401

    listed = await client.get(URL, headers=viewer)
    assert listed.status_code == 200
    assert [(a["id"], a["rule"], a["status"]) for a in listed.json()] == [(alert_id, "dlq_growth", "open")]
    shown = (await client.get(f"{URL}/{alert_id}", headers=viewer)).json()
    assert shown["details"]["new"] == 10 and shown["notified_at"] is not None
    assert [(d["channel"], d["reason"], d["status"]) for d in shown["deliveries"]] == [
        ("hook", "opened", "pending")
    ]
    assert shown["deliveries"][0]["notify_seconds"] is None  # not sent yet

    refused = await client.post(f"{URL}/{alert_id}/ack", headers=viewer)
    assert refused.status_code == 403 and "operator" in refused.json()["error"]

    acked = await client.post(f"{URL}/{alert_id}/ack", headers=operator, json={"note": "on it"})
    assert acked.status_code == 200, acked.text
    body = acked.json()
    assert (body["status"], body["acknowledged_by"], body["note"]) == (
        "acknowledged",
        "operator-user",
        "on it",
    )
    again = await client.post(f"{URL}/{alert_id}/ack", headers=operator)
    assert again.status_code == 409 and "already acknowledged by operator-user" in again.json()["error"]

    resolved = await client.post(f"{URL}/{alert_id}/resolve", headers=operator)
    assert resolved.status_code == 200
    assert (resolved.json()["status"], resolved.json()["resolved_by"]) == ("resolved", "operator-user")
    assert (await client.post(f"{URL}/{alert_id}/resolve", headers=operator)).status_code == 409
    late_ack = await client.post(f"{URL}/{alert_id}/ack", headers=operator)
    assert late_ack.status_code == 409 and "already resolved" in late_ack.json()["error"]

    actions = await pool.fetch(
        "SELECT actor, role, via, action, target, details FROM tds_operator_actions ORDER BY id"
    )
    assert [(a["actor"], a["role"], a["via"], a["action"], a["target"]) for a in actions] == [
        ("operator-user", "operator", "api", "alert.ack", str(alert_id)),
        ("operator-user", "operator", "api", "alert.resolve", str(alert_id)),
    ]
    assert actions[0]["details"] == {"note": "on it"}


async def test_filters_and_paging(client: httpx.AsyncClient, pool: Any, auth_headers: Headers) -> None:
    alert_id = await fire_dlq_growth(pool)
    viewer = await auth_headers("viewer")
    assert len((await client.get(URL, headers=viewer, params={"status": "open"})).json()) == 1
    assert (await client.get(URL, headers=viewer, params={"status": "resolved"})).json() == []
    assert len((await client.get(URL, headers=viewer, params={"rule": "dlq_growth"})).json()) == 1
    assert (await client.get(URL, headers=viewer, params={"rule": "backlog"})).json() == []
    assert (await client.get(URL, headers=viewer, params={"before": alert_id})).json() == []
    bad = await client.get(URL, headers=viewer, params={"status": "sleeping"})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid request"
    assert (await client.get(URL, headers=viewer, params={"limit": 0})).status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/424242", None),
        ("POST", "/424242/ack", None),
        ("POST", "/424242/resolve", None),
        ("POST", "/424242/silence", {"minutes": 5, "reason": "x"}),
        ("DELETE", "/silences/424242", None),
    ],
)
async def test_unknown_ids_are_404(
    client: httpx.AsyncClient, auth_headers: Headers, method: str, path: str, body: Any
) -> None:
    response = await client.request(method, URL + path, headers=await auth_headers("operator"), json=body)
    assert response.status_code == 404
    assert response.json()["error"] in ("no alert 424242", "no silence 424242")


@pytest.mark.parametrize("path", ["/0", "/abc", f"/{2**63}"])
async def test_malformed_ids_are_422(client: httpx.AsyncClient, auth_headers: Headers, path: str) -> None:
    assert (await client.get(URL + path, headers=await auth_headers("viewer"))).status_code == 422


async def test_silences_through_the_api(client: httpx.AsyncClient, pool: Any, auth_headers: Headers) -> None:
    alert_id = await fire_dlq_growth(pool)
    operator, viewer = await auth_headers("operator"), await auth_headers("viewer")
    assert (
        await client.post(f"{URL}/{alert_id}/silence", headers=viewer, json={"minutes": 5, "reason": "x"})
    ).status_code == 403
    silenced = await client.post(
        f"{URL}/{alert_id}/silence", headers=operator, json={"minutes": 30, "reason": "replaying"}
    )
    assert silenced.status_code == 200, silenced.text
    assert (silenced.json()["status"], silenced.json()["silenced_by"]) == ("silenced", "operator-user")

    silences = (await client.get(f"{URL}/silences", headers=viewer)).json()
    assert [(s["rule"], s["fingerprint"], s["reason"]) for s in silences] == [
        ("dlq_growth", "dlq_growth", "replaying")
    ]
    length = datetime.fromisoformat(silences[0]["ends_at"]) - datetime.fromisoformat(silences[0]["starts_at"])
    assert length == timedelta(minutes=30)

    ended = await client.delete(f"{URL}/silences/{silences[0]['id']}", headers=operator)
    assert ended.status_code == 200
    assert (await client.get(f"{URL}/{alert_id}", headers=viewer)).json()["status"] == "open"
    assert (await client.get(f"{URL}/silences", headers=viewer)).json() == []
    assert (
        len((await client.get(f"{URL}/silences", headers=viewer, params={"include_expired": True})).json())
        == 1
    )
    assert (await client.delete(f"{URL}/silences/{silences[0]['id']}", headers=operator)).status_code == 409

    by_rule = await client.post(
        f"{URL}/silences", headers=operator, json={"rule": "backlog", "minutes": 60, "reason": "migration"}
    )
    assert by_rule.status_code == 201 and by_rule.json()["created_by"] == "operator-user"
    whole = await client.post(
        f"{URL}/silences", headers=operator, json={"rule": "backlog", "minutes": 5.0, "reason": "x"}
    )
    assert whole.status_code == 201  # 5.0 is an integer to JSON Schema
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    scheduled = await client.post(
        f"{URL}/silences",
        headers=operator,
        json={"fingerprint": "host_disk:db-1", "minutes": 120, "reason": "maintenance", "starts_at": later},
    )
    assert scheduled.status_code == 201
    assert datetime.fromisoformat(scheduled.json()["starts_at"]) == datetime.fromisoformat(later)
    # the far future is kept within what can be read back, and still ends after it starts
    edge = await client.post(
        f"{URL}/silences",
        headers=operator,
        json={"rule": "backlog", "minutes": 60, "reason": "x", "starts_at": "9999-12-31T23:59:00+00:00"},
    )
    assert edge.status_code == 201, edge.text
    starts, ends = (datetime.fromisoformat(edge.json()[k]) for k in ("starts_at", "ends_at"))
    assert starts < ends <= datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)

    for wrong in (
        {"minutes": 5, "reason": "neither rule nor fingerprint"},
        {"rule": "no_such_rule", "minutes": 5, "reason": "x"},
        {"rule": "backlog", "minutes": 0, "reason": "x"},
        {"rule": "backlog", "minutes": 5, "reason": ""},
        {"rule": "backlog", "minutes": 5, "reason": "x", "starts_at": "2026-01-01T00:00:00"},
        {"rule": "backlog", "minutes": 5, "reason": "nul \x00 byte"},
        {"rule": "backlog", "minutes": 5, "reason": "x", "starts_at": 1826366},
        {"rule": "backlog", "minutes": "5", "reason": "x"},
    ):
        answer = await client.post(f"{URL}/silences", headers=operator, json=wrong)
        assert answer.status_code == 422, (wrong, answer.text)
        assert answer.json()["reasons"]
    actions = [r["action"] for r in await pool.fetch("SELECT action FROM tds_operator_actions ORDER BY id")]
    assert actions == ["alert.silence", "alert.unsilence"] + ["alert.silence"] * 4


async def test_rules_show_the_current_thresholds(
    client: httpx.AsyncClient, pool: Any, auth_headers: Headers
) -> None:
    await configure(pool, alerts__backlog=7, alerts__sync_lag_minutes=30)
    rules = {
        r["rule"]: r for r in (await client.get(f"{URL}/rules", headers=await auth_headers("viewer"))).json()
    }
    assert set(rules) == {rule.name for rule in RULES}
    assert rules["backlog"]["thresholds"] == {"backlog": 7.0}
    assert rules["sync_lag"]["thresholds"] == {"sync_lag_minutes": 30.0}
    assert rules["failure_rate"]["severity"] == "critical"


async def test_who_is_on_call_now(client: httpx.AsyncClient, pool: Any, auth_headers: Headers) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    await configure(
        pool,
        alerts__channels=[{"type": "webhook", "name": "hook", "url": "http://127.0.0.1:9/"}],
        alerts__oncall={
            "rotation": "daily",
            "starts_at": today.isoformat(),
            "levels": [
                {"members": [{"name": "ana"}, {"name": "ben"}], "channels": ["hook"]},
                {"members": [{"name": "cy", "email": "cy@example.com"}], "channels": ["hook"]},
            ],
        },
    )
    answer = (await client.get(f"{URL}/oncall", headers=await auth_headers("viewer"))).json()
    assert answer["rotation"] == "daily" and answer["escalate_after_minutes"] == 15
    assert [(s["level"], s["member"]["name"]) for s in answer["levels"]] == [(0, "ana"), (1, "cy")]
    assert answer["levels"][1]["member"]["email"] == "cy@example.com"
    assert datetime.fromisoformat(answer["levels"][0]["ends_at"]) == today + timedelta(days=1)


# ---------------------------------------------------------------------------- tds alerts
def run_sql(database_url: str, query: str, *args: Any) -> list[Any]:
    async def go() -> list[Any]:
        connection = await connect(database_url)
        try:
            return list(await connection.fetch(query, *args))
        finally:
            await connection.close()

    return asyncio.run(go())


@pytest.fixture
def tds_alerts(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("TDS_DATABASE_URL", database_url)
    monkeypatch.setenv("TDS_LOG_LEVEL", "WARNING")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(alerts_app, list(args))
        assert result.exit_code == code, result.output
        return result

    yield run
    structlog.reset_defaults()


def test_cli_list_show_ack_resolve_silence(tds_alerts: Any, database_url: str) -> None:
    rows = run_sql(
        database_url,
        "INSERT INTO tds_alerts (rule, fingerprint, severity, title, message) VALUES"
        " ('backlog', 'backlog', 'warning', '1,500 events waiting', 'More than 1,000'),"
        " ('dlq_age', 'dlq_age', 'warning', '2 dead letters older than 24 h', 'replay them')"
        " RETURNING id",
    )
    backlog, dlq = (r["id"] for r in rows)

    listed = json.loads(tds_alerts("list", "--json").output)
    assert [a["id"] for a in listed] == [dlq, backlog]
    assert [a["id"] for a in json.loads(tds_alerts("list", "--rule", "backlog", "--json").output)] == [
        backlog
    ]
    table = tds_alerts("list").output
    assert "backlog" in table and "dlq_age" in table
    shown = json.loads(tds_alerts("show", str(backlog), "--json").output)
    assert (shown["title"], shown["deliveries"]) == ("1,500 events waiting", [])
    tds_alerts("show", "999999", code=1)

    acked = json.loads(
        tds_alerts("ack", str(backlog), "--by", "alice", "--note", "draining", "--json").output
    )
    assert (acked["status"], acked["acknowledged_by"], acked["note"]) == ("acknowledged", "alice", "draining")
    assert "already acknowledged by alice" in tds_alerts("ack", str(backlog), "--by", "bob", code=1).output

    tds_alerts("silence", str(dlq), "--minutes", "30", code=2)  # a reason is required
    silenced = json.loads(
        tds_alerts(
            "silence", str(dlq), "--minutes", "30", "--reason", "known", "--by", "carol", "--json"
        ).output
    )
    assert (silenced["status"], silenced["silenced_by"]) == ("silenced", "carol")

    resolved = tds_alerts("resolve", str(backlog), "--by", "alice")
    assert f"alert {backlog} resolved by alice" in resolved.output
    tds_alerts("resolve", str(backlog), code=1)
    tds_alerts("silence", str(backlog), "--reason", "late", code=1)  # resolved: silence its rule instead

    actions = run_sql(database_url, "SELECT actor, via, action, target FROM tds_operator_actions ORDER BY id")
    assert [(a["actor"], a["via"], a["action"], a["target"]) for a in actions] == [
        ("alice", "cli", "alert.ack", str(backlog)),
        ("carol", "cli", "alert.silence", str(dlq)),
        ("alice", "cli", "alert.resolve", str(backlog)),
    ]
