"""Replay from the inbox: the stored events a replay selects (``tds_inbox_events``) and their
new queue rows (``tds_sync_queue``, with a ``replayed`` line in ``tds_sync_logs``).

A selection is inbox events received in ``[received_from, received_until)``, optionally of one
``entity``, of the inbox ``statuses``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


class Bounds(TypedDict):
    matched: int
    first_id: int
    """0 when nothing matched."""
    last_id: int
    """0 when nothing matched."""


class InboxEvent(TypedDict):
    id: int
    entity: str
    status: str
    operation: str | None
    content_type: str | None
    headers: dict[str, Any]
    body: bytes
    received_at: datetime


@statement
async def inbox_bounds(
    db: Executor,
    *,
    received_from: datetime,
    received_until: datetime,
    entity: str | None,
    statuses: Sequence[str],
) -> Bounds:
    """How many events the selection matches, and the id range a replay walks."""
    row = await db.fetchrow(
        QUERIES.replay_inbox_bounds, received_from, received_until, entity, list(statuses)
    )
    assert row is not None  # an aggregate without GROUP BY always returns its row
    return cast(Bounds, dict(row))


@statement
async def inbox_batch(
    db: Executor,
    *,
    received_from: datetime,
    received_until: datetime,
    entity: str | None,
    statuses: Sequence[str],
    after: int,
    last: int,
    limit: int,
) -> list[InboxEvent]:
    """The next ``limit`` selected events with their raw bodies, in id order after ``after``, up to
    id ``last``."""
    rows = await db.fetch(
        QUERIES.replay_inbox_batch,
        received_from,
        received_until,
        entity,
        list(statuses),
        after,
        last,
        limit,
    )
    return [cast(InboxEvent, dict(row)) for row in rows]


@statement
async def enqueue_batch(
    db: Executor, *, events: list[dict[str, Any]], replayed_by: str, job_id: int
) -> list[int]:
    """Queue re-staged events (each: ``inbox_event_id``, ``entity``, ``zoho_id``, ``operation``,
    ``source_version``, ``content_hash``, ``payload``) as new queue rows of the same inbox
    events; their ids."""
    rows = await db.fetch(QUERIES.replay_enqueue_batch, events, replayed_by, job_id)
    return [int(row["id"]) for row in rows]
