"""Entity history: an ERP row as it is now, and its audit trail with a readable diff per change.

How a change is diffed (:func:`diff`), from the audit row's ``before`` and ``after`` snapshots:

* the typed ERP columns (``total``, ``status``, ...) and the version columns ``source_version``
  and ``deleted_at``, compared by value (``12.5`` equals ``"12.50"``, timestamps by instant);
  ``synced_at`` and ``content_hash`` are bookkeeping and left out;
* then the top-level fields of the source record (``data``) that no column mirrors, as
  ``data.<field>`` (compared as JSON values);
* line items (``data.line_items``, a price list's ``data.pricebook_items``) by their line id:
  one entry ``data.line_items[<id>]`` per added, removed or changed line, with the whole line
  before and after (``null`` for an added or a removed one).

An insert has no ``before``: every field that has a value is listed. A delete shows
``deleted_at`` going from ``null`` to the time of the delete.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, Field

from tds_core.db import inspection
from tds_core.db.connection import Executor
from tds_core.db.inspection import AuditRow
from tds_core.domain.entities import ENTITIES, ITEM_TOMBSTONE, STOCK_LOCATION_FIELDS, EntitySpec, Kind
from tds_core.domain.records import normalize_id

TIMESTAMP_COLUMNS = ("source_version", "deleted_at")
STOCK_KEYS = ("item_zoho_id", "location_id")


class UnknownEntity(LookupError):
    """An entity slug TDS does not sync."""


class FieldChange(BaseModel):
    field: str = Field(description="Column name, `data.<field>`, or `data.line_items[<line id>]`")
    before: Any = None
    after: Any = None


class AuditEntry(BaseModel):
    id: int
    queue_id: int
    inbox_event_id: int | None = None
    entity: str
    zoho_id: str
    erp_table: str
    row_key: str
    action: str = Field(description="insert, update or delete")
    source_version: datetime
    actor: str
    worker_id: str | None = None
    created_at: datetime
    changes: list[FieldChange] = Field(description="What this change did, field by field")
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class ErpState(BaseModel):
    """The ERP row(s) of one entity instance now."""

    erp_table: str
    exists: bool
    deleted: bool = Field(description="A tombstone: deleted in Zoho (the row is kept, with deleted_at)")
    rows: list[dict[str, Any]] = Field(
        description="The entity's row; for stock one row per location (location '*' marks the item deleted)"
    )
    lines: list[dict[str, Any]] = Field(description="Line items (invoices, bills, credit notes, price lists)")


class EntityHistory(BaseModel):
    entity: str
    zoho_id: str
    current: ErpState
    history: list[AuditEntry] = Field(description="Audit rows, newest first")
    next_before_id: int | None = Field(description="Pass as before_id for the next (older) page")


# ---------------------------------------------------------------------------- diffs
def _number(value: Any) -> Any:
    """A numeric value as exact canonical text (``12.50``, ``12.5`` and ``"12.5"`` agree)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return value
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return value
    return format(number.normalize(), "f") if number.is_finite() else value


def _instant(value: Any) -> Any:
    """A timestamp as an aware datetime (PostgreSQL and the worker format them differently)."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _comparable(value: Any, kind: Kind | None) -> Any:
    """A column value in one canonical form, whichever side (PostgreSQL or the worker) wrote it;
    ``kind`` is ``None`` for the timestamp columns."""
    if value is None:
        return None
    if kind is None:
        return _instant(value)
    if kind is Kind.NUMERIC or kind is Kind.INTEGER:
        return _number(value)
    if kind is Kind.DATE and isinstance(value, str):
        return value[:10]
    return value


def _shown(value: Any, kind: Kind | None) -> Any:
    """A column value as a diff shows it: timestamps in UTC, whole numbers as numbers, other
    numbers as exact text."""
    shown = _comparable(value, kind)
    if isinstance(shown, datetime):
        return (shown.astimezone(UTC) if shown.tzinfo else shown).isoformat()
    if kind is Kind.INTEGER and isinstance(shown, str):
        try:
            return int(shown)
        except ValueError:
            return shown
    return shown


def _columns(spec: EntitySpec) -> list[tuple[str, Kind | None]]:
    columns: list[tuple[str, Kind | None]] = [(c.name, c.kind) for c in spec.columns]
    return columns + [(name, None) for name in TIMESTAMP_COLUMNS]


def _mirrored(spec: EntitySpec) -> set[str]:
    """Source fields that a typed column already shows (left out of the ``data.`` part)."""
    if spec.is_stock:
        return {name for pair in STOCK_LOCATION_FIELDS.values() for name in pair}
    return {c.source for c in spec.columns} | {spec.id_field}


def _lines_by_id(lines: Any, key: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for position, line in enumerate(lines if isinstance(lines, list) else []):
        line_id = normalize_id(line.get(key)) if isinstance(line, dict) else None
        found[line_id if line_id is not None else f"#{position}"] = line
    return found


def _data(row: dict[str, Any]) -> dict[str, Any]:
    data = row.get("data")
    return data if isinstance(data, dict) else {}


def diff(spec: EntitySpec, before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[FieldChange]:
    """The field-by-field changes from one audit snapshot to the next (rules in the module doc)."""
    old = before or {}
    new = after or {}
    changes: list[FieldChange] = []
    for name, kind in _columns(spec):
        a, b = old.get(name), new.get(name)
        if _comparable(a, kind) != _comparable(b, kind):
            changes.append(FieldChange(field=name, before=_shown(a, kind), after=_shown(b, kind)))
    old_data, new_data = _data(old), _data(new)
    lines = spec.lines
    skipped = _mirrored(spec)
    for name in [*new_data, *(n for n in old_data if n not in new_data)]:
        if name in skipped:
            continue
        a, b = old_data.get(name), new_data.get(name)
        if lines is not None and name == lines.source_list and (isinstance(a, list) or isinstance(b, list)):
            old_lines, new_lines = _lines_by_id(a, lines.key_source), _lines_by_id(b, lines.key_source)
            for line_id in [*new_lines, *(i for i in old_lines if i not in new_lines)]:
                if old_lines.get(line_id) != new_lines.get(line_id):
                    changes.append(
                        FieldChange(
                            field=f"data.{name}[{line_id}]",
                            before=old_lines.get(line_id),
                            after=new_lines.get(line_id),
                        )
                    )
        elif a != b or type(a) is not type(b):
            changes.append(FieldChange(field=f"data.{name}", before=a, after=b))
    return changes


def audit_entry(row: AuditRow) -> AuditEntry:
    """An audit row with its diff (the spec comes from the row's entity)."""
    spec = ENTITIES.get(row["entity"])
    changes = diff(spec, row["before"], row["after"]) if spec is not None else []
    return AuditEntry(
        id=row["id"],
        queue_id=row["queue_id"],
        inbox_event_id=row["inbox_event_id"],
        entity=row["entity"],
        zoho_id=row["zoho_id"],
        erp_table=row["erp_table"],
        row_key=row["row_key"],
        action=row["action"],
        source_version=row["source_version"],
        actor=row["actor"],
        worker_id=row["worker_id"],
        created_at=row["created_at"],
        changes=changes,
        before=row["before"],
        after=row["after"],
    )


# ---------------------------------------------------------------------------- reads
def spec_for(entity: str) -> EntitySpec:
    spec = ENTITIES.get(entity)
    if spec is None:
        raise UnknownEntity(f"unknown entity {entity[:40]!r}: expected one of {', '.join(ENTITIES)}")
    return spec


async def erp_state(connection: Executor, spec: EntitySpec, zoho_id: str) -> ErpState:
    """The instance's ERP row(s) and lines as they are now (tombstones included)."""
    rows = [
        r["row"]
        for r in await inspection.erp_rows_for_instance(connection, entity=spec.slug, zoho_id=zoho_id)
    ]
    lines: list[dict[str, Any]] = []
    if spec.lines is not None and rows:
        lines = [
            r["row"]
            for r in await inspection.erp_lines_for_instance(connection, entity=spec.slug, zoho_id=zoho_id)
        ]
    if spec.is_stock:
        tombstone = [r for r in rows if r.get("location_id") == ITEM_TOMBSTONE]
        deleted = bool(tombstone and tombstone[0].get("deleted_at") is not None)
    else:
        deleted = bool(rows and rows[0].get("deleted_at") is not None)
    return ErpState(erp_table=spec.table, exists=bool(rows), deleted=deleted, rows=rows, lines=lines)


async def entity_history(
    connection: Executor, entity: str, zoho_id: str, *, before_id: int | None = None, limit: int = 100
) -> EntityHistory | None:
    """The current ERP state and one page of audit history (newest first); ``None`` when TDS
    has neither a row nor any audit history for the instance. Raises :class:`UnknownEntity`."""
    spec = spec_for(entity)
    state = await erp_state(connection, spec, zoho_id)
    rows = await inspection.audit_history_page(
        connection, entity=spec.slug, zoho_id=zoho_id, before_id=before_id, limit=limit
    )
    if not state.exists and not rows and before_id is None:
        return None
    entries = [audit_entry(row) for row in rows]
    return EntityHistory(
        entity=spec.slug,
        zoho_id=zoho_id,
        current=state,
        history=entries,
        next_before_id=entries[-1].id if len(entries) == limit else None,
    )
