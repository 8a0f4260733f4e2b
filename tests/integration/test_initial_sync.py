"""In step from the first start (issue 15, item 7).

An entity no pull ever finished for gets a full pull at once, as one ``sync`` job (its progress
is the job's); it is queued once, skipped while its pull waits for the quota, and not queued
again once every entity has a cursor. Reconciliation raises no drift alert for an entity until
its first pull finished.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tds_core.access.actions import Actor
from tds_core.alerts.service import AlertEngine
from tds_core.jobs import runner as jobs
from tds_core.jobs.runner import JobRunner
from tds_core.jobs.source import handlers
from tds_core.operations import initial_sync
from tds_core.reconcile.service import Reconciler
from tds_core.source.pull import PullConfig, Puller, source_entities

from .conftest import Zoho, live_ids

SCHEDULER = Actor("scheduler", None, "scheduler")


async def test_a_fresh_install_pulls_every_entity_once_and_is_in_step(
    pool: Any, zoho: Zoho, drain: Any
) -> None:
    available = source_entities(use_inventory=True)
    async with pool.acquire() as connection:
        job_id = await initial_sync.ensure(connection, available, SCHEDULER)
        assert job_id is not None
        assert await initial_sync.ensure(connection, available, SCHEDULER) == job_id  # not twice
        job = await jobs.get(connection, job_id)
    assert (job.kind, job.total, job.params["full"]) == ("sync", len(available), True)
    assert job.params["entities"] == available

    puller = Puller(pool, zoho.client, PullConfig(quota_reserve=0))
    reconciler = Reconciler(pool, zoho.client)
    assert await JobRunner(pool, handlers(puller, reconciler, available)).run_once()
    async with pool.acquire() as connection:
        done = await jobs.get(connection, job_id)
        assert (done.status, done.done) == ("completed", len(available))
        assert await initial_sync.ensure(connection, available, SCHEDULER) is None  # every cursor is there
    await drain()
    assert await live_ids(pool, "customers") == set(zoho.store.ids("contacts"))
    for entity in ("contacts", "invoices", "bills"):
        result = await reconciler.run_once(entity, heal=False, triggered_by="test")
        assert result.drift.total == 0, (entity, result.drift)  # the first reconciliation: nothing to heal


async def test_an_entity_paused_at_the_quota_waits_for_the_reset(pool: Any) -> None:
    resets = (datetime.now(UTC) + timedelta(hours=5)).isoformat()
    await pool.execute(
        "INSERT INTO tds_sync_runs (entity, kind, status, started_at, finished_at, details)"
        " VALUES ('invoices', 'full', 'paused', now(), now(), $1)",
        {"paused": {"reason": "quota", "resets_at": resets}},
    )
    async with pool.acquire() as connection:
        job_id = await initial_sync.ensure(connection, ["contacts", "invoices"], SCHEDULER)
        assert job_id is not None
        assert (await jobs.get(connection, job_id)).params["entities"] == ["contacts"]


async def test_no_drift_alert_before_the_first_pull_finished(pool: Any, zoho: Zoho, drain: Any) -> None:
    reconciler = Reconciler(pool, zoho.client)
    early = await reconciler.run_once("invoices", heal=False, triggered_by="test")
    assert early.drift.total == len(zoho.store.ids("invoices"))  # everything is "missing"
    engine = AlertEngine(pool, daily_quota=100_000, organization_id="org")
    await engine.run_once()
    fingerprints = {r["fingerprint"] for r in await pool.fetch("SELECT fingerprint FROM tds_alerts")}
    assert not {f for f in fingerprints if f.startswith("reconcile_drift")}

    await Puller(pool, zoho.client, PullConfig(quota_reserve=0)).run_once("invoices", full=True)
    await drain()
    zoho.store.create("invoices")  # no webhook: real drift now
    late = await reconciler.run_once("invoices", heal=False, triggered_by="test")
    assert late.drift.total == 1
    await engine.run_once()
    fingerprints = {r["fingerprint"] for r in await pool.fetch("SELECT fingerprint FROM tds_alerts")}
    assert f"reconcile_drift:invoices:{late.run_id}" in fingerprints
