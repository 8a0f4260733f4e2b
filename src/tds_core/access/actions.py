"""The operator action log: who did what, when, and through which door (API, CLI, scheduler).

In `access/` (who acts, with which role) so that both the operator commands (`operations/`) and
the alert commands (`alerts/`) record actions without one depending on the other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tds_core.db.queries import QUERIES

Via = Literal["api", "cli", "scheduler"]


@dataclass(frozen=True)
class Actor:
    """Who acts: a logged-in user (API), the local account (CLI) or the scheduler."""

    name: str
    role: str | None = None
    via: Via = "api"


async def record(
    connection: Any,
    actor: Actor,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Append one action row on ``connection`` (inside the action's own transaction when it has one)."""
    row = await connection.fetchrow(
        QUERIES.operator_actions_insert, actor.name, actor.role, actor.via, action, target, details
    )
    return int(row["id"])
