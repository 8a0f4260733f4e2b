"""ERP-side conflicts: an ERP row changed outside TDS since TDS last wrote it.

TDS records, with every row it writes, the row's business columns as written (``tds_written``,
computed in SQL by the upsert). When a later event is about to write the row, the worker reads
the row as it is now together with the columns that differ from ``tds_written``
(``changed``). A non-empty ``changed`` is a *conflict*, handled by the entity type's
:class:`ConflictPolicy` (``conflicts.policies`` in the runtime configuration):

- ``source_wins`` (the default): Zoho is the source of truth; the row is overwritten and the
  overwritten local values stay in the audit trail (``before``, with ``local_changes``) and in
  a conflict row resolved automatically;
- ``preserve_columns``: the named ERP-owned columns are never overwritten by an update (a new
  row takes the source's values); a conflict is recorded (resolved automatically) only when a
  column TDS does overwrite had also been changed locally;
- ``hold``: the event is not applied; it is parked (queue state ``held``) in an open conflict
  for an operator, who resolves it with ``apply_source`` or ``keep_local``. While an instance
  has an open conflict every later event for it that would write is held in the same conflict.

Line items (of invoices, bills, credit notes, price lists) are compared as a whole: TDS records a
digest of the lines it wrote on the parent (``tds_lines_written``), and a line changed, added or
deleted outside TDS shows as the pseudo-column :data:`LINE_ITEMS` among the changed columns (the
local lines then come with the row). A record without its line list leaves the lines alone, so
it does not overwrite a local line change (nor accept it). Lines cannot be preserved: they are
replaced as a whole with their parent.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from tds_core.domain.entities import ENTITIES, EntitySpec, Kind

LINE_ITEMS = "line_items"
"""The pseudo-column of a parent's line items among the changed columns of a conflict."""


class Policy(StrEnum):
    SOURCE_WINS = "source_wins"
    PRESERVE_COLUMNS = "preserve_columns"
    HOLD = "hold"


class ConflictStatus(StrEnum):
    OPEN = "open"
    """Held for an operator (policy ``hold``). In: a worker holding an event."""

    RESOLVED = "resolved"
    """Done: automatically (``source_wins``, ``preserve_columns``) or by an operator."""


class Resolution(StrEnum):
    SOURCE_WINS = "source_wins"
    """Automatic: the source overwrote the local change."""

    PRESERVE_COLUMNS = "preserve_columns"
    """Automatic: the preserved columns kept their ERP values; the others were overwritten."""

    APPLY_SOURCE = "apply_source"
    """Operator: the held events are queued again and applied over the local change."""

    KEEP_LOCAL = "keep_local"
    """Operator: the held events are discarded; the row as it is now is accepted as TDS's."""


OPERATOR_RESOLUTIONS = (Resolution.APPLY_SOURCE, Resolution.KEEP_LOCAL)


@dataclass(frozen=True)
class ConflictPolicy:
    """How one entity type's conflicts are handled."""

    policy: Policy = Policy.SOURCE_WINS
    columns: frozenset[str] = frozenset()
    """The ERP-owned columns of ``preserve_columns``."""

    @property
    def preserved(self) -> frozenset[str]:
        return self.columns if self.policy is Policy.PRESERVE_COLUMNS else frozenset()


SOURCE_WINS = ConflictPolicy()


def preservable_columns(spec: EntitySpec) -> tuple[str, ...]:
    """The data columns of the entity's table that a policy may preserve: the typed business
    columns, never keys (``zoho_id``, ``location_id``), versions, hashes or ``data``."""
    return tuple(column.name for column in spec.columns)


def policy_problems(entity: str, policy: str, columns: list[str]) -> list[str]:
    """Why a policy for ``entity`` cannot be used (empty when it can)."""
    spec = ENTITIES.get(entity)
    if spec is None:
        return [f"{entity!r} is not an entity type (one of {', '.join(ENTITIES)})"]
    if policy not in tuple(Policy):
        return [f"{entity}: policy {policy!r} is not one of {', '.join(Policy)}"]
    if policy != Policy.PRESERVE_COLUMNS:
        return [f"{entity}: columns are only for preserve_columns"] if columns else []
    allowed = preservable_columns(spec)
    problems: list[str] = []
    if not columns:
        problems.append(f"{entity}: preserve_columns needs at least one column")
    if spec.lines is not None and LINE_ITEMS in columns:
        problems.append(
            f"{entity}: {LINE_ITEMS!r} cannot be preserved: the lines are replaced as a whole with their "
            f"parent (policy hold keeps local line edits for an operator to review)"
        )
        columns = [c for c in columns if c != LINE_ITEMS]
    unknown = [c for c in columns if c not in allowed]
    if unknown:
        problems.append(
            f"{entity}: {', '.join(repr(c) for c in unknown)} not data columns of {spec.table} "
            f"(keys, versions and hashes are never preserved); choose from {', '.join(allowed)}"
        )
    if len(set(columns)) != len(columns):
        problems.append(f"{entity}: a column is named twice")
    return problems


def _comparable(kind: Kind, value: Any) -> Any:
    """A value of a typed column in one form, whether it came from PostgreSQL's JSON or from the
    record conversion (numbers as strings, dates as ``yyyy-mm-dd``)."""
    if value is None:
        return None
    if kind in (Kind.NUMERIC, Kind.INTEGER) and not isinstance(value, bool):
        try:
            return Decimal(str(value)).normalize()
        except InvalidOperation:
            return str(value)
    if kind is Kind.DATE:
        return str(value)[:10]
    return value


def diff(
    spec: EntitySpec,
    local: dict[str, Any] | None,
    source: dict[str, Any] | None,
    written: dict[str, Any] | None,
    changed: list[str] | tuple[str, ...],
    preserved: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Column by column: the ERP row now (``local``), what the event writes (``source``), what TDS
    last wrote (``written``), whether the column was changed outside TDS and whether local and
    source differ. Line items changed outside TDS add a last row, :data:`LINE_ITEMS`: the local
    lines against the event's (``written`` is None: only a digest of the lines is recorded)."""
    rows: list[dict[str, Any]] = []
    for column in spec.columns:
        name = column.name
        local_value = (local or {}).get(name)
        source_value = (source or {}).get(name) if source is not None else None
        rows.append(
            {
                "column": name,
                "local": local_value,
                "source": source_value,
                "written": (written or {}).get(name),
                "changed_locally": name in changed,
                "differs": source is not None
                and _comparable(column.kind, local_value) != _comparable(column.kind, source_value),
                "preserved": name in preserved,
            }
        )
    if spec.lines is not None and LINE_ITEMS in changed:
        local_lines = (local or {}).get(LINE_ITEMS)
        source_lines = (source or {}).get(LINE_ITEMS)
        rows.append(
            {
                "column": LINE_ITEMS,
                "local": local_lines,
                "source": source_lines,
                "written": None,
                "changed_locally": True,
                "differs": source_lines is not None
                and _comparable_lines(spec, local_lines) != _comparable_lines(spec, source_lines),
                "preserved": False,
            }
        )
    return rows


def _comparable_lines(spec: EntitySpec, lines: Any) -> dict[Any, dict[str, Any]] | None:
    """Lines by key, each column's value in one form (see :func:`_comparable`)."""
    assert spec.lines is not None
    if not isinstance(lines, list):
        return None
    key = spec.lines.key_column
    return {
        line.get(key): {c.name: _comparable(c.kind, line.get(c.name)) for c in spec.lines.columns}
        for line in lines
        if isinstance(line, dict)
    }
