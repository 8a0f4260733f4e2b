"""``tds_audit_trail``: the append-only record of every ERP change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


@statement
async def insert_batch(db: Executor, *, rows: Sequence[Mapping[str, Any]]) -> None:
    """One batch's audit rows, in one statement: each row has ``queue_id``, ``inbox_event_id``,
    ``entity``, ``zoho_id``, ``erp_table``, ``row_key``, ``action``, ``source_version``,
    ``before``, ``after``, ``worker_id``, and optionally ``local_changes`` and ``actor``
    (default ``tds``)."""
    await db.execute(QUERIES.audit_insert_batch, rows)
