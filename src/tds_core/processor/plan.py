"""Decide a batch in memory: the pure half of the applier (:mod:`tds_core.processor.apply`).

Given a batch's events of one entity type, the conflict policy and the current ERP rows (as the
applier read them, with the columns changed outside TDS and the instance's open conflict), the
:class:`BatchPlanner` decides every event in version order with the pure version guard
(``domain/versioning.py``) and returns what to write: the rows (and, for documents, the parents
whose lines are replaced), the audit rows, the conflicts resolved by their policy, the held
instances' open conflicts, and each event's queue state. Nothing here touches a database, so
the decisions are tested without one (tests/unit/test_plan.py); the applier executes the plan
in the batch's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tds_core.db.connection import Row
from tds_core.db.erp import row_key
from tds_core.domain.conflicts import (
    LINE_ITEMS,
    ConflictPolicy,
    ConflictStatus,
    Policy,
    Resolution,
)
from tds_core.domain.entities import ITEM_TOMBSTONE, EntitySpec
from tds_core.domain.records import entity_row, line_rows, stock_rows, uncarried_columns
from tds_core.domain.states import QueueState
from tds_core.domain.versioning import Decision, RowVersion, decide
from tds_core.queue.leases import ClaimedEvent


@dataclass
class Current:
    version: RowVersion
    row: dict[str, Any]
    changed: list[str] | None = None
    """Columns changed outside TDS since TDS last wrote the row (None: none)."""
    written: dict[str, Any] | None = None
    """What TDS last wrote, when ``changed``."""
    open_conflict: int | None = None
    """The instance's open conflict (policy hold), if any."""


def row_version(record: Row) -> RowVersion:
    return RowVersion(
        source_version=record["source_version"],
        content_hash=record["content_hash"],
        deleted=record["deleted"],
    )


def leaving_lines(current: Current) -> Current:
    """The row as met by a write that leaves its lines alone (a record without its line list):
    a local change of the lines is not overwritten by it, so it is no conflict of this write."""
    if LINE_ITEMS not in (current.changed or ()):
        return current
    changed = [c for c in current.changed or () if c != LINE_ITEMS]
    row = {k: v for k, v in current.row.items() if k != LINE_ITEMS}
    return replace(current, row=row, changed=changed or None, written=current.written if changed else None)


def current_of(record: Row) -> Current:
    return Current(
        row_version(record),
        record["row"],
        list(record["changed"]) if record["changed"] else None,
        record["written"],
        record["open_conflict"],
    )


@dataclass
class Writes:
    """What a batch writes besides the ERP rows, collected in memory and written at the end."""

    now: datetime
    audit: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    """Conflicts resolved by their policy (source_wins, preserve_columns)."""
    held: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """Held instances: one open conflict record each (the newest held event, every held queue id)."""


@dataclass
class EntityWrite:
    """The rows a batch writes for one entity type (documents: with their lines)."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    line_records: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    """Parents whose lines the batch replaces: the newest record carrying the list (None: a delete)."""
    advanced: dict[str, datetime] = field(default_factory=dict)
    """Deleted rows a newer delete met: they take its version, and nothing else changes."""


@dataclass
class StockWrite:
    """The stock locations a batch writes, and those whose version alone moves."""

    rows: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    advanced: dict[tuple[str, str], datetime] = field(default_factory=dict)


class BatchPlanner:
    """Decides one batch; ``writes`` and ``states`` collect what every entity type's plan adds."""

    def __init__(self, worker_id: str, now: datetime) -> None:
        self.worker_id = worker_id
        self.writes = Writes(now=now)
        self.states: dict[int, QueueState] = {}

    def entity(
        self, spec: EntitySpec, policy: ConflictPolicy, events: list[ClaimedEvent], rows: Sequence[Row]
    ) -> EntityWrite:
        """The writes of ``events`` (one non-stock entity type) against the current ``rows``."""
        writes = self.writes
        now = writes.now
        current: dict[str, Current] = {r["zoho_id"]: current_of(r) for r in rows}
        advanced: dict[str, datetime] = {}
        final: dict[str, dict[str, Any]] = {}
        line_records: dict[str, dict[str, Any] | None] = {}
        """Parents whose lines the batch replaces: the newest record carrying the list (None: a delete)."""
        held: set[str] = set()
        for event in sorted(events, key=lambda e: (e.zoho_id, e.source_version, e.id)):
            existing = current.get(event.zoho_id)
            decision = decide(
                existing.version if existing else None,
                event.source_version,
                event.content_hash,
                event.is_delete,
            )
            if decision is Decision.STALE:
                self.states[event.id] = QueueState.SKIPPED_STALE
                continue
            if decision is Decision.UNCHANGED:
                if existing is not None and existing.version.deleted and event.is_delete:
                    self._advance_tombstone(event, existing, current, final, advanced)
                self.states[event.id] = QueueState.SKIPPED_UNCHANGED
                continue
            source = None if event.is_delete else entity_row(spec, event.payload)
            keeps_lines = (
                spec.lines is not None and not event.is_delete and spec.lines.source_list not in event.payload
            )
            met = leaving_lines(existing) if existing is not None and keeps_lines else existing
            local = met.changed if met else None
            if (
                event.zoho_id in held
                or (existing is not None and existing.open_conflict is not None)
                or (local and policy.policy is Policy.HOLD)
            ):
                self._hold(writes, spec, event, event.zoho_id, existing, source)
                held.add(event.zoho_id)
                self.states[event.id] = QueueState.HELD
                continue
            if event.is_delete:
                row: dict[str, Any] = (
                    dict(existing.row) if existing else {"zoho_id": event.zoho_id, "data": {}}
                )
                row.pop(LINE_ITEMS, None)  # the local lines, when they moved: removed with the row
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
                    **(source or {}),
                    "data": event.payload,
                    "source_version": event.source_version,
                    "content_hash": event.content_hash,
                    "deleted_at": None,
                    "synced_at": now,
                }
                if existing is not None:
                    # an update keeps the ERP-owned columns (the upsert does not write them)
                    row.update({c: existing.row.get(c) for c in policy.preserved})
                    # and the columns this record does not carry (a list row, a partial webhook):
                    # a list row never blanks what a fuller record set
                    for column in uncarried_columns(spec, event.payload):
                        row[column] = existing.row.get(column)
                        if source is not None:
                            source[column] = row[column]
                action = "update" if existing else "insert"
                content_hash = event.content_hash
            if local:
                self._overwritten(writes, spec, event, row_key(spec, row), met, source, policy)
            writes.audit.append(self._audit(event, spec.table, row_key(spec, row), action, met, row, local))
            now_version = RowVersion(row["source_version"], content_hash, row["deleted_at"] is not None)
            if met is not existing and existing is not None:
                # the lines' local change is still there for a later event of the batch to meet
                current[event.zoho_id] = Current(
                    now_version,
                    {**row, LINE_ITEMS: existing.row.get(LINE_ITEMS)},
                    [LINE_ITEMS],
                    existing.written,
                )
            else:
                current[event.zoho_id] = Current(now_version, row)
            final[event.zoho_id] = row
            if spec.lines is not None and not keeps_lines:
                line_records[event.zoho_id] = None if event.is_delete else event.payload
            self.states[event.id] = QueueState.COMPLETED
        return EntityWrite(final, line_records, advanced)

    def stock(
        self, spec: EntitySpec, policy: ConflictPolicy, events: list[ClaimedEvent], rows: Sequence[Row]
    ) -> StockWrite:
        """The writes of stock ``events`` against the current location ``rows``."""
        writes = self.writes
        now = writes.now
        current: dict[tuple[str, str], Current] = {
            (r["zoho_id"], r["location_id"]): current_of(r) for r in rows
        }
        final: dict[tuple[str, str], dict[str, Any]] = {}
        advanced: dict[tuple[str, str], datetime] = {}
        held: set[str] = set()
        for event in sorted(events, key=lambda e: (e.zoho_id, e.source_version, e.id)):
            decisions: list[Decision] = []
            # the rows this event writes: (key, the row before or None, the row after, the source's columns)
            plan: list[tuple[tuple[str, str], Current | None, dict[str, Any], dict[str, Any] | None]] = []
            item_tombstone = current.get((event.zoho_id, ITEM_TOMBSTONE))
            if event.is_delete:
                targets = [
                    (key, cur)
                    for key, cur in current.items()
                    if key[0] == event.zoho_id and not cur.version.deleted
                ]
                for key, cur in targets:
                    row = dict(cur.row)
                    row.update(
                        source_version=max(cur.version.source_version, event.source_version),
                        deleted_at=now,
                        synced_at=now,
                    )
                    plan.append((key, cur, row, None))
                if item_tombstone is None:
                    # Marks the whole item deleted, so locations not seen yet cannot appear later.
                    sentinel: dict[str, Any] = {
                        "item_zoho_id": event.zoho_id,
                        "location_id": ITEM_TOMBSTONE,
                        "data": {},
                        "content_hash": None,
                        "source_version": event.source_version,
                        "deleted_at": now,
                        "synced_at": now,
                    }
                    plan.append(((event.zoho_id, ITEM_TOMBSTONE), None, sentinel, None))
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
                    if decision is Decision.UNCHANGED and existing is not None:
                        self._advance(key, existing, event.source_version, current, final, advanced)
                    if decision is not Decision.APPLY:
                        continue
                    row = {
                        "item_zoho_id": event.zoho_id,
                        **location,
                        "source_version": event.source_version,
                        "deleted_at": None,
                        "synced_at": now,
                    }
                    source = {c.name: location.get(c.name) for c in spec.columns}
                    if existing is not None:
                        row.update({c: existing.row.get(c) for c in policy.preserved})
                    plan.append((key, existing, row, source))
            if plan:
                local = [step for step in plan if step[1] is not None and step[1].changed]
                instance = [cur for key, cur in current.items() if key[0] == event.zoho_id]
                if (
                    event.zoho_id in held
                    or any(cur.open_conflict is not None for cur in instance)
                    or (local and policy.policy is Policy.HOLD)
                ):
                    # the conflict shows the first location changed locally (or the first written)
                    shown = local[0] if local else plan[0]
                    self._hold(writes, spec, event, f"{shown[0][0]}/{shown[0][1]}", shown[1], shown[3])
                    held.add(event.zoho_id)
                    self.states[event.id] = QueueState.HELD
                    continue
            for key, before, row, from_source in plan:
                changed = before.changed if before else None
                if changed:
                    self._overwritten(writes, spec, event, row_key(spec, row), before, from_source, policy)
                action = "delete" if event.is_delete else ("update" if before else "insert")
                writes.audit.append(
                    self._audit(event, spec.table, row_key(spec, row), action, before, row, changed)
                )
                current[key] = Current(
                    RowVersion(row["source_version"], row["content_hash"], row["deleted_at"] is not None), row
                )
                final[key] = row
            if Decision.APPLY in decisions:
                self.states[event.id] = QueueState.COMPLETED
            elif Decision.STALE in decisions:
                self.states[event.id] = QueueState.SKIPPED_STALE
            else:
                self.states[event.id] = QueueState.SKIPPED_UNCHANGED
        return StockWrite(final, advanced)

    @staticmethod
    def _advance_tombstone(
        event: ClaimedEvent,
        existing: Current,
        current: dict[str, Current],
        final: dict[str, dict[str, Any]],
        advanced: dict[str, datetime],
    ) -> None:
        """A delete that meets a tombstone changes nothing but the version: the tombstone keeps the
        newer of the two (``domain/versioning.py``), so the row is never older than an event that
        ended on it (a reconciliation tombstone after the webhook's delete, say). No audit row."""
        if event.source_version <= existing.version.source_version:
            return
        current[event.zoho_id] = replace(
            existing, version=replace(existing.version, source_version=event.source_version)
        )
        if event.zoho_id in final:
            final[event.zoho_id]["source_version"] = event.source_version  # written by this batch
        else:
            advanced[event.zoho_id] = event.source_version

    @staticmethod
    def _advance(
        key: tuple[str, str],
        existing: Current,
        version: datetime,
        current: dict[tuple[str, str], Current],
        final: dict[tuple[str, str], dict[str, Any]],
        advanced: dict[tuple[str, str], datetime],
    ) -> None:
        """A location whose quantities a newer event repeats: its row keeps its content but takes
        the newer version. A location's hash covers its quantities only, so without this a
        location that went A → B → A, delivered as A (newer) then B (older, reordered), would
        end B: the older event would pass the version guard against A's first version."""
        if version <= existing.version.source_version or existing.version.deleted:
            return
        current[key] = replace(existing, version=replace(existing.version, source_version=version))
        if key in final:
            final[key]["source_version"] = version  # written by this batch: the upsert carries it
        else:
            advanced[key] = version  # only the version moves: local edits stay, no audit row

    # ------------------------------------------------------------------ conflicts and audit
    def _overwritten(
        self,
        writes: Writes,
        spec: EntitySpec,
        event: ClaimedEvent,
        key: str,
        before: Current | None,
        source: dict[str, Any] | None,
        policy: ConflictPolicy,
    ) -> None:
        """A write met a row changed outside TDS: a conflict resolved by the policy, recorded when a
        column TDS overwrites had been changed (preserved columns are the ERP's to change)."""
        assert before is not None and before.changed
        if not [c for c in before.changed if c not in policy.preserved]:
            return
        resolution = (
            Resolution.PRESERVE_COLUMNS
            if policy.policy is Policy.PRESERVE_COLUMNS
            else Resolution.SOURCE_WINS
        )
        writes.conflicts.append(
            {
                **self._conflict(spec, event, key, before, source),
                "policy": policy.policy.value,
                "status": ConflictStatus.RESOLVED.value,
                "resolution": resolution.value,
            }
        )

    def _hold(
        self,
        writes: Writes,
        spec: EntitySpec,
        event: ClaimedEvent,
        key: str,
        before: Current | None,
        source: dict[str, Any] | None,
    ) -> None:
        """Park the event in its instance's open conflict (one record per instance and batch,
        showing the newest held event)."""
        instance = (spec.slug, event.zoho_id)
        previous = writes.held.get(instance)
        record = previous
        if previous is None or event.source_version >= previous["source_version"]:
            record = {
                **self._conflict(spec, event, key, before, source),
                "policy": Policy.HOLD.value,
                "status": ConflictStatus.OPEN.value,
                "resolution": None,
            }
            if previous is not None and (before is None or not before.changed):
                # held behind the conflict: the rows compared stay those found when it was detected
                for name in ("row_key", "local_row", "written", "changed_columns"):
                    record[name] = previous[name]
        assert record is not None
        record["held_queue_ids"] = [*(previous["held_queue_ids"] if previous else []), event.id]
        writes.held[instance] = record

    def _conflict(
        self,
        spec: EntitySpec,
        event: ClaimedEvent,
        key: str,
        before: Current | None,
        source: dict[str, Any] | None,
    ) -> dict[str, Any]:
        lines = spec.lines
        if (
            lines is not None
            and source is not None
            and before is not None
            and LINE_ITEMS in (before.changed or ())
            and lines.source_list in event.payload
        ):
            # the event's lines, to show against the local ones (key and business columns)
            source = {
                **source,
                LINE_ITEMS: [
                    {k: v for k, v in line.items() if k != "data"}
                    for line in sorted(
                        line_rows(spec, event.payload), key=lambda line: str(line[lines.key_column])
                    )
                ],
            }
        return {
            "entity": spec.slug,
            "zoho_id": event.zoho_id,
            "erp_table": spec.table,
            "row_key": key,
            "queue_id": event.id,
            "inbox_event_id": event.inbox_event_id,
            "held_queue_ids": [],
            "operation": event.operation,
            "source_version": event.source_version,
            "content_hash": event.content_hash,
            "payload": event.payload,
            "source_row": source,
            "local_row": before.row if before else None,
            "written": before.written if before else None,
            "changed_columns": (before.changed or []) if before else [],
        }

    def _audit(
        self,
        event: ClaimedEvent,
        table: str,
        key: str,
        action: str,
        before: Current | None,
        after: dict[str, Any],
        local_changes: list[str] | None = None,
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
            "local_changes": local_changes,
            # a change reconciliation made (a confirmed delete, a healed record) says so
            "actor": "reconcile" if event.source == "reconcile" else None,
        }
