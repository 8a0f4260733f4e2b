"""Zoho-style webhook deliveries to TDS, with seeded duplicates, reordering and drops.

Each store :class:`~tds_core.simulator.store.Change` becomes one
``POST {base_url}/api/v1/webhooks/zoho/{entity}?event=created|updated|deleted`` with the
``X-TDS-Key`` header and the record under its module key (``{"invoice": {...}}``), the shape
the reference expects by analogy (section 5; unconfirmed). A stock change goes to the
``stock`` entity with the Inventory item record (``{"item": {...}}`` with ``locations[]``);
price lists go to ``pricebooks``. The record is the module's GET shape (credit notes carry
``updated_time``). A delete sends the record's last state, or only its id
(``deleted_body="id_only"``): what Zoho's "Deleted" trigger sends is unconfirmed.

Faults, drawn per change from ``random.Random(seed)`` (three draws per change, whatever
they decide, so one knob does not shift the others' outcomes):

- ``drop_percent``: the change is never delivered (Zoho has been seen to drop webhooks
  under load);
- ``duplicate_percent``: the same request is sent twice in a row;
- ``reorder_percent``: the change is held back and sent after the next change's deliveries.

Redelivery: by default a failed delivery is counted, not retried. With ``retry_seconds`` the
emitter keeps retrying a delivery that got no answer, a 429 or a 5xx for up to that long (as a
load balancer in front of several API processes plus Zoho's own retries would), rotating over
``base_url`` and ``fallback_urls``; that is what the soak does while it kills API processes and
restarts PostgreSQL. Not simulated: Zoho's webhook signature and its time-out behaviour.

:func:`generate` is a small traffic generator: random creates, updates, deletes and stock
moves on the store, each emitted as it happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import httpx

from tds_core.simulator.store import ID_FIELDS, MODULES, Change, Store
from tds_core.simulator.views import webhook_record

BODY_KEYS: dict[str, str] = {
    "items": "item",
    "contacts": "contact",
    "invoices": "invoice",
    "bills": "bill",
    "creditnotes": "creditnote",
    "pricebooks": "pricebook",
    "stock": "item",
}


@dataclass(frozen=True)
class WebhookConfig:
    base_url: str
    api_key: str
    duplicate_percent: float = 0.0
    reorder_percent: float = 0.0
    drop_percent: float = 0.0
    seed: int = 0
    timeout_seconds: float = 10.0
    deleted_body: Literal["record", "id_only"] = "record"
    path: str = "/api/v1/webhooks/zoho"
    fallback_urls: tuple[str, ...] = ()  # more TDS API base URLs: deliveries rotate over all
    retry_seconds: float = 0.0  # keep retrying a delivery with no 2xx/4xx answer this long
    retry_interval_seconds: float = 0.2

    @property
    def targets(self) -> tuple[str, ...]:
        return (self.base_url, *self.fallback_urls)

    def __post_init__(self) -> None:
        for name in ("duplicate_percent", "reorder_percent", "drop_percent"):
            if not 0 <= getattr(self, name) <= 100:
                raise ValueError(f"{name} must be between 0 and 100")


@dataclass
class Delivery:
    """One HTTP request sent (or attempted) for one change."""

    change_seq: int
    entity: str
    event: str
    body: bytes
    duplicate: bool = False
    status: int | None = None
    error: str | None = None
    event_id: int | None = None  # TDS's inbox event id, from the 202 answer
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class EmitterStats:
    changes: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    duplicates: int = 0
    dropped: int = 0
    reordered: int = 0
    retries: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class WebhookEmitter:
    """Sends store changes to TDS. Use as ``async with WebhookEmitter(config) as emitter``."""

    def __init__(self, config: WebhookConfig, *, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.stats = EmitterStats()
        self.deliveries: list[Delivery] = []
        self._rng = random.Random(config.seed)
        self._client = client or httpx.AsyncClient(timeout=config.timeout_seconds)
        self._owns_client = client is None
        self._held: list[Delivery] = []
        self._cursor = 0
        self._turn = 0

    async def __aenter__(self) -> WebhookEmitter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def body(self, change: Change) -> bytes:
        key = BODY_KEYS[change.entity]
        if change.event == "deleted" and self.config.deleted_body == "id_only":
            id_field = ID_FIELDS[change.module]
            record = {id_field: change.record[id_field]}
        else:
            record = webhook_record(change.module, change.record)
        return json.dumps({key: record}, ensure_ascii=False, separators=(",", ":")).encode()

    async def emit(self, change: Change) -> None:
        """Deliver one change, subject to the drop, duplicate and reorder knobs."""
        self.stats.changes += 1
        self._cursor = max(self._cursor, change.seq)
        drop, duplicate, reorder = (self._rng.random() * 100 for _ in range(3))
        if drop < self.config.drop_percent:
            self.stats.dropped += 1
            return
        delivery = Delivery(change.seq, change.entity, change.event, self.body(change))
        copies = [delivery]
        if duplicate < self.config.duplicate_percent:
            copies.append(Delivery(change.seq, change.entity, change.event, delivery.body, duplicate=True))
            self.stats.duplicates += 1
        if reorder < self.config.reorder_percent:
            self._held.extend(copies)
            self.stats.reordered += 1
            return
        for copy in copies:
            await self._send(copy)
        await self.flush()

    async def flush(self) -> None:
        """Send the deliveries held back for reordering."""
        held, self._held = self._held, []
        for delivery in held:
            await self._send(delivery)

    async def pump(self, store: Store) -> int:
        """Emit every store change after the last one this emitter saw; returns how many."""
        changes = store.changes_after(self._cursor)
        for change in changes:
            await self.emit(change)
        await self.flush()
        return len(changes)

    async def _send(self, delivery: Delivery) -> None:
        headers = {"X-TDS-Key": self.config.api_key, "Content-Type": "application/json"}
        self.stats.sent += 1
        self.deliveries.append(delivery)
        targets = self.config.targets
        deadline = asyncio.get_running_loop().time() + self.config.retry_seconds
        while True:
            base = targets[self._turn % len(targets)]
            self._turn += 1
            delivery.attempts += 1
            url = f"{base.rstrip('/')}{self.config.path}/{delivery.entity}"
            try:
                response = await self._client.post(
                    url, params={"event": delivery.event}, content=delivery.body, headers=headers
                )
            except httpx.HTTPError as exc:
                delivery.status, delivery.error = None, f"{type(exc).__name__}: {exc}"
            else:
                delivery.status, delivery.error = response.status_code, None
                if delivery.ok:
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        delivery.event_id = int(response.json()["event_id"])
            retryable = delivery.status is None or delivery.status == 429 or delivery.status >= 500
            if not retryable or asyncio.get_running_loop().time() >= deadline:
                break
            self.stats.retries += 1
            await asyncio.sleep(self.config.retry_interval_seconds)
        if delivery.status is not None:
            self.stats.by_status[delivery.status] = self.stats.by_status.get(delivery.status, 0) + 1
        if delivery.ok:
            self.stats.delivered += 1
        else:
            self.stats.failed += 1


@dataclass
class TrafficResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    stock: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.deleted + self.stock


Sleep = Callable[[float], Awaitable[None]]


def mutate(store: Store, rng: random.Random, result: TrafficResult) -> None:
    """One random change: about 20% stock moves, 20% creates, 55% updates and 5% deletes."""
    roll = rng.random()
    if roll < 0.2:
        stocked = [r["item_id"] for r in store.records("items") if r.get("locations")]
        if stocked:
            store.adjust_stock(rng.choice(stocked))
            result.stock += 1
            return
    module = rng.choice(MODULES)
    ids = store.ids(module)
    if not ids or roll < 0.4:
        store.create(module)
        result.created += 1
    elif roll < 0.95 or len(ids) < 2:
        store.update(module, rng.choice(ids))
        result.updated += 1
    else:
        store.delete(module, rng.choice(ids))
        result.deleted += 1


async def generate(
    store: Store,
    emitter: WebhookEmitter,
    rate_per_second: float,
    duration: float | None,
    seed: int,
    *,
    sleep: Sleep = asyncio.sleep,
) -> TrafficResult:
    """Mutate random records at about ``rate_per_second`` and emit each change.

    Makes ``round(rate_per_second * duration)`` mutations (``duration=None``: until
    cancelled), about 20% stock moves, 20% creates, 55% updates and 5% deletes, pacing them
    with ``sleep`` (tests pass one that returns at once).
    """
    if rate_per_second <= 0:
        raise ValueError("rate_per_second must be positive")
    rng = random.Random(seed)
    result = TrafficResult()
    total = None if duration is None else round(rate_per_second * duration)
    interval = 1.0 / rate_per_second
    try:
        while total is None or result.total < total:
            before = store.last_seq
            mutate(store, rng, result)
            for change in store.changes_after(before):
                await emitter.emit(change)
            await sleep(interval)
    finally:
        await emitter.flush()
    return result
