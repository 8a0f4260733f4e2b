"""Simulator webhooks: deliveries to a local ASGI receiver, with seeded duplicates, drops and
reordering, and the traffic generator."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tds_core.simulator import ManualClock, Store, WebhookConfig, WebhookEmitter, generate
from tests.simulator_support import no_sleep

KEY = "tds_test_key_0123456789"


@dataclass
class Received:
    entity: str
    event: str | None
    key: str | None
    content_type: str | None
    body: dict[str, Any]
    raw: bytes


@dataclass
class Receiver:
    """A stand-in for TDS's webhook endpoint that records every request."""

    status: int = 202
    received: list[Received] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/api/v1/webhooks/zoho/{entity}")
        async def webhook(entity: str, request: Request) -> JSONResponse:
            raw = await request.body()
            self.received.append(
                Received(
                    entity,
                    request.query_params.get("event"),
                    request.headers.get("x-tds-key"),
                    request.headers.get("content-type"),
                    json.loads(raw),
                    raw,
                )
            )
            return JSONResponse({"status": "queued"}, status_code=self.status)

        return app


EmitterFactory = Callable[..., WebhookEmitter]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def emitter(receiver: Receiver) -> AsyncIterator[EmitterFactory]:
    clients: list[httpx.AsyncClient] = []

    def make(**knobs: Any) -> WebhookEmitter:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app()))
        clients.append(client)
        return WebhookEmitter(WebhookConfig(base_url="http://tds.test", api_key=KEY, **knobs), client=client)

    yield make
    for client in clients:
        await client.aclose()


def store(records: int = 10, seed: int = 4) -> Store:
    simulated = Store(seed, clock=ManualClock())
    simulated.seed(records)
    return simulated


def churn(simulated: Store, count: int) -> None:
    """``count`` updates spread over the modules (one change each)."""
    modules = ("items", "contacts", "invoices", "bills", "creditnotes", "pricebooks")
    for index in range(count):
        module = modules[index % len(modules)]
        ids = simulated.ids(module)
        simulated.update(module, ids[index % len(ids)])


async def test_each_change_is_one_zoho_style_delivery(receiver: Receiver, emitter: EmitterFactory) -> None:
    simulated = store()
    new = simulated.create("invoices")
    simulated.update("contacts", simulated.ids("contacts")[0])
    simulated.delete("bills", simulated.ids("bills")[0])
    simulated.update("creditnotes", simulated.ids("creditnotes")[0])
    simulated.update("pricebooks", simulated.ids("pricebooks")[0])
    stocked = next(r["item_id"] for r in simulated.records("items") if r.get("locations"))
    simulated.adjust_stock(stocked)
    simulated.update("items", stocked)
    sender = emitter()
    assert await sender.pump(simulated) == 7
    got = [(r.entity, r.event, next(iter(r.body))) for r in receiver.received]
    assert got == [
        ("invoices", "created", "invoice"),
        ("contacts", "updated", "contact"),
        ("bills", "deleted", "bill"),
        ("creditnotes", "updated", "creditnote"),
        ("pricebooks", "updated", "pricebook"),
        ("stock", "updated", "item"),
        ("items", "updated", "item"),
    ]
    assert {(r.key, r.content_type) for r in receiver.received} == {(KEY, "application/json")}
    assert receiver.received[0].body["invoice"]["invoice_id"] == new["invoice_id"]
    assert receiver.received[0].body["invoice"]["line_items"]
    creditnote = receiver.received[3].body["creditnote"]
    assert "updated_time" in creditnote and "last_modified_time" not in creditnote  # its GET shape
    stock = receiver.received[5].body["item"]
    assert stock["item_id"] == stocked and stock["locations"] and "last_modified_time" in stock
    assert sender.stats.delivered == 7 and sender.stats.failed == 0
    assert await sender.pump(simulated) == 0  # nothing new


async def test_deletes_can_carry_only_the_id(receiver: Receiver, emitter: EmitterFactory) -> None:
    simulated = store()
    invoice_id = simulated.ids("invoices")[0]
    simulated.delete("invoices", invoice_id)
    await emitter(deleted_body="id_only").pump(simulated)
    assert receiver.received[0].body == {"invoice": {"invoice_id": invoice_id}}


async def test_every_delivery_duplicated(receiver: Receiver, emitter: EmitterFactory) -> None:
    simulated = store()
    churn(simulated, 12)
    sender = emitter(duplicate_percent=100)
    await sender.pump(simulated)
    assert len(receiver.received) == 24
    assert sender.stats.duplicates == 12
    for first, second in zip(receiver.received[::2], receiver.received[1::2], strict=True):
        assert (first.entity, first.event, first.raw) == (second.entity, second.event, second.raw)


async def test_every_delivery_dropped(receiver: Receiver, emitter: EmitterFactory) -> None:
    simulated = store()
    churn(simulated, 12)
    sender = emitter(drop_percent=100)
    await sender.pump(simulated)
    assert receiver.received == []
    assert sender.stats.dropped == 12 and sender.stats.sent == 0


async def test_seeded_mix_of_faults_is_counted_and_repeatable(
    receiver: Receiver, emitter: EmitterFactory
) -> None:
    knobs = {"duplicate_percent": 20, "drop_percent": 10, "reorder_percent": 15, "seed": 99}
    simulated = store(records=20)
    churn(simulated, 300)
    changes = simulated.changes_after(0)
    sender = emitter(**knobs)
    await sender.pump(simulated)
    stats = sender.stats
    assert stats.changes == 300
    assert 0 < stats.dropped < 300 and 0 < stats.duplicates < 300 and 0 < stats.reordered < 300
    assert len(receiver.received) == stats.sent == stats.delivered == 300 - stats.dropped + stats.duplicates

    by_body = Counter(r.raw for r in receiver.received)
    duplicated = [raw for raw, count in by_body.items() if count == 2]
    assert len(duplicated) == stats.duplicates
    assert len(by_body) == 300 - stats.dropped  # each surviving change arrives, once or twice

    order = [delivery.change_seq for delivery in sender.deliveries if not delivery.duplicate]
    assert order != sorted(order)  # reordered
    assert sorted(order) == sorted(set(order))
    assert set(order) <= {change.seq for change in changes}

    again = Receiver()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=again.app()))
    async with client:
        replay = WebhookEmitter(
            WebhookConfig(base_url="http://tds.test", api_key=KEY, **knobs), client=client
        )
        await replay.pump(simulated)
    assert [r.raw for r in again.received] == [r.raw for r in receiver.received]


async def test_refused_deliveries_are_counted_not_retried(
    receiver: Receiver, emitter: EmitterFactory
) -> None:
    receiver.status = 503
    simulated = store()
    churn(simulated, 5)
    sender = emitter()
    await sender.pump(simulated)
    assert len(receiver.received) == 5
    assert sender.stats.failed == 5 and sender.stats.delivered == 0
    assert sender.stats.by_status == {503: 5}


async def test_unreachable_receiver_is_a_failed_delivery() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    simulated = store()
    churn(simulated, 2)
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        sender = WebhookEmitter(WebhookConfig(base_url="http://tds.test", api_key=KEY), client=client)
        await sender.pump(simulated)
    assert sender.stats.failed == 2
    assert all(d.error and "ConnectError" in d.error for d in sender.deliveries)


def test_knobs_are_percentages() -> None:
    with pytest.raises(ValueError, match="drop_percent"):
        WebhookConfig(base_url="http://tds.test", api_key=KEY, drop_percent=120)


async def test_traffic_generator_mutates_and_emits(receiver: Receiver, emitter: EmitterFactory) -> None:
    simulated = store(records=15)
    sender = emitter()
    result = await generate(simulated, sender, rate_per_second=50, duration=4, seed=1, sleep=no_sleep)
    assert result.total == 200
    assert min(result.created, result.updated, result.deleted, result.stock) > 0
    changes = simulated.changes_after(0)
    assert len(changes) == 200
    assert len(receiver.received) == 200
    entities = Counter(r.entity for r in receiver.received)
    assert entities["stock"] == result.stock
    assert set(entities) <= {"items", "contacts", "invoices", "bills", "creditnotes", "pricebooks", "stock"}
    assert Counter(r.event for r in receiver.received)["deleted"] == result.deleted


async def test_traffic_is_repeatable_for_the_same_seeds(emitter: EmitterFactory) -> None:
    runs = []
    for _ in range(2):
        simulated = store(records=15)
        await generate(simulated, emitter(), rate_per_second=10, duration=3, seed=8, sleep=no_sleep)
        runs.append([(c.module, c.event, c.record_id, c.record) for c in simulated.changes_after(0)])
    assert runs[0] == runs[1]


async def test_the_generator_paces_itself_with_the_given_sleep(emitter: EmitterFactory) -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    await generate(store(), emitter(), rate_per_second=4, duration=2, seed=2, sleep=record)
    assert slept == [0.25] * 8


async def test_pump_skips_what_the_generator_already_emitted(
    receiver: Receiver, emitter: EmitterFactory
) -> None:
    simulated = store()
    sender = emitter()
    await generate(simulated, sender, rate_per_second=5, duration=2, seed=3, sleep=no_sleep)
    assert len(receiver.received) == 10
    assert await sender.pump(simulated) == 0
    simulated.update("contacts", simulated.ids("contacts")[0])
    assert await sender.pump(simulated) == 1
    assert len(receiver.received) == 11
