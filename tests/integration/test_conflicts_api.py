"""ERP conflicts through the doors operators use: the admin API (list, show with a diff, resolve;
404/409/422/403), ``tds conflicts``, the /metrics counter and gauge, and the alert rule."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import structlog
import typer
from typer.testing import CliRunner

from tds_core.alerts.engine import AlertEngine
from tds_core.alerts.numbers import HostUsage
from tds_core.cli.conflicts import conflicts_app
from tds_core.db.pool import create_pool
from tds_core.observability import metrics

from .test_conflicts import hold_one, product
from .test_dlq_api import Headers
from .test_metrics import parse, value

cli = typer.Typer()
cli.add_typer(conflicts_app, name="conflicts")


async def test_list_show_and_resolve_through_the_api(
    pool: Any, drain: Any, client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    held = await hold_one(pool, drain)
    viewer, operator = await auth_headers("viewer"), await auth_headers("operator")

    listed = await client.get(
        "/api/v1/conflicts", params={"status": "open", "entity": "items"}, headers=viewer
    )
    assert listed.status_code == 200, listed.text
    (summary,) = listed.json()
    assert (summary["id"], summary["policy"], summary["held_events"], summary["changed_columns"]) == (
        held["id"],
        "hold",
        1,
        ["name"],
    )
    assert (await client.get("/api/v1/conflicts", params={"status": "resolved"}, headers=viewer)).json() == []
    page = await client.get("/api/v1/conflicts", params={"before_id": held["id"]}, headers=viewer)
    assert page.json() == []

    shown = await client.get(f"/api/v1/conflicts/{held['id']}", headers=viewer)
    assert shown.status_code == 200, shown.text
    detail = shown.json()
    name = next(row for row in detail["diff"] if row["column"] == "name")
    assert (name["local"], name["source"], name["changed_locally"], name["differs"]) == (
        "Local name",
        "Zoho v2",
        True,
        True,
    )
    assert detail["payload"]["name"] == "Zoho v2"
    assert detail["held_queue_ids"] == [held["queue_id"]]

    # a viewer reads but does not resolve; bad input is refused with the reason
    url = f"/api/v1/conflicts/{held['id']}/resolve"
    denied = await client.post(url, json={"resolution": "keep_local"}, headers=viewer)
    assert denied.status_code == 403 and "operator" in denied.json()["error"]
    bad = await client.post(url, json={"resolution": "merge"}, headers=operator)
    assert bad.status_code == 422 and "resolution" in bad.text
    missing = await client.post(url, json={}, headers=operator)
    assert missing.status_code == 422
    unknown = await client.post(
        "/api/v1/conflicts/999999/resolve", json={"resolution": "keep_local"}, headers=operator
    )
    assert unknown.status_code == 404 and "no conflict 999999" in unknown.text
    assert (await client.get("/api/v1/conflicts/999999", headers=viewer)).status_code == 404
    assert (await client.get("/api/v1/conflicts/0", headers=viewer)).status_code == 422
    assert (
        await client.get("/api/v1/conflicts", params={"entity": "widgets"}, headers=viewer)
    ).status_code == 422
    assert (await client.get("/api/v1/conflicts")).status_code == 401

    resolved = await client.post(
        url, json={"resolution": "apply_source", "note": "Zoho wins"}, headers=operator
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["status"], body["resolution"], body["resolved_by"], body["note"]) == (
        "resolved",
        "apply_source",
        "operator-user",
        "Zoho wins",
    )
    twice = await client.post(url, json={"resolution": "keep_local"}, headers=operator)
    assert twice.status_code == 409 and "already resolved" in twice.json()["error"]
    await drain()
    assert (await product(pool))["name"] == "Zoho v2"
    action = await pool.fetchrow(
        "SELECT actor, role, via, action FROM tds_operator_actions WHERE action LIKE 'conflict%'"
    )
    assert tuple(action) == ("operator-user", "operator", "api", "conflict.resolve")


async def test_policies_are_validated_by_the_configuration_api(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    admin = await auth_headers("admin")
    url = "/api/v1/config/conflicts.policies"
    refused = await client.put(
        url, json={"value": {"items": {"policy": "preserve_columns", "columns": ["zoho_id"]}}}, headers=admin
    )
    assert refused.status_code == 422, refused.text
    assert "'zoho_id' not data columns of products" in refused.text
    lines = await client.put(
        url,
        json={"value": {"invoices": {"policy": "preserve_columns", "columns": ["line_items"]}}},
        headers=admin,
    )
    assert lines.status_code == 422, lines.text
    assert "invoices: 'line_items' cannot be preserved" in lines.text
    accepted = await client.put(
        url,
        json={"value": {"items": {"policy": "preserve_columns", "columns": ["reorder_level"]}}},
        headers=admin,
    )
    assert accepted.status_code == 200, accepted.text


async def test_metrics_count_conflicts_and_show_open_ones(
    pool: Any, drain: Any, client: httpx.AsyncClient
) -> None:
    await hold_one(pool, drain)
    samples, types = parse((await client.get("/metrics")).text)
    assert types["tds_conflicts"] == "counter"
    assert types["tds_conflicts_open"] == "gauge"
    assert value(samples, "tds_conflicts_total", entity="items", policy="hold") == 1.0
    assert value(samples, "tds_conflicts_total", entity="invoices", policy="source_wins") == 0.0
    assert value(samples, "tds_conflicts_open", entity="items") == 1.0
    assert value(samples, "tds_sync_outcomes_total", entity="items", outcome="held") == 1.0
    # the counter survives the roll-up folding the minute (cumulative, like the other totals)
    from tds_core.observability.rollup import MetricsRollup, RollupConfig

    await MetricsRollup(pool, RollupConfig(settle_seconds=0)).run_once(
        now=datetime.now(UTC).replace(year=2100)
    )
    later, _ = parse(metrics.exposition(await metrics.collect(pool)).decode())
    assert value(later, "tds_conflicts_total", entity="items", policy="hold") == 1.0


def calm_host() -> HostUsage:
    return HostUsage("box", cpu_percent=1.0, memory_percent=1.0, disk_percent=1.0, disk_path="/")


async def test_alert_opens_while_conflicts_are_held(pool: Any, drain: Any) -> None:
    engine = AlertEngine(pool, daily_quota=1000, organization_id=None, host_probe=calm_host)
    await engine.run_once()
    assert await pool.fetchval("SELECT count(*) FROM tds_alerts WHERE rule = 'conflicts_open'") == 0
    held = await hold_one(pool, drain)
    await engine.run_once()
    alert = await pool.fetchrow(
        "SELECT status, severity, title FROM tds_alerts WHERE rule = 'conflicts_open'"
    )
    assert (alert["status"], alert["severity"]) == ("open", "warning")
    assert "1 ERP conflicts held" in alert["title"]
    async with pool.acquire() as connection:
        from tds_core.access.actions import Actor
        from tds_core.operations import conflicts

        await conflicts.resolve(connection, held["id"], "keep_local", Actor("ops"))
    await engine.run_once()
    assert await pool.fetchval("SELECT status FROM tds_alerts WHERE rule = 'conflicts_open'") == "resolved"


# ---------------------------------------------------------------------------- the CLI
HELD = """
WITH p AS (
    INSERT INTO products (zoho_id, name, source_version, content_hash, tds_written)
    VALUES ('CLI-1', 'Local', '2026-01-01', 'h1', '{"name": "Zoho v1"}') RETURNING zoho_id
), q AS (
    INSERT INTO tds_sync_queue (entity, zoho_id, operation, source_version, content_hash, payload,
                                status, attempts, finished_at)
    VALUES ('items', 'CLI-1', 'upsert', '2026-01-02', 'h2', '{"item_id": "CLI-1", "name": "Zoho v2"}',
            'held', 1, now())
    RETURNING id
)
INSERT INTO tds_conflicts (entity, zoho_id, erp_table, row_key, policy, queue_id, held_queue_ids,
                           operation, source_version, content_hash, payload, source_row, local_row,
                           written, changed_columns)
SELECT 'items', 'CLI-1', 'products', 'CLI-1', 'hold', q.id, ARRAY[q.id], 'upsert', '2026-01-02', 'h2',
       '{"item_id": "CLI-1", "name": "Zoho v2"}', '{"name": "Zoho v2"}', '{"name": "Local"}',
       '{"name": "Zoho v1"}', ARRAY['name']
FROM q
RETURNING id
"""


@pytest.fixture
def tds(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("TDS_DATABASE_URL", database_url)
    monkeypatch.setenv("TDS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("TDS_OPERATOR", "ops-on-call")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(cli, list(args))
        assert result.exit_code == code, result.output
        return result

    yield run
    structlog.reset_defaults()


def sql(database_url: str, statement: str) -> Any:
    async def go() -> Any:
        pool = await create_pool(database_url, min_size=1, max_size=1)
        try:
            return await pool.fetchval(statement)
        finally:
            await pool.close()

    return asyncio.run(go())


def test_cli_lists_shows_and_resolves(tds: Any, database_url: str) -> None:
    conflict_id = sql(database_url, HELD)
    listed = json.loads(tds("conflicts", "list", "--json").output)
    assert [(c["id"], c["status"], c["held_events"]) for c in listed] == [(conflict_id, "open", 1)]
    assert "CLI-1" in tds("conflicts", "list").output
    shown = json.loads(tds("conflicts", "show", str(conflict_id), "--json").output)
    assert next(d for d in shown["diff"] if d["column"] == "name")["source"] == "Zoho v2"
    assert "Zoho v2" in tds("conflicts", "show", str(conflict_id)).output
    tds("conflicts", "show", "999999", code=1)
    tds("conflicts", "resolve", str(conflict_id), "merge", code=2)
    resolved = json.loads(
        tds("conflicts", "resolve", str(conflict_id), "keep_local", "--note", "ERP", "--json").output
    )
    assert (resolved["resolution"], resolved["resolved_by"], resolved["note"]) == (
        "keep_local",
        "ops-on-call",
        "ERP",
    )
    again = tds("conflicts", "resolve", str(conflict_id), "apply_source", code=1)
    assert "already resolved" in again.output
    assert (
        sql(database_url, "SELECT status::text FROM tds_sync_queue WHERE zoho_id = 'CLI-1'")
        == "skipped_unchanged"
    )
    assert sql(database_url, "SELECT source_version = '2026-01-02' FROM products WHERE zoho_id = 'CLI-1'")
    assert (
        sql(database_url, "SELECT via FROM tds_operator_actions WHERE action = 'conflict.resolve'") == "cli"
    )
    assert json.loads(tds("conflicts", "list", "--json").output) == []
    assert len(json.loads(tds("conflicts", "list", "--status", "all", "--json").output)) == 1
    tds("conflicts", "list", "--entity", "widgets", code=2)
