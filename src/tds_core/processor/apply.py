"""Apply a batch of claimed events to the ERP tables, set-based, inside the caller's transaction.

For one batch, in one transaction (opened by the worker):

1. lock the queue rows this worker still leases (rows rescued by someone else drop out);
2. take a transaction advisory lock per entity instance, so two workers never decide on the
   same instance at once, even before its row exists; an instance another batch holds is not
   waited for: its events go back to pending for a later batch (only a batch whose instances
   are all busy waits, in key order, so there is no deadlock);
3. read the current ERP rows of the batch, one query per entity type, each with the columns
   changed outside TDS since TDS last wrote it (``line_items`` for lines changed, added or
   deleted) and the instance's open conflict, if any;
4. decide every event in version order with the pure version guard, in memory
   (:mod:`tds_core.processor.plan`, which needs no database); an event that
   would write a row changed outside TDS meets its entity type's conflict policy
   (domain/conflicts.py): source_wins and preserve_columns write (and record a conflict resolved
   by the policy), hold parks the event (queue state ``held``) in the instance's open conflict,
   as it does every later event of an instance with an open conflict;
5. write: one upsert per ERP table (recording ``tds_written``, and the digest of the lines it
   writes; preserved columns left alone), line items deleted and re-inserted with their parent
   (when the record carries its list, or the parent is deleted), one insert of audit rows, one of
   conflicts (only when the batch met any), one of sync-log rows, one guarded update of the
   queue rows.

Nothing commits here: the caller's transaction makes "ERP change + audit + done" atomic.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tds_core.db import audit, erp, sync_logs
from tds_core.db import conflicts as stored_conflicts
from tds_core.db.connection import Connection, Row
from tds_core.db.erp import STATEMENTS
from tds_core.domain.conflicts import (
    SOURCE_WINS,
    ConflictPolicy,
)
from tds_core.domain.entities import ENTITIES, EntitySpec
from tds_core.domain.hashing import lock_key
from tds_core.domain.records import line_rows
from tds_core.domain.states import QueueState
from tds_core.errors import TargetError
from tds_core.processor.plan import BatchPlanner, EntityWrite, StockWrite
from tds_core.queue import leases
from tds_core.queue.leases import ClaimedEvent


@dataclass
class BatchResult:
    """What happened to each event of a batch that this worker still owned."""

    states: dict[int, QueueState] = field(default_factory=dict)
    lease_lost: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    """Events handed back to pending because another batch was applying their instance."""


class BatchApplier:
    """Turns claimed events into ERP writes; one instance per worker process."""

    def __init__(self, worker_id: str, policies: Mapping[str, ConflictPolicy] | None = None) -> None:
        self.worker_id = worker_id
        self.policies: Mapping[str, ConflictPolicy] = policies or {}
        """Conflict policy per entity type (none: source_wins); the worker sets it on a config reload."""

    async def apply(self, connection: Connection, events: list[ClaimedEvent]) -> BatchResult:
        result = BatchResult()
        started = time.perf_counter()
        owned = await leases.lock_leased(connection, ids=[e.id for e in events], worker=self.worker_id)
        result.lease_lost = [e.id for e in events if e.id not in owned]
        events = [e for e in events if e.id in owned]
        if not events:
            return result
        events = await self._lock_instances(connection, events, result)
        planner = BatchPlanner(self.worker_id, now=datetime.now(UTC))
        logs: list[dict[str, Any]] = []
        by_entity: dict[str, list[ClaimedEvent]] = defaultdict(list)
        for event in events:
            by_entity[event.entity].append(event)
        for slug, group in by_entity.items():
            spec = ENTITIES[slug]
            policy = self._policy(spec)
            rows = await self._current(connection, spec, sorted({e.zoho_id for e in group}))
            if spec.is_stock:
                await self._write_stock(connection, spec, policy, planner.stock(spec, policy, group, rows))
            else:
                await self._write_entity(connection, spec, policy, planner.entity(spec, policy, group, rows))
        result.states.update(planner.states)
        writes = planner.writes
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
        if writes.audit:
            await audit.insert_batch(connection, rows=writes.audit)
        conflicts = [*writes.conflicts, *writes.held.values()]
        if conflicts:
            await stored_conflicts.record_batch(connection, conflicts=conflicts)
        ids = [e.id for e in events]
        finished = await leases.finish(
            connection, ids=ids, states=[result.states[i].value for i in ids], worker=self.worker_id
        )
        if finished != len(ids):
            # Impossible while we hold the row locks; refuse to commit if it ever happens.
            raise TargetError(f"lease lost during apply ({finished} of {len(ids)} finished)")
        await sync_logs.insert_batch(connection, rows=logs)
        return result

    async def _lock_instances(
        self, connection: Connection, events: list[ClaimedEvent], result: BatchResult
    ) -> list[ClaimedEvent]:
        """Take the instance locks of the batch. An instance another batch is applying right now
        is not waited for: its events go back to pending, ready at once and without spending an
        attempt (``result.deferred``), and the rest of the batch goes on. Only when every instance
        is busy does the batch wait, taking the locks in key order as before (never a deadlock)."""
        keys = {event.id: lock_key(event.entity, event.zoho_id) for event in events}
        busy = set(await erp.try_lock_instances(connection, keys=sorted(set(keys.values()))))
        if not busy:
            return events
        if busy == set(keys.values()):
            await erp.lock_instances(connection, keys=sorted(busy))
            return events
        deferred = [event.id for event in events if keys[event.id] in busy]
        await leases.release(connection, ids=deferred, worker=self.worker_id)
        result.deferred = deferred
        return [event for event in events if keys[event.id] not in busy]

    async def _current(self, connection: Connection, spec: EntitySpec, ids: list[str]) -> Sequence[Row]:
        return await connection.fetch(STATEMENTS[spec.slug].select_current, ids)

    def _policy(self, spec: EntitySpec) -> ConflictPolicy:
        return self.policies.get(spec.slug, SOURCE_WINS)

    async def _write_entity(
        self, connection: Connection, spec: EntitySpec, policy: ConflictPolicy, write: EntityWrite
    ) -> None:
        statements = STATEMENTS[spec.slug]
        final, line_records = write.rows, write.line_records
        if write.advanced:
            ids = sorted(write.advanced)
            await connection.execute(statements.advance_tombstones, ids, [write.advanced[i] for i in ids])
        if not final:
            return
        upsert = statements.upsert_preserving(policy.preserved)
        if spec.lines is None or not statements.delete_lines or not statements.insert_lines:
            await connection.execute(upsert, list(final.values()))
            return
        # Lines are replaced when the record carries its list (even an empty one) and removed with
        # a delete; a partial record without the list leaves the current lines alone (and their
        # recorded digest). The upsert records the digest of the lines written, from the same list.
        lines: list[dict[str, Any]] = []
        for zoho_id, record in line_records.items():
            for line in line_rows(spec, record) if record is not None else []:
                line[spec.lines.parent_column] = zoho_id
                lines.append(line)
        replaced = list(line_records)
        await connection.execute(upsert, list(final.values()), lines, replaced)
        if replaced:
            await connection.execute(statements.delete_lines, replaced)
        if lines:
            await connection.execute(statements.insert_lines, lines)

    async def _write_stock(
        self, connection: Connection, spec: EntitySpec, policy: ConflictPolicy, write: StockWrite
    ) -> None:
        statements = STATEMENTS[spec.slug]
        final, advanced = write.rows, write.advanced
        if final:
            await connection.execute(statements.upsert_preserving(policy.preserved), list(final.values()))
        if advanced:
            keys = sorted(advanced)
            await erp.stock_advance_versions(
                connection,
                item_ids=[k[0] for k in keys],
                location_ids=[k[1] for k in keys],
                versions=[advanced[k] for k in keys],
            )
