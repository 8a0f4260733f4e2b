"""Reconciliation proves a delete before it makes one (tombstones are final).

A delete candidate is a record the ERP held live *before* the scan began that the complete scan
did not list; each one is asked for by id, and only Zoho's "does not exist" tombstones it. The
scans here are disturbed from inside: a transport between the client and the simulator runs a
hook after a list page (Zoho changes while the scan reads), drops rows from list answers (a
listing that leaves a live record out) or breaks one GET.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest

from tds_core.app import simulator_zoho_config
from tds_core.reconcile.service import Reconciler
from tds_core.simulator.app import create_app
from tds_core.simulator.config import Faults, SimulatorConfig
from tds_core.simulator.store import Store
from tds_core.source.pull import PullConfig, Puller
from tds_core.source.zoho.client import ZohoClient
from tds_core.source.zoho.rate_limit import PostgresRateLimiter

from .conftest import SIM, Send, live_ids

Hook = Callable[[httpx.Request], Awaitable[None]]
MODULE_KEYS = {"contacts": "contact", "invoices": "invoice"}
TABLES = {"contacts": "customers", "invoices": "invoices"}
ID_FIELDS = {"contacts": "contact_id", "invoices": "invoice_id"}


class Disturbing(httpx.AsyncBaseTransport):
    """The simulator's ASGI transport, with hooks the tests set."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.after_list_page: Hook | None = None  # runs after a list answer was produced
        self.hidden: set[str] = set()  # ids list answers leave out
        self.broken_get: set[str] = set()  # ids whose GET answers HTTP 400 code 4
        self.gets: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.rstrip("/").split("/")
        by_id = len(parts) >= 5
        if by_id:
            self.gets.append(parts[-1])
            if parts[-1] in self.broken_get:
                body = {"code": 4, "message": "Invalid value passed for the request."}
                return httpx.Response(400, content=orjson.dumps(body), request=request)
        response = await self.inner.handle_async_request(request)
        if by_id or request.method != "GET" or parts[-1] not in MODULE_KEYS:
            return response
        await response.aread()
        document = orjson.loads(response.content)
        if self.hidden:
            field = ID_FIELDS[parts[-1]]
            document[parts[-1]] = [r for r in document[parts[-1]] if str(r[field]) not in self.hidden]
        if self.after_list_page is not None:
            await self.after_list_page(request)
        return httpx.Response(
            response.status_code,
            headers={k: v for k, v in response.headers.items() if k.lower() != "content-length"},
            content=orjson.dumps(document),
            request=request,
        )


class Source:
    def __init__(self, store: Store, transport: Disturbing, client: ZohoClient) -> None:
        self.store, self.transport, self.client = store, transport, client


@pytest.fixture
async def zoho(pool: Any) -> AsyncIterator[Source]:
    store = Store(seed=11)
    store.seed(12)
    sim = SimulatorConfig(api_domain=SIM)
    transport = Disturbing(httpx.ASGITransport(create_app(store, config=sim, faults=Faults())))
    config = simulator_zoho_config(
        SIM, sim, per_page=5, backoff_base_seconds=0.001, backoff_cap_seconds=0.01, daily_quota=100_000
    )
    client = ZohoClient(config, PostgresRateLimiter.for_config(pool, config), transport=transport)
    async with client:
        yield Source(store, transport, client)


async def in_step(pool: Any, zoho: Source, drain: Any, *entities: str) -> None:
    puller = Puller(pool, zoho.client, PullConfig(quota_reserve=0))
    for entity in entities:
        assert (await puller.run_once(entity, full=True, triggered_by="test")).status == "succeeded"
    await drain()


async def deliver(webhook: Send, entity: str, record: dict[str, Any], event: str) -> None:
    response = await webhook(entity, {MODULE_KEYS[entity]: record}, event=event)
    assert response.status_code in (200, 202), response.text


async def tombstoned(pool: Any, table: str) -> set[str]:
    rows = await pool.fetch(f"SELECT zoho_id FROM {table} WHERE deleted_at IS NOT NULL")
    return {r["zoho_id"] for r in rows}


async def test_a_contact_created_during_the_scan_and_delivered_by_webhook_survives(
    pool: Any, zoho: Source, drain: Any, webhook: Send
) -> None:
    await in_step(pool, zoho, drain, "contacts")
    created: list[str] = []

    async def create_once(request: httpx.Request) -> None:
        # after page 1: the new contact sorts onto a page the scan has already read
        if created or request.url.params.get("page", "1") != "1":
            return
        record = zoho.store.create("contacts")
        created.append(str(record["contact_id"]))
        await deliver(webhook, "contacts", zoho.store.get("contacts", created[0]), "created")
        await drain()
        zoho.transport.hidden.add(created[0])  # and wherever it sorts, the scan misses it

    zoho.transport.after_list_page = create_once
    result = await Reconciler(pool, zoho.client).run_once("contacts", triggered_by="test")
    zoho.transport.after_list_page = None
    assert result.status == "succeeded", result.error
    assert created and created[0] in await live_ids(pool, "customers")
    assert created[0] not in result.drift.extra and created[0] not in result.drift.unconfirmed
    await drain()
    assert created[0] in await live_ids(pool, "customers")
    assert not await tombstoned(pool, "customers")


async def test_a_record_a_listing_leaves_out_is_asked_for_by_id_and_kept(
    pool: Any, zoho: Source, drain: Any
) -> None:
    await in_step(pool, zoho, drain, "contacts")
    inactive = zoho.store.ids("contacts")[3]
    zoho.store.update("contacts", inactive, {"status": "inactive"})
    zoho.transport.hidden.add(inactive)  # e.g. a default filter that hides inactive contacts
    result = await Reconciler(pool, zoho.client).run_once("contacts", triggered_by="test")
    assert result.status == "succeeded", result.error
    assert result.drift.extra == []
    assert result.drift.unconfirmed == {inactive: "listed nowhere in the scan, but Zoho returns it by id"}
    assert inactive in zoho.transport.gets
    await drain()
    assert inactive in await live_ids(pool, "customers")
    # found by id and newer than the ERP's copy: healed, not deleted
    status = await pool.fetchval("SELECT status FROM customers WHERE zoho_id = $1", inactive)
    assert status == "inactive"
    details = await pool.fetchval("SELECT details FROM tds_sync_runs WHERE id = $1", result.run_id)
    assert details["unconfirmed"] == {inactive: "listed nowhere in the scan, but Zoho returns it by id"}
    assert details["counts"]["unconfirmed"] == 1 and details["counts"]["extra"] == 0


async def test_a_record_really_deleted_in_zoho_is_tombstoned_with_its_proof(
    pool: Any, zoho: Source, drain: Any
) -> None:
    await in_step(pool, zoho, drain, "invoices")
    gone = zoho.store.ids("invoices")[2]
    zoho.store.delete("invoices", gone)  # no webhook
    zoho.transport.gets.clear()
    result = await Reconciler(pool, zoho.client).run_once("invoices", triggered_by="test")
    assert result.status == "succeeded", result.error
    assert result.drift.extra == [gone] and result.drift.unconfirmed == {}
    assert zoho.transport.gets.count(gone) == 1  # asked for by id before the delete
    await drain()
    assert await tombstoned(pool, "invoices") == {gone}
    audit = await pool.fetch(
        "SELECT action, actor FROM tds_audit_trail WHERE entity = 'invoices' AND zoho_id = $1 ORDER BY id",
        gone,
    )
    assert audit[-1]["action"] == "delete" and audit[-1]["actor"] == "reconcile"
    inbox = await pool.fetchrow(
        "SELECT source, operation::text AS operation, headers FROM tds_inbox_events"
        " WHERE zoho_id = $1 ORDER BY id DESC LIMIT 1",
        gone,
    )
    assert (inbox["source"], inbox["operation"]) == ("reconcile", "deleted")
    assert inbox["headers"]["reconcile_run_id"] == str(result.run_id)
    assert "1002" in inbox["headers"]["confirmed_by"] or "404" in inbox["headers"]["confirmed_by"]


async def test_a_candidate_whose_get_fails_otherwise_or_that_changed_is_reported_not_deleted(
    pool: Any, zoho: Source, drain: Any, webhook: Send
) -> None:
    await in_step(pool, zoho, drain, "contacts")
    broken, changing = zoho.store.ids("contacts")[1], zoho.store.ids("contacts")[5]
    zoho.transport.hidden |= {broken, changing}
    zoho.transport.broken_get.add(broken)

    async def edit_during_the_scan(request: httpx.Request) -> None:
        if request.url.params.get("page", "1") == "2":
            edited = zoho.store.update("contacts", changing, {"notes": "edited mid-scan"})
            await deliver(webhook, "contacts", edited, "updated")
            await drain()

    zoho.transport.after_list_page = edit_during_the_scan
    result = await Reconciler(pool, zoho.client).run_once("contacts", triggered_by="test")
    assert result.status == "succeeded", result.error
    assert result.drift.extra == []
    assert result.drift.unconfirmed[broken].startswith("GET by id failed: RequestRejected")
    assert result.drift.unconfirmed[changing] == "changed in the ERP during the scan"
    await drain()
    assert {broken, changing} <= await live_ids(pool, "customers")
    assert not await tombstoned(pool, "customers")


async def test_creates_edits_and_deletes_during_repeated_reconciliations_end_in_step(
    pool: Any, zoho: Source, drain: Any, webhook: Send
) -> None:
    """Zoho changes while reconciliation scans, again and again; webhooks deliver creates and
    edits (some deletes arrive by webhook, the rest only reconciliation can see). At the end the
    ERP equals Zoho and no record Zoho still has was ever tombstoned."""
    rng = random.Random(5)
    entities = ("contacts", "invoices")
    await in_step(pool, zoho, drain, *entities)
    deleted_in_zoho: set[str] = set()

    async def churn(request: httpx.Request) -> None:
        entity = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        for _ in range(rng.randint(1, 3)):
            roll, ids = rng.random(), zoho.store.ids(entity)
            if roll < 0.4 or len(ids) < 4:
                record = zoho.store.create(entity)
                await deliver(webhook, entity, record, "created")
            elif roll < 0.75:
                record = zoho.store.update(entity, rng.choice(ids))
                await deliver(webhook, entity, record, "updated")
            else:
                victim = rng.choice(ids)
                record = zoho.store.delete(entity, victim)
                deleted_in_zoho.add(victim)
                if rng.random() < 0.5:
                    await deliver(webhook, entity, record, "deleted")
        if rng.random() < 0.5:
            await drain()

    reconciler = Reconciler(pool, zoho.client)
    for _ in range(4):
        zoho.transport.after_list_page = churn
        for entity in entities:
            result = await reconciler.run_once(entity, triggered_by="test")
            assert result.status == "succeeded", result.error
        zoho.transport.after_list_page = None
        await drain()
        for entity in entities:  # never a tombstone on a record Zoho still has
            assert not (await tombstoned(pool, TABLES[entity])) & set(zoho.store.ids(entity))
    for entity in entities:  # a quiet pass: the last deletes and creates
        await reconciler.run_once(entity, triggered_by="test")
    await drain()
    for entity in entities:
        assert await live_ids(pool, TABLES[entity]) == set(zoho.store.ids(entity)), entity
        gone = await tombstoned(pool, TABLES[entity])
        assert not gone & set(zoho.store.ids(entity))
        assert gone <= deleted_in_zoho
    assert deleted_in_zoho
    final = [await reconciler.run_once(entity, triggered_by="test") for entity in entities]
    assert [r.drift.total for r in final] == [0, 0]
