"""ERP conflicts as operator actions: list, show (with a column-by-column diff), resolve.

Shared by the admin API and the CLI. A conflict is an ERP row changed outside TDS that an event
met (see :mod:`tds_core.domain.conflicts`). Conflicts resolved by their policy (``source_wins``,
``preserve_columns``) are a record; a held instance (``hold``) is open until an operator
resolves it, in one transaction with the operator action:

- ``apply_source``: the row as it is now is recorded as TDS's (so the local edit met is not
  detected again), and every held queue row of the conflict goes back to ``pending`` with
  attempts reset. The workers apply them through the one apply path, where the version guard
  still decides: an older held event never overwrites a newer version.
- ``keep_local``: the held queue rows end ``skipped_unchanged``; the row as it is now is
  recorded as TDS's and takes the newest held event's version and content hash, so a
  redelivery, a replay or the reconciliation of that version does not overwrite it (a newer
  Zoho change applies as usual). The change is audited (actor: the operator).

Both take the instance's advisory lock first (as a worker's apply does), so a resolution and a
batch holding a new event for the same instance never interleave: the resolution sees every
event held before it, and an event after it meets the resolved row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tds_core.access.actions import Actor, record
from tds_core.db import audit as stored_audit
from tds_core.db import conflicts as stored
from tds_core.db import erp
from tds_core.db.connection import Connection, Executor, transaction
from tds_core.db.erp import STATEMENTS
from tds_core.domain.conflicts import ConflictStatus, Resolution, diff
from tds_core.domain.entities import ENTITIES, ENTITY_SLUGS
from tds_core.domain.hashing import lock_key
from tds_core.domain.records import stock_rows
from tds_core.errors import InvalidRequest, NotFound, WrongState
from tds_core.operations.dead_letters import check_note, is_text
from tds_core.queue.doorbell import wake_workers

RESOLUTIONS = tuple(r.value for r in (Resolution.APPLY_SOURCE, Resolution.KEEP_LOCAL))
STATUSES = tuple(s.value for s in ConflictStatus)


@dataclass(frozen=True)
class ConflictFilter:
    status: str | None = None
    entity: str | None = None
    zoho_id: str | None = None

    def check(self) -> ConflictFilter:
        reasons: list[str] = []
        if self.status is not None and self.status not in STATUSES:
            reasons.append(f"status: {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.entity is not None and self.entity not in ENTITY_SLUGS:
            reasons.append(f"entity: {self.entity!r} is not one of {', '.join(ENTITY_SLUGS)}")
        if self.zoho_id is not None and (not is_text(self.zoho_id) or len(self.zoho_id) > 200):
            reasons.append("zoho_id: 1-200 characters, not only blanks, no NUL")
        if reasons:
            raise InvalidRequest(reasons)
        return self


def check_resolution(resolution: str) -> Resolution:
    if resolution not in RESOLUTIONS:
        raise InvalidRequest([f"resolution: {resolution!r} is not one of {', '.join(RESOLUTIONS)}"])
    return Resolution(resolution)


# ---------------------------------------------------------------------------- reading
async def list_conflicts(
    connection: Executor, selection: ConflictFilter, *, before_id: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Conflicts matching ``selection``, newest first; ``before_id`` pages (keyset)."""
    selection.check()
    rows = await stored.page(
        connection,
        status=selection.status,
        entity=selection.entity,
        zoho_id=selection.zoho_id,
        before_id=before_id,
        limit=limit,
    )
    return [dict(r) for r in rows]


async def get_conflict(connection: Executor, conflict_id: int) -> dict[str, Any]:
    """One conflict with the event, the rows compared and their diff; raises :class:`NotFound`."""
    row = await stored.get(connection, conflict_id=conflict_id)
    if row is None:
        raise NotFound(f"no conflict {conflict_id}")
    conflict: dict[str, Any] = dict(row)
    conflict["diff"] = diff(
        ENTITIES[conflict["entity"]],
        conflict["local_row"],
        conflict["source_row"],
        conflict["written"],
        conflict["changed_columns"] or [],
    )
    return conflict


# ---------------------------------------------------------------------------- resolving
async def resolve(
    connection: Connection, conflict_id: int, resolution: str, actor: Actor, note: str | None = None
) -> dict[str, Any]:
    """Resolve an open conflict with ``apply_source`` or ``keep_local``; raises
    :class:`InvalidRequest`, :class:`NotFound`, or :class:`WrongState` when it is not open."""
    chosen = check_resolution(resolution)
    note = check_note(note, required=False)
    found = await stored.get(connection, conflict_id=conflict_id)
    if found is None:
        raise NotFound(f"no conflict {conflict_id}")
    async with transaction(connection):
        # the instance's lock first, as a worker's apply takes it: no batch is mid-way on it
        await erp.lock_instances(connection, keys=[lock_key(found["entity"], found["zoho_id"])])
        current = await stored.lock_one(connection, conflict_id=conflict_id)
        assert current is not None  # found above, and conflicts are never deleted
        if current["status"] != ConflictStatus.OPEN:
            raise WrongState(_not_open(conflict_id, current))
        statements = STATEMENTS[current["entity"]]
        held = list(current["held_queue_ids"])
        if chosen is Resolution.APPLY_SOURCE:
            await connection.execute(statements.acknowledge, current["zoho_id"])
            queue_ids = await stored.requeue_held(
                connection, queue_ids=held, by=actor.name, conflict_id=conflict_id
            )
        else:
            await _keep_local(connection, current, held, actor)
            queue_ids = await stored.discard_held(
                connection, queue_ids=held, by=actor.name, conflict_id=conflict_id
            )
        await stored.resolve_open(
            connection, conflict_id=conflict_id, resolution=chosen.value, resolved_by=actor.name, note=note
        )
        await record(
            connection,
            actor,
            "conflict.resolve",
            target=str(conflict_id),
            details={
                "resolution": chosen.value,
                "entity": current["entity"],
                "zoho_id": current["zoho_id"],
                "queue_ids": queue_ids,
                "note": note,
            },
        )
    if chosen is Resolution.APPLY_SOURCE:
        await wake_workers(connection)
    return await get_conflict(connection, conflict_id)


async def _keep_local(
    connection: Executor, conflict: stored.ConflictLocked, held: list[int], actor: Actor
) -> None:
    """Accept the row as it is now for the newest held version, and audit that."""
    spec = ENTITIES[conflict["entity"]]
    statements = STATEMENTS[spec.slug]
    before = {
        _key(spec.is_stock, r): r["row"]
        for r in await connection.fetch(statements.select_current, [conflict["zoho_id"]])
    }
    if spec.is_stock:
        hashes = {
            row["location_id"]: row["content_hash"]
            for row in (stock_rows(spec, conflict["payload"]) if conflict["operation"] != "deleted" else [])
        }
        after = await connection.fetch(
            statements.keep_local, conflict["zoho_id"], conflict["source_version"], hashes
        )
    else:
        after = await connection.fetch(
            statements.keep_local, conflict["zoho_id"], conflict["source_version"], conflict["content_hash"]
        )
    audit = [
        {
            "queue_id": min(held) if held else 0,
            "inbox_event_id": None,
            "entity": spec.slug,
            "zoho_id": conflict["zoho_id"],
            "erp_table": spec.table,
            "row_key": _row_key(spec.is_stock, row),
            "action": "update",
            "source_version": row["row"]["source_version"],
            "before": before.get(_row_key(spec.is_stock, row)),
            "after": row["row"],
            "worker_id": None,
            "local_changes": None,
            "actor": actor.name,
        }
        for row in after
    ]
    if audit:
        await stored_audit.insert_batch(connection, rows=audit)


def _key(is_stock: bool, row: Any) -> str:
    return f"{row['zoho_id']}/{row['location_id']}" if is_stock else str(row["zoho_id"])


def _row_key(is_stock: bool, row: Any) -> str:
    return f"{row['item_zoho_id']}/{row['location_id']}" if is_stock else str(row["zoho_id"])


def _not_open(conflict_id: int, current: stored.ConflictLocked) -> str:
    when = current["resolved_at"]
    at = f" at {when:%Y-%m-%d %H:%M:%S %Z}" if when else ""
    by = current["resolved_by"]
    return f"conflict {conflict_id} is already resolved ({current['resolution']} by {by}{at})"
