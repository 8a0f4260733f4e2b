"""Accepting an event whose idempotent insert answered nothing (a concurrent repeat committed
after the statement's snapshot): the first event is named as the duplicate, and when none can be
found either, the caller gets a retryable error instead of an event id of None."""

from __future__ import annotations

from typing import Any

import pytest

from tds_core.db import inbox
from tds_core.errors import TransientDatabaseError
from tds_core.staging.service import ACCEPT_ATTEMPTS, Staged, _accept


async def test_a_repeat_committed_after_the_snapshot_is_named_as_the_duplicate(pool: Any) -> None:
    first = await pool.fetchval(
        "INSERT INTO tds_inbox_events (entity, source, status, idempotency_key, body, received_at)"
        " VALUES ('items', 'webhook', 'queued', 'items:key:race', '', now()) RETURNING id"
    )

    async def blocked() -> Staged | None:
        return None

    assert await _accept(pool, blocked, "items:key:race") == inbox.Accepted(first, "duplicate")


async def test_an_insert_that_neither_stores_nor_finds_is_a_retryable_error(pool: Any) -> None:
    tries = 0

    async def blocked() -> Staged | None:
        nonlocal tries
        tries += 1
        return None

    with pytest.raises(TransientDatabaseError, match="items:key:gone"):
        await _accept(pool, blocked, "items:key:gone")
    assert tries == ACCEPT_ATTEMPTS
    assert await pool.fetchval("SELECT count(*) FROM tds_inbox_events") == 0
