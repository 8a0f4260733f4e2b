"""What a sync plan reads from ``tds_sync_runs``: Zoho's lists carry no total, so record counts
come from the runs."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


class LatestCount(TypedDict):
    entity: str
    kind: str
    records: int
    finished_at: datetime | None
    run_id: int


@statement
async def latest_counts(db: Executor, *, entities: list[str]) -> list[LatestCount]:
    """Per entity of ``entities``, the records its latest successful full pull or reconciliation
    listed (an entity without one is missing)."""
    rows = await db.fetch(QUERIES.sync_runs_latest_counts, entities)
    return [cast(LatestCount, dict(row)) for row in rows]
