"""``tds_sync_cursors``: where each entity's incremental pull stands."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


class CursorListed(TypedDict):
    entity: str
    strategy: str
    watermark: datetime | None
    last_run_id: int | None
    last_full_scan_at: datetime | None
    updated_at: datetime


class Cursor(CursorListed):
    cursor_value: str | None


@statement
async def get(db: Executor, *, entity: str) -> Cursor | None:
    row = await db.fetchrow(QUERIES.cursor_get, entity)
    return None if row is None else cast(Cursor, dict(row))


@statement
async def advance(
    db: Executor, *, entity: str, strategy: str, watermark: datetime | None, run_id: int, full_scan: bool
) -> None:
    """Move the watermark forward (never back); ``full_scan`` stamps ``last_full_scan_at``."""
    await db.execute(QUERIES.cursor_advance, entity, strategy, watermark, run_id, full_scan)


@statement
async def list_all(db: Executor) -> list[CursorListed]:
    """Every entity's cursor, by entity."""
    return [cast(CursorListed, dict(row)) for row in await db.fetch(QUERIES.cursors_all)]


@statement
async def entities_never_pulled(db: Executor, *, entities: list[str]) -> list[str]:
    """Of ``entities`` (in that order), those no pull ever finished for, leaving out one whose
    pull paused at the quota reserve until the quota resets."""
    return [str(row["entity"]) for row in await db.fetch(QUERIES.entities_never_pulled, entities)]
