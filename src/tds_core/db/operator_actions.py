"""``tds_operator_actions``: who did what, when and through which door (append-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


class ActionRecorded(TypedDict):
    id: int
    at: datetime


class OperatorAction(TypedDict):
    id: int
    at: datetime
    actor: str
    role: str | None
    via: str
    action: str
    target: str | None
    details: dict[str, Any]


@statement
async def insert(
    db: Executor,
    *,
    actor: str,
    role: str | None,
    via: str,
    action: str,
    target: str | None,
    details: dict[str, Any] | None,
) -> ActionRecorded:
    row = await db.fetchrow(QUERIES.operator_actions_insert, actor, role, via, action, target, details)
    assert row is not None  # INSERT ... RETURNING always returns its row
    return cast(ActionRecorded, dict(row))


@statement
async def list_all(
    db: Executor, *, action: str | None, actor: str | None, before_id: int | None, limit: int
) -> list[OperatorAction]:
    """Newest first, optionally one action kind or one actor, older than ``before_id``."""
    rows = await db.fetch(QUERIES.operator_actions_list, action, actor, before_id, limit)
    return [cast(OperatorAction, dict(row)) for row in rows]
