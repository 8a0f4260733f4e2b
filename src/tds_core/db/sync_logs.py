"""``tds_sync_logs``: one line per event per attempt (what happened, how long it took)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


@statement
async def insert_batch(db: Executor, *, rows: Sequence[Mapping[str, Any]]) -> None:
    """One batch's lines, in one statement: each row has (some of) ``queue_id``,
    ``inbox_event_id``, ``entity``, ``zoho_id``, ``outcome``, ``attempt``, ``worker_id``,
    ``duration_ms``, ``latency_ms``, ``message`` and ``received_at`` (the latency is taken from
    it when ``latency_ms`` is missing)."""
    await db.execute(QUERIES.sync_logs_insert_batch, rows)
