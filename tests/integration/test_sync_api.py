"""Manual triggers: ``POST /api/v1/sync/{entity}`` and ``POST /api/v1/reconcile`` queue jobs that
a job runner (the scheduler's) completes through the same puller and reconciler as the schedule;
runs and cursors are listed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tds_core.jobs import runner as jobs
from tds_core.jobs.source import handlers
from tds_core.reconcile.service import Reconciler
from tds_core.source.pull import PullConfig, Puller, source_entities

from .conftest import Zoho, live_ids

pytestmark = pytest.mark.asyncio


def runner(pool: Any, zoho: Zoho) -> jobs.JobRunner:
    available = source_entities(use_inventory=True)
    return jobs.JobRunner(
        pool,
        handlers(Puller(pool, zoho.client, PullConfig()), Reconciler(pool, zoho.client), available),
    )


async def test_an_operator_syncs_one_entity_and_follows_the_job(
    client: httpx.AsyncClient, pool: Any, zoho: Zoho, auth_headers: Any, drain: Any
) -> None:
    operator = await auth_headers("operator")
    queued = await client.post("/api/v1/sync/invoices", params={"full": "true"}, headers=operator)
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert (job["kind"], job["status"], job["params"]) == (
        "sync",
        "queued",
        {"entity": "invoices", "full": True},
    )
    assert await runner(pool, zoho).run_once()
    done = (await client.get(f"/api/v1/jobs/{job['id']}", headers=operator)).json()
    assert done["status"] == "completed" and done["done"] == done["total"] == 1
    outcome = done["result"]["entities"]["invoices"]
    assert outcome["status"] == "succeeded" and outcome["fetched"] == len(
        list(zoho.store.records("invoices"))
    )
    await drain()
    assert await live_ids(pool, "invoices") == {r["invoice_id"] for r in zoho.store.records("invoices")}

    runs = (await client.get("/api/v1/sync/runs", headers=operator)).json()
    assert [(r["entity"], r["kind"], r["status"]) for r in runs] == [("invoices", "full", "succeeded")]
    assert runs[0]["triggered_by"] == f"job {job['id']} by operator-user"
    one = await client.get(f"/api/v1/sync/runs/{runs[0]['id']}", headers=operator)
    assert one.status_code == 200 and one.json()["fetched"] == outcome["fetched"]
    cursors = (await client.get("/api/v1/sync/cursors", headers=operator)).json()
    assert [c["entity"] for c in cursors] == ["invoices"] and cursors[0]["watermark"] is not None
    actions = await pool.fetch("SELECT actor, action FROM tds_operator_actions")
    assert [(a["actor"], a["action"]) for a in actions] == [("operator-user", "job.create")]


async def test_reconcile_all_reports_the_drift_and_heals_it(
    client: httpx.AsyncClient, pool: Any, zoho: Zoho, auth_headers: Any, drain: Any
) -> None:
    operator = await auth_headers("operator")
    queued = await client.post("/api/v1/reconcile", json={"entity": "all", "heal": True}, headers=operator)
    assert queued.status_code == 202 and queued.json()["total"] == 7
    assert await runner(pool, zoho).run_once()
    job = (await client.get(f"/api/v1/jobs/{queued.json()['id']}", headers=operator)).json()
    assert job["status"] == "completed" and job["done"] == 7
    # the ERP was empty: every Zoho record was missing, and is queued to heal
    expected = sum(len(list(zoho.store.records(module))) for module in ("invoices", "bills", "contacts"))
    assert job["result"]["drift"] >= expected
    await drain()
    assert await live_ids(pool, "bills") == {r["bill_id"] for r in zoho.store.records("bills")}
    runs = (await client.get("/api/v1/sync/runs", params={"kind": "reconcile"}, headers=operator)).json()
    assert len(runs) == 7 and all(r["status"] == "succeeded" for r in runs)
    detail = (await client.get(f"/api/v1/sync/runs/{runs[-1]['id']}", headers=operator)).json()
    assert "missing" in detail["details"]


async def test_a_cancelled_sync_job_stops_before_its_next_entity(
    client: httpx.AsyncClient, pool: Any, zoho: Zoho, auth_headers: Any
) -> None:
    operator = await auth_headers("operator")
    queued = (await client.post("/api/v1/sync/all", headers=operator)).json()
    cancel = await client.post(f"/api/v1/jobs/{queued['id']}/cancel", headers=operator)
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    assert not await runner(pool, zoho).run_once()  # a queued job cancelled at once never runs
    assert await pool.fetchval("SELECT count(*) FROM tds_sync_runs") == 0


async def test_viewers_cannot_trigger_and_unknown_entities_are_named(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    viewer = await auth_headers("viewer")
    assert (await client.post("/api/v1/sync/invoices", headers=viewer)).status_code == 403
    assert (await client.post("/api/v1/reconcile", json={}, headers=viewer)).status_code == 403
    operator = await auth_headers("operator")
    unknown = await client.post("/api/v1/sync/widgets", headers=operator)
    assert unknown.status_code == 404 and "invoices" in unknown.json()["error"]
    bad = await client.post("/api/v1/reconcile", json={"entity": "widgets"}, headers=operator)
    assert bad.status_code == 404
    assert (await client.get("/api/v1/sync/runs/999", headers=viewer)).status_code == 404
    assert (
        await client.get("/api/v1/sync/runs", params={"kind": "weekly"}, headers=viewer)
    ).status_code == 422
