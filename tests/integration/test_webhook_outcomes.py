"""The webhook route counts its answers that store nothing (duplicates, bad keys, unknown
entities, oversized bodies, rate limiting) and they reach /metrics once flushed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from . import samples
from .conftest import Send

pytestmark = pytest.mark.asyncio


def webhooks_total(text: str) -> dict[tuple[str, str], float]:
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "tds_webhooks_total":
                found[(sample.labels["entity"], sample.labels["outcome"])] = sample.value
    return found


async def test_refusals_and_duplicates_are_counted_per_entity(
    webhook: Send, client: httpx.AsyncClient, pool: Any
) -> None:
    record = {"item": samples.item(item_id="OUT-1")}
    assert (await webhook("items", record)).json()["status"] == "queued"
    assert (await webhook("items", record)).json()["status"] == "duplicate"
    assert (
        await webhook("items", record, key="tds_00000000_not-a-real-key-not-a-real-key")
    ).status_code == 401
    assert (await webhook("widgets", record)).status_code == 404
    big = {"item": samples.item(item_id="OUT-2", description="x" * 1_100_000)}
    assert (await webhook("items", big)).status_code == 413
    ctx = client._transport.app.state.context  # type: ignore[attr-defined]
    assert ctx.webhook_outcomes.pending == 4
    await ctx.webhook_outcomes.flush(pool)
    counted = webhooks_total((await client.get("/metrics")).text)
    assert counted[("items", "queued")] == 1
    assert counted[("items", "duplicate")] == 1
    assert counted[("items", "unauthorized")] == 1
    assert counted[("items", "too_large")] == 1
    assert sum(v for (entity, _), v in counted.items() if entity not in ("items",)) == 1
