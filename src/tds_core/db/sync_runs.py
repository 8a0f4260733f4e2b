"""``tds_sync_runs``: pull and reconciliation runs with their counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


class Run(TypedDict):
    id: int
    entity: str
    kind: str
    status: str
    triggered_by: str
    started_at: datetime
    finished_at: datetime | None
    fetched: int
    queued: int
    unchanged: int
    failed: int
    api_calls: int
    drift: int | None
    cursor_from: str | None
    cursor_to: str | None
    error: str | None
    seconds: float


class RunDetail(Run):
    details: dict[str, Any]


@statement
async def start(db: Executor, *, entity: str, kind: str, triggered_by: str, cursor_from: str | None) -> int:
    """A run begins; its id."""
    return int(await db.fetchval(QUERIES.sync_run_start, entity, kind, triggered_by, cursor_from))


@statement
async def finish(
    db: Executor,
    *,
    run_id: int,
    status: str,
    fetched: int,
    queued: int,
    unchanged: int,
    failed: int,
    api_calls: int,
    cursor_to: str | None,
    error: str | None,
    details: dict[str, Any] | None,
) -> None:
    """A pull ends with its counts and, when given, its details (None keeps them)."""
    await db.execute(
        QUERIES.sync_run_finish,
        run_id,
        status,
        fetched,
        queued,
        unchanged,
        failed,
        api_calls,
        cursor_to,
        error,
        details,
    )


@statement
async def finish_reconcile(
    db: Executor,
    *,
    run_id: int,
    status: str,
    fetched: int,
    queued: int,
    api_calls: int,
    drift: int | None,
    details: dict[str, Any],
    error: str | None,
) -> None:
    """A reconciliation ends: records checked, events staged to heal, drift and the drifted ids."""
    await db.execute(
        QUERIES.sync_run_finish_reconcile, run_id, status, fetched, queued, api_calls, drift, details, error
    )


@statement
async def page(
    db: Executor,
    *,
    entity: str | None,
    kind: str | None,
    status: str | None,
    before_id: int | None,
    limit: int,
) -> list[Run]:
    """Runs newest first, each filter optional, keyset-paged by id."""
    rows = await db.fetch(QUERIES.sync_runs_page, entity, kind, status, before_id, limit)
    return [cast(Run, dict(row)) for row in rows]


@statement
async def get(db: Executor, *, run_id: int) -> RunDetail | None:
    row = await db.fetchrow(QUERIES.sync_run_get, run_id)
    return None if row is None else cast(RunDetail, dict(row))
