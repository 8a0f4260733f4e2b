"""The operator action log: who did what, when, and through which door (API, CLI, scheduler).

In `access/` (who acts, with which role) so that both the operator commands (`operations/`) and
the alert commands (`alerts/`) record actions without one depending on the other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tds_core.db import operator_actions
from tds_core.db.connection import Executor

Via = Literal["api", "cli", "scheduler"]


@dataclass(frozen=True)
class Actor:
    """Who acts: a logged-in user (API), the local account (CLI) or the scheduler."""

    name: str
    role: str | None = None
    via: Via = "api"


async def record(
    connection: Executor,
    actor: Actor,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Append one action row on ``connection`` (inside the action's own transaction when it has one)."""
    row = await operator_actions.insert(
        connection,
        actor=actor.name,
        role=actor.role,
        via=actor.via,
        action=action,
        target=target,
        details=details,
    )
    return row["id"]
