"""Records: find the record in a webhook document, validate it, and turn it into ERP rows.

Validation names every offending field (``invoice.line_items[0].line_item_id: required``), so
a 422 tells the caller exactly what to fix. Conversion is the same code at ingest (to
validate) and in the worker (to build rows), so a record that was accepted always applies.

Version rule (shown to users in the docs): an entity's version is Zoho's
``last_modified_time`` (credit notes: ``updated_time`` when that is all they carry); a record
that has neither is versioned by the time TDS received it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tds_core.domain.entities import STOCK_LOCATION_FIELDS, Column, EntitySpec, Kind
from tds_core.domain.hashing import canonical_json, content_hash
from tds_core.domain.states import Operation

MAX_ID_LENGTH = 128
INT32_MAX = 2**31 - 1
VERSION_FIELDS = ("last_modified_time", "updated_time")
_ZOHO_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?[+-][0-9]{2}:?[0-9]{2}"
)


class RecordError(Exception):
    """A record failed validation; ``reasons`` names each field."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class StagedRecord:
    """A validated record, ready for the queue."""

    entity: str
    zoho_id: str
    operation: Operation
    version: datetime
    content_hash: str
    record: dict[str, Any]


def parse_zoho_time(value: str) -> datetime:
    """Parse Zoho's ``2024-01-15T10:20:30+0530`` (also ``+05:30``, ``Z``, or a bare date)."""
    text = value.strip()
    if len(text) == 10:
        try:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        except ValueError:
            pass  # refused below with the same message as any other malformed timestamp
    if text.endswith("Z"):
        text = text[:-1] + "+0000"
    if _ZOHO_TIME.fullmatch(text):
        # Zoho's usual shape: fromisoformat reads it exactly as the formats below would, faster.
        try:
            parsed = datetime.fromisoformat(text)
            parsed.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"timestamp out of range: {value[:40]!r}") from None
        except ValueError:
            pass  # an impossible date or offset: refused below with the usual message
        else:
            return parsed
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S%z"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        try:
            parsed.astimezone(UTC)  # stored as timestamptz: the UTC instant must exist
        except OverflowError:
            raise ValueError(f"timestamp out of range: {value[:40]!r}") from None
        return parsed
    raise ValueError(f"not a Zoho timestamp (expected like 2024-01-15T10:20:30+0530): {value[:40]!r}")


def extract_record(spec: EntitySpec, document: Any) -> dict[str, Any]:
    """Find the record: under its module key (``{"invoice": {...}}``) or the bare record."""
    if not isinstance(document, dict):
        raise RecordError([f"body: expected a JSON object, got {type(document).__name__}"])
    for key in (spec.module_key, *spec.alternate_keys):
        inner = document.get(key)
        if isinstance(inner, dict):
            return inner
        if key in document and inner is not None:
            raise RecordError([f"{key}: expected a JSON object"])
    if spec.id_field in document:
        return document
    raise RecordError(
        [
            f"body: no '{spec.module_key}' object and no '{spec.id_field}' field; send "
            f'{{"{spec.module_key}": {{...}}}} or the bare record'
        ]
    )


def normalize_id(value: Any) -> str | None:
    """Zoho sends ids as numeric strings, sometimes as JSON numbers; store text."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if text and len(text) <= MAX_ID_LENGTH and text.isprintable():
            return text
    return None


def record_version(record: dict[str, Any], received_at: datetime, where: str) -> datetime:
    for name in VERSION_FIELDS:
        value = record.get(name)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            raise RecordError([f"{where}.{name}: expected a timestamp string"])
        try:
            return parse_zoho_time(value)
        except ValueError as exc:
            raise RecordError([f"{where}.{name}: {exc}"]) from exc
    return received_at


def stage(spec: EntitySpec, document: Any, operation: Operation, received_at: datetime) -> StagedRecord:
    """Validate a webhook or pulled document; raise :class:`RecordError` naming each bad field."""
    record = extract_record(spec, document)
    where = spec.module_key
    zoho_id = normalize_id(record.get(spec.id_field))
    reasons: list[str] = []
    if zoho_id is None:
        raw_id = record.get(spec.id_field)
        if isinstance(raw_id, float):
            reasons.append(
                f"{where}.{spec.id_field}: must be a string or an integer; send large ids as strings"
            )
        else:
            reasons.append(f"{where}.{spec.id_field}: required (a non-empty string or integer id)")
    try:
        version = record_version(record, received_at, where)
    except RecordError as exc:
        reasons.extend(exc.reasons)
        version = received_at
    if not operation.is_delete:
        reasons.extend(validate_fields(spec, record, where))
    canonical = canonical_json(record)
    hashed = canonical
    if spec.volatile_fields and not spec.volatile_fields.isdisjoint(record):
        hashed = canonical_json({k: v for k, v in record.items() if k not in spec.volatile_fields})
    if b"\\u0000" in canonical:  # JSON can carry NUL only as this escape: scan just then
        for path in nul_paths(record, where):
            reasons.append(f"{path}: contains U+0000 (NUL), which PostgreSQL cannot store")
    if reasons:
        raise RecordError(reasons)
    assert zoho_id is not None
    return StagedRecord(
        entity=spec.slug,
        zoho_id=zoho_id,
        operation=operation,
        version=version,
        content_hash=hashlib.sha256(hashed).hexdigest(),
        record=record,
    )


def nul_paths(value: Any, where: str, limit: int = 10) -> list[str]:
    """Where a string or key holds U+0000: PostgreSQL's jsonb and text refuse it, so such a
    record would otherwise fail only when stored, as a bare driver error."""
    found: list[str] = []
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack and len(found) < limit:
        node, path = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                found.append(path)
        elif isinstance(node, dict):
            for key, child in node.items():
                child_path = f"{path}.{key}"
                if "\x00" in key:
                    found.append(child_path.replace("\x00", "\\u0000"))
                else:
                    stack.append((child, child_path))
        elif isinstance(node, list):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(node))
    return sorted(found)


def validate_fields(spec: EntitySpec, record: dict[str, Any], where: str) -> list[str]:
    reasons: list[str] = []
    if spec.is_stock:
        for index, entry in enumerate(_stock_entries(record, where, reasons)):
            path = f"{where}.{_stock_list_name(record)}[{index}]"
            if normalize_id(_stock_field(entry, "location_id")) is None:
                reasons.append(f"{path}.location_id: required")
            for column in spec.columns:
                _convert(column, _stock_field(entry, column.name), f"{path}.{column.name}", reasons)
        return reasons
    persons = primary_person(record) if spec.person_columns else None
    for column in spec.columns:
        _convert(column, column_value(spec, column, record, persons), f"{where}.{column.source}", reasons)
    if spec.lines is not None:
        lines = record.get(spec.lines.source_list)
        if lines is None:
            return reasons
        if not isinstance(lines, list):
            reasons.append(f"{where}.{spec.lines.source_list}: expected a list")
            return reasons
        seen: set[str] = set()
        for index, line in enumerate(lines):
            path = f"{where}.{spec.lines.source_list}[{index}]"
            if not isinstance(line, dict):
                reasons.append(f"{path}: expected an object")
                continue
            key = normalize_id(line.get(spec.lines.key_source))
            if key is None:
                reasons.append(f"{path}.{spec.lines.key_source}: required")
            elif key in seen:
                reasons.append(f"{path}.{spec.lines.key_source}: duplicate value {key!r}")
            else:
                seen.add(key)
            for column in spec.lines.columns:
                _convert(column, line.get(column.source), f"{path}.{column.source}", reasons)
    return reasons


def _convert(column: Column, value: Any, path: str, reasons: list[str]) -> Any:
    try:
        return convert(column.kind, value)
    except ValueError as exc:
        reasons.append(f"{path}: {exc}")
        return None


def convert(kind: Kind, value: Any) -> Any:
    """Convert a source value for a typed column; JSON-ready (numbers as strings). Zoho writes
    every missing value as ``""`` (reference section 10): that is NULL in every column, text
    included (a text of blanks is kept as sent; a number or date of blanks is NULL)."""
    if (
        value is None
        or value == ""
        or (isinstance(value, str) and kind is not Kind.TEXT and not value.strip())
    ):
        return None
    if kind is Kind.TEXT:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float | Decimal):
            return str(value)
        raise ValueError(f"expected text, got {type(value).__name__}")
    if kind is Kind.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError("expected true or false")
    if kind is Kind.DATE:
        if not isinstance(value, str):
            raise ValueError("expected a date string yyyy-mm-dd")
        try:
            return date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError as exc:
            raise ValueError(f"not a date (expected yyyy-mm-dd): {value[:40]!r}") from exc
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"expected a number, got {type(value).__name__}")
    # Fast paths for the common JSON numbers (the worker converts every column of every row):
    # same answers as the Decimal path below, without building a Decimal.
    if type(value) is int and abs(value) <= INT32_MAX:
        return value if kind is Kind.INTEGER else str(value)
    if type(value) is float and kind is not Kind.INTEGER and (value == 0 or 1e-90 < abs(value) < 1e90):
        return str(value)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {str(value)[:40]!r}") from exc
    if not number.is_finite():
        raise ValueError("must be a finite number")
    if kind is Kind.INTEGER:
        if number != number.to_integral_value() or abs(number) > INT32_MAX:
            raise ValueError(f"expected a whole number within ±{INT32_MAX}")
        return int(number)
    if abs(number.adjusted()) > 100:
        raise ValueError("number out of range")
    return str(number)


def entity_row(spec: EntitySpec, record: dict[str, Any]) -> dict[str, Any]:
    """The typed business columns of the entity's ERP row (validated input assumed)."""
    if not spec.person_columns:
        return {column.name: convert(column.kind, record.get(column.source)) for column in spec.columns}
    persons = primary_person(record)
    return {
        column.name: convert(column.kind, column_value(spec, column, record, persons))
        for column in spec.columns
    }


def uncarried_columns(spec: EntitySpec, record: dict[str, Any]) -> list[str]:
    """The business columns ``record`` says nothing about (a list row, a partial webhook): an
    update keeps the ERP's values for them instead of blanking them."""
    persons = primary_person(record) if spec.person_columns else None
    return [
        column.name
        for column in spec.columns
        if column.source not in record and not (persons and column.name in spec.person_columns)
    ]


PERSON_FIELDS = {"email": ("email", "contact_person_email")}
"""Where a contact person keeps a column's value, when not under the column's own name."""


def primary_person(record: dict[str, Any]) -> dict[str, Any] | None:
    """The record's primary contact person: from ``contact_persons[]`` (a GET; a webhook's list
    of id strings is skipped) or ``contact_persons_details[]`` (a webhook); the only person when
    none is marked primary; None when there is none."""
    for key in ("contact_persons", "contact_persons_details"):
        people = (
            [p for p in record.get(key) or () if isinstance(p, dict)]
            if isinstance(record.get(key), list)
            else []
        )
        if not people:
            continue
        primary = [p for p in people if p.get("is_primary_contact") in (True, "true", "True")]
        if primary:
            return primary[0]
        if len(people) == 1:
            return people[0]
    return None


def column_value(spec: EntitySpec, column: Any, record: dict[str, Any], person: dict[str, Any] | None) -> Any:
    """A column's source value: the top level, or for a person column left empty there, the
    primary contact person's (reference section 10: a contact's top-level e-mail, phone, mobile
    and names are its primary person's)."""
    value = record.get(column.source)
    if person is None or column.name not in spec.person_columns or value not in (None, ""):
        return value
    for name in PERSON_FIELDS.get(column.name, (column.name,)):
        found = person.get(name)
        if found not in (None, ""):
            return found
    return value


def line_rows(spec: EntitySpec, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The child rows that replace the parent's line items."""
    assert spec.lines is not None
    rows: list[dict[str, Any]] = []
    for line in record.get(spec.lines.source_list) or []:
        row = {column.name: convert(column.kind, line.get(column.source)) for column in spec.lines.columns}
        row[spec.lines.key_column] = normalize_id(line.get(spec.lines.key_source))
        row["data"] = line
        rows.append(row)
    return rows


def stock_rows(spec: EntitySpec, record: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per location with absolute quantities (never deltas) and its own content hash."""
    rows: list[dict[str, Any]] = []
    for entry in record.get("locations") or record.get("warehouses") or []:
        row = {column.name: convert(column.kind, _stock_field(entry, column.name)) for column in spec.columns}
        row["location_id"] = normalize_id(_stock_field(entry, "location_id"))
        row["data"] = entry
        row["content_hash"] = content_hash(entry)
        rows.append(row)
    return rows


def _stock_list_name(record: dict[str, Any]) -> str:
    return "locations" if "locations" in record else "warehouses"


def _stock_entries(record: dict[str, Any], where: str, reasons: list[str]) -> list[dict[str, Any]]:
    name = _stock_list_name(record)
    entries = record.get(name)
    if entries is None:
        reasons.append(f"{where}.locations: required for a stock event (or the older warehouses)")
        return []
    if not isinstance(entries, list):
        reasons.append(f"{where}.{name}: expected a list")
        return []
    good: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, dict):
            good.append(entry)
        else:
            reasons.append(f"{where}.{name}[{index}]: expected an object")
    return good


def _stock_field(entry: dict[str, Any], name: str) -> Any:
    current, older = STOCK_LOCATION_FIELDS[name]
    return entry.get(current, entry.get(older))


def is_partial(spec: EntitySpec, record: dict[str, Any]) -> bool:
    """A body that is only a change hint: little more than the id, a document without its line
    items, or a stock event without locations. With completion configured, such a webhook is
    completed by fetching the record instead of being applied as it is."""
    if len([key for key, value in record.items() if value not in (None, "")]) <= 2:
        return True
    if spec.is_stock:
        return not (record.get("locations") or record.get("warehouses"))
    return spec.lines is not None and spec.lines.source_list not in record
