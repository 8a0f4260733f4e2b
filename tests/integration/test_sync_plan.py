"""``tds sync --plan`` / ``GET /api/v1/sync/plan``: what a full sync costs before it runs.

Zoho's lists carry no total, so counts come from the latest complete scan (a full pull or a
reconciliation), else the ERP, else a counting scan when asked; documents and contacts cost a
GET per record on top of their list pages; the days follow each plan's quota less its reserve.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
from typer.testing import CliRunner

from tds_core.cli.main import app
from tds_core.operations import sync_plan
from tds_core.source import estimate
from tds_core.source.pull import PullConfig, Puller

from .conftest import Zoho


def test_the_arithmetic_of_a_backfill() -> None:
    plan = estimate.estimate(
        {"invoices": (50_000, "erp"), "items": (50_000, "erp")}, daily_quota=2_000, reserve_share=0.2
    )
    invoices, items = plan.entities
    assert (invoices.list_calls, invoices.detail_calls) == (250, 50_000)  # lines need a GET each
    assert (items.list_calls, items.detail_calls) == (250, 0)  # list rows carry every column
    _configured, standard, premium = plan.durations
    assert (standard.quota.daily, standard.reserve, standard.per_day) == (2_000, 400, 1_600)
    assert (premium.reserve, premium.per_day) == (2_000, 8_000)
    assert standard.calendar_days == 32 and premium.calendar_days == 7  # 50,500 calls
    nothing = estimate.durations(10, daily_quota=1_000, reserve_share=0.99)[0]
    assert nothing.per_day == 10 and nothing.calendar_days == 1


def test_the_schedule_costs_pages_not_records_once_in_step() -> None:
    costs = {
        c.entity: c
        for c in estimate.steady_daily_calls(
            {"contacts": (5_000, 100), "invoices": (20_000, 300), "bills": (5_000, 100)},
            pull_cron="*/15 * * * *",
            reconcile_cron="0 2 * * *",
        )
    }
    assert costs["invoices"].pull_list_calls == 96  # one page a pull
    assert costs["invoices"].detail_calls == 300  # each change fetched once
    assert costs["invoices"].reconcile_calls == 100  # the nightly scan: 20,000 / 200


async def test_counts_come_from_the_latest_complete_scan(
    pool: Any, zoho: Zoho, client: httpx.AsyncClient, auth_headers: Any, drain: Any
) -> None:
    viewer = await auth_headers("viewer")
    before = (await client.get("/api/v1/sync/plan", params={"entity": "invoices"}, headers=viewer)).json()
    assert before["complete"] is False and before["entities"][0]["source"] == "unknown"
    await Puller(pool, zoho.client, PullConfig(quota_reserve=0)).run_once("invoices", full=True)
    await drain()
    answer = await client.get("/api/v1/sync/plan", params={"entity": "invoices"}, headers=viewer)
    assert answer.status_code == 200, answer.text
    plan = answer.json()
    [invoices] = plan["entities"]
    assert (invoices["records"], invoices["source"], invoices["detail"]) == (12, "full_scan", True)
    assert invoices["calls"] == 1 + 12 and plan["complete"] is True
    assert [d["plan"] for d in plan["durations"]] == ["configured", "Standard", "Premium"]
    assert plan["durations"][1]["reserve"] == 400  # the default share, 0.2 of 2,000
    missing = await client.get("/api/v1/sync/plan", params={"entity": "nope"}, headers=viewer)
    assert missing.status_code == 404 and "unknown or unavailable entity" in missing.text
    assert (await client.get("/api/v1/sync/plan")).status_code == 401


async def test_a_counting_scan_lists_every_page_and_fetches_nothing(pool: Any, zoho: Zoho) -> None:
    before = zoho.client.calls_made
    counted, calls = await sync_plan.count_by_listing(
        zoho.client, ["contacts", "invoices"], use_inventory=False
    )
    assert counted["contacts"][:2] == (12, "counting_scan") and counted["invoices"][0] == 12
    assert calls == zoho.client.calls_made - before == 6  # 3 pages of 5 each, no GET


@pytest.fixture
def tds(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("TDS_DATABASE_URL", database_url)
    monkeypatch.setenv("TDS_LOG_LEVEL", "WARNING")
    yield CliRunner()
    structlog.reset_defaults()


def test_tds_sync_plan_prints_calls_and_days_without_calling_zoho(tds: Any, database_url: str) -> None:
    result = tds.invoke(app, ["sync", "all", "--plan", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert {e["entity"] for e in plan["entities"]} >= {"contacts", "invoices", "bills"}
    assert plan["counting_calls"] == 0
    shown = tds.invoke(app, ["sync", "invoices", "--plan"])
    assert shown.exit_code == 0, shown.output
    assert "Standard" in shown.output and "Premium" in shown.output and "GETs by id" in shown.output
    refused = tds.invoke(app, ["sync", "invoices", "--count"])
    assert refused.exit_code == 2 and "--count goes with --plan" in refused.output
