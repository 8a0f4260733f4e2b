"""Guarantee 2: the same delivery is stored once and applied once; a repeat names the first event."""

from __future__ import annotations

import asyncio
from typing import Any

from . import samples
from .conftest import Send

INVOICE_ID = "982000000567114"


async def counts(pool: Any) -> tuple[int, int, int, int]:
    return (
        await pool.fetchval("SELECT count(*) FROM tds_inbox_events"),
        await pool.fetchval("SELECT count(*) FROM tds_sync_queue"),
        await pool.fetchval("SELECT count(*) FROM invoices"),
        await pool.fetchval("SELECT count(*) FROM tds_audit_trail"),
    )


async def test_same_delivery_three_times(webhook: Send, pool: Any, drain: Any, queue_states: Any) -> None:
    body = {"invoice": samples.invoice()}
    answers = [await webhook("invoices", body) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 202]
    first = answers[0].json()
    assert first["status"] == "queued"
    assert [a.json() for a in answers[1:]] == [{"event_id": first["event_id"], "status": "duplicate"}] * 2
    await drain()
    # and once more after it was applied
    late = await webhook("invoices", body)
    assert late.json() == {"event_id": first["event_id"], "status": "duplicate"}
    await drain()
    assert await counts(pool) == (1, 1, 1, 1)
    assert await queue_states() == ["completed"]


async def test_same_record_wrapped_or_bare_is_the_same_delivery(webhook: Send, pool: Any) -> None:
    first = await webhook("invoices", {"invoice": samples.invoice()})
    second = await webhook("invoices", samples.invoice())
    assert second.json() == {"event_id": first.json()["event_id"], "status": "duplicate"}


async def test_same_idempotency_key_three_times(webhook: Send, pool: Any, drain: Any) -> None:
    headers = {"X-Idempotency-Key": "zoho-delivery-7781"}
    body = {"invoice": samples.invoice()}
    answers = [await webhook("invoices", body, headers=headers) for _ in range(3)]
    first = answers[0].json()
    assert first["status"] == "queued"
    assert [a.json() for a in answers[1:]] == [{"event_id": first["event_id"], "status": "duplicate"}] * 2
    # the key decides, not the content: a different body under the same key is the same delivery
    changed = await webhook("invoices", {"invoice": samples.invoice(total=999)}, headers=headers)
    assert changed.json() == {"event_id": first["event_id"], "status": "duplicate"}
    await drain()
    assert await counts(pool) == (1, 1, 1, 1)
    assert (
        await pool.fetchval("SELECT idempotency_key FROM tds_inbox_events")
        == "invoices:key:zoho-delivery-7781"
    )


async def test_idempotency_keys_are_per_entity(webhook: Send, pool: Any) -> None:
    headers = {"X-Idempotency-Key": "same-key"}
    a = await webhook("invoices", {"invoice": samples.invoice()}, headers=headers)
    b = await webhook("bills", {"bill": samples.bill()}, headers=headers)
    assert (a.json()["status"], b.json()["status"]) == ("queued", "queued")


async def test_concurrent_repeats_store_one_event(webhook: Send, pool: Any, drain: Any) -> None:
    body = {"invoice": samples.invoice()}
    answers = await asyncio.gather(*(webhook("invoices", body) for _ in range(8)))
    assert {a.status_code for a in answers} == {202}
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["duplicate"] * 7 + ["queued"]
    assert len({a.json()["event_id"] for a in answers}) == 1
    await drain()
    assert await counts(pool) == (1, 1, 1, 1)


async def test_same_content_under_another_key_is_skipped_unchanged(
    webhook: Send, pool: Any, drain: Any, queue_states: Any
) -> None:
    body = {"invoice": samples.invoice()}
    first = await webhook("invoices", body, headers={"X-Idempotency-Key": "delivery-1"})
    await drain()
    before = await pool.fetchrow("SELECT synced_at, source_version FROM invoices")
    second = await webhook("invoices", body, headers={"X-Idempotency-Key": "delivery-2"})
    assert second.json()["status"] == "queued"
    assert second.json()["event_id"] != first.json()["event_id"]
    await drain()
    assert await queue_states() == ["completed", "skipped_unchanged"]
    after = await pool.fetchrow("SELECT synced_at, source_version FROM invoices")
    assert after == before  # the row was not touched
    assert await pool.fetchval("SELECT count(*) FROM tds_audit_trail") == 1
    outcomes = await pool.fetch("SELECT outcome FROM tds_sync_logs ORDER BY id")
    assert [r["outcome"] for r in outcomes] == ["completed", "skipped_unchanged"]


async def test_same_content_twice_in_one_batch(
    webhook: Send, pool: Any, drain: Any, queue_states: Any
) -> None:
    body = {"invoice": samples.invoice()}
    await webhook("invoices", body, headers={"X-Idempotency-Key": "delivery-1"})
    await webhook("invoices", body, headers={"X-Idempotency-Key": "delivery-2"})
    worker = await drain(concurrency=1)
    assert worker.stats.batches == 1
    assert await queue_states() == ["completed", "skipped_unchanged"]
    assert await pool.fetchval("SELECT count(*) FROM tds_audit_trail") == 1
