"""Apply a batch of claimed events to the ERP tables, set-based, inside the caller's transaction.

For one batch, in one transaction (opened by the worker):

1. lock the queue rows this worker still leases (rows rescued by someone else drop out);
2. take a transaction advisory lock per entity instance, in key order (no deadlocks), so two
   workers never decide on the same instance at once, even before its row exists;
3. read the current ERP rows of the batch, one query per entity type;
4. decide every event in version order with the pure version guard, in memory;
5. write: one upsert per ERP table, line items deleted and re-inserted with their parent, one
   insert of audit rows, one of sync-log rows, one guarded update of the queue rows.

Nothing commits here: the caller's transaction makes "ERP change + audit + done" atomic.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tds_core.db.erp import STATEMENTS, row_key
from tds_core.db.queries import QUERIES
from tds_core.domain.entities import ENTITIES, ITEM_TOMBSTONE, EntitySpec
from tds_core.domain.hashing import lock_key
from tds_core.domain.records import entity_row, line_rows, stock_rows
from tds_core.domain.states import QueueState
from tds_core.domain.versioning import Decision, RowVersion, decide
from tds_core.errors import TargetError


@dataclass(frozen=True)
class ClaimedEvent:
    id: int
    inbox_event_id: int | None
    entity: str
    zoho_id: str
    operation: str
    source_version: datetime
    content_hash: str
    payload: dict[str, Any]
    attempts: int
    received_at: datetime
    correlation_id: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> ClaimedEvent:
        return cls(
            id=row["id"],
            inbox_event_id=row["inbox_event_id"],
            entity=row["entity"],
            zoho_id=row["zoho_id"],
            operation=row["operation"],
            source_version=row["source_version"],
            content_hash=row["content_hash"],
            payload=row["payload"],
            attempts=row["attempts"],
            received_at=row["received_at"],
            correlation_id=row.get("correlation_id"),
        )

    @property
    def is_delete(self) -> bool:
        return self.operation == "deleted"


@dataclass
class BatchResult:
    """What happened to each event of a batch that this worker still owned."""

    states: dict[int, QueueState] = field(default_factory=dict)
    lease_lost: list[int] = field(default_factory=list)


@dataclass
class _Current:
    version: RowVersion
    row: dict[str, Any]


def _row_version(record: Any) -> RowVersion:
    return RowVersion(
        source_version=record["source_version"],
        content_hash=record["content_hash"],
        deleted=record["deleted"],
    )


class BatchApplier:
    """Turns claimed events into ERP writes; one instance per worker process."""

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id

    async def apply(self, connection: Any, events: list[ClaimedEvent]) -> BatchResult:
        result = BatchResult()
        started = time.perf_counter()
        owned = {
            r["id"]
            for r in await connection.fetch(QUERIES.queue_lock_leased, [e.id for e in events], self.worker_id)
        }
        result.lease_lost = [e.id for e in events if e.id not in owned]
        events = [e for e in events if e.id in owned]
        if not events:
            return result
        keys = sorted({lock_key(e.entity, e.zoho_id) for e in events})
        await connection.execute(QUERIES.erp_lock_instances, keys)
        now = datetime.now(UTC)
        audit: list[dict[str, Any]] = []
        logs: list[dict[str, Any]] = []
        by_entity: dict[str, list[ClaimedEvent]] = defaultdict(list)
        for event in events:
            by_entity[event.entity].append(event)
        for slug, group in by_entity.items():
            spec = ENTITIES[slug]
            if spec.is_stock:
                await self._apply_stock(connection, spec, group, now, audit, result)
            else:
                await self._apply_entity(connection, spec, group, now, audit, result)
        for event in events:
            state = result.states[event.id]
            logs.append(
                {
                    "queue_id": event.id,
                    "inbox_event_id": event.inbox_event_id,
                    "entity": event.entity,
                    "zoho_id": event.zoho_id,
                    "outcome": state.value,
                    "attempt": event.attempts,
                    "worker_id": self.worker_id,
                    "received_at": event.received_at,
                    "duration_ms": (time.perf_counter() - started) * 1000.0,
                }
            )
        if audit:
            await connection.execute(QUERIES.audit_insert_batch, audit)
        ids = [e.id for e in events]
        status = await connection.execute(
            QUERIES.queue_finish_if_leased, ids, [result.states[i].value for i in ids], self.worker_id
        )
        if status != f"UPDATE {len(ids)}":
            # Impossible while we hold the row locks; refuse to commit if it ever happens.
            raise TargetError(f"lease lost during apply ({status} of {len(ids)})")
        await connection.execute(QUERIES.sync_logs_insert_batch, logs)
        return result

    async def _current(self, connection: Any, spec: EntitySpec, ids: list[str]) -> list[Any]:
        rows: list[Any] = await connection.fetch(STATEMENTS[spec.slug].select_current, ids)
        return rows

    async def _apply_entity(
        self,
        connection: Any,
        spec: EntitySpec,
        events: list[ClaimedEvent],
        now: datetime,
        audit: list[dict[str, Any]],
        result: BatchResult,
    ) -> None:
        statements = STATEMENTS[spec.slug]
        current: dict[str, _Current] = {
            r["zoho_id"]: _Current(_row_version(r), r["row"])
            for r in await self._current(connection, spec, sorted({e.zoho_id for e in events}))
        }
        final: dict[str, dict[str, Any]] = {}
        for event in sorted(events, key=lambda e: (e.zoho_id, e.source_version, e.id)):
            existing = current.get(event.zoho_id)
            decision = decide(
                existing.version if existing else None,
                event.source_version,
                event.content_hash,
                event.is_delete,
            )
            if decision is Decision.STALE:
                result.states[event.id] = QueueState.SKIPPED_STALE
                continue
            if decision is Decision.UNCHANGED:
                result.states[event.id] = QueueState.SKIPPED_UNCHANGED
                continue
            if event.is_delete:
                row: dict[str, Any] = (
                    dict(existing.row) if existing else {"zoho_id": event.zoho_id, "data": {}}
                )
                version = (
                    max(existing.version.source_version, event.source_version)
                    if existing
                    else event.source_version
                )
                row.update(source_version=version, deleted_at=now, synced_at=now)
                row.setdefault("content_hash", None)
                action = "delete"
                content_hash = row.get("content_hash")
            else:
                row = {
                    "zoho_id": event.zoho_id,
                    **entity_row(spec, event.payload),
                    "data": event.payload,
                    "source_version": event.source_version,
                    "content_hash": event.content_hash,
                    "deleted_at": None,
                    "synced_at": now,
                }
                action = "update" if existing else "insert"
                content_hash = event.content_hash
            audit.append(self._audit(event, spec.table, row_key(spec, row), action, existing, row))
            current[event.zoho_id] = _Current(
                RowVersion(row["source_version"], content_hash, row["deleted_at"] is not None), row
            )
            final[event.zoho_id] = row
            result.states[event.id] = QueueState.COMPLETED
        if not final:
            return
        await connection.execute(statements.upsert, list(final.values()))
        if spec.lines is not None and statements.delete_lines and statements.insert_lines:
            # Lines are replaced when the record carries its list (even an empty one) and removed
            # with a delete; a partial record without the list leaves the current lines alone.
            source_list = spec.lines.source_list
            replaced = [
                zoho_id
                for zoho_id, row in final.items()
                if row["deleted_at"] is not None or source_list in (row["data"] or {})
            ]
            if replaced:
                await connection.execute(statements.delete_lines, replaced)
            lines: list[dict[str, Any]] = []
            for zoho_id, row in final.items():
                if row["deleted_at"] is None and source_list in (row["data"] or {}):
                    for line in line_rows(spec, row["data"]):
                        line[spec.lines.parent_column] = zoho_id
                        lines.append(line)
            if lines:
                await connection.execute(statements.insert_lines, lines)

    async def _apply_stock(
        self,
        connection: Any,
        spec: EntitySpec,
        events: list[ClaimedEvent],
        now: datetime,
        audit: list[dict[str, Any]],
        result: BatchResult,
    ) -> None:
        statements = STATEMENTS[spec.slug]
        current: dict[tuple[str, str], _Current] = {
            (r["zoho_id"], r["location_id"]): _Current(_row_version(r), r["row"])
            for r in await self._current(connection, spec, sorted({e.zoho_id for e in events}))
        }
        final: dict[tuple[str, str], dict[str, Any]] = {}
        for event in sorted(events, key=lambda e: (e.zoho_id, e.source_version, e.id)):
            decisions: list[Decision] = []
            item_tombstone = current.get((event.zoho_id, ITEM_TOMBSTONE))
            if event.is_delete:
                targets = [
                    (key, cur)
                    for key, cur in current.items()
                    if key[0] == event.zoho_id and not cur.version.deleted
                ]
                if item_tombstone is None:
                    # Marks the whole item deleted, so locations not seen yet cannot appear later.
                    sentinel: dict[str, Any] = {
                        "item_zoho_id": event.zoho_id,
                        "location_id": ITEM_TOMBSTONE,
                        "data": {},
                        "content_hash": None,
                        "source_version": event.source_version,
                        "deleted_at": None,
                        "synced_at": now,
                    }
                    targets.append(
                        (
                            (event.zoho_id, ITEM_TOMBSTONE),
                            _Current(RowVersion(event.source_version, None, False), sentinel),
                        )
                    )
                for key, cur in targets:
                    row = dict(cur.row)
                    row.update(
                        source_version=max(cur.version.source_version, event.source_version),
                        deleted_at=now,
                        synced_at=now,
                    )
                    before = cur if key[1] != ITEM_TOMBSTONE or item_tombstone else None
                    audit.append(self._audit(event, spec.table, row_key(spec, row), "delete", before, row))
                    current[key] = _Current(RowVersion(row["source_version"], row["content_hash"], True), row)
                    final[key] = row
                    decisions.append(Decision.APPLY)
            elif item_tombstone is not None and item_tombstone.version.deleted:
                decisions.append(Decision.STALE)  # the item is deleted: no location may come back
            else:
                for location in stock_rows(spec, event.payload):
                    key = (event.zoho_id, location["location_id"])
                    existing = current.get(key)
                    decision = decide(
                        existing.version if existing else None,
                        event.source_version,
                        location["content_hash"],
                        False,
                    )
                    decisions.append(decision)
                    if decision is not Decision.APPLY:
                        continue
                    row = {
                        "item_zoho_id": event.zoho_id,
                        **location,
                        "source_version": event.source_version,
                        "deleted_at": None,
                        "synced_at": now,
                    }
                    action = "update" if existing else "insert"
                    audit.append(self._audit(event, spec.table, row_key(spec, row), action, existing, row))
                    current[key] = _Current(
                        RowVersion(event.source_version, location["content_hash"], False), row
                    )
                    final[key] = row
            if Decision.APPLY in decisions:
                result.states[event.id] = QueueState.COMPLETED
            elif Decision.STALE in decisions:
                result.states[event.id] = QueueState.SKIPPED_STALE
            else:
                result.states[event.id] = QueueState.SKIPPED_UNCHANGED
        if final:
            await connection.execute(statements.upsert, list(final.values()))

    def _audit(
        self,
        event: ClaimedEvent,
        table: str,
        key: str,
        action: str,
        before: _Current | None,
        after: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "queue_id": event.id,
            "inbox_event_id": event.inbox_event_id,
            "entity": event.entity,
            "zoho_id": event.zoho_id,
            "erp_table": table,
            "row_key": key,
            "action": action,
            "source_version": after["source_version"],
            "before": before.row if before else None,
            "after": after,
            "worker_id": self.worker_id,
        }
