"""Data access for the ERP tables, built once from the entity specs.

The statements are generated from :mod:`tds_core.domain.entities` (so a column is named in
one place) and each takes a whole batch as one JSON array parameter
(``jsonb_populate_recordset``): one round trip per table per batch, values always
parameterised. Identifiers come only from the specs, never from input (the preserved columns
of a conflict policy are validated against the spec, and intersected with it again here).

Every write also records ``tds_written``, the business columns as the row holds them after
the write, and ``select_current`` returns the columns that have changed since (``changed``):
conflict detection costs no extra round trip (domain/conflicts.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tds_core.domain.entities import ENTITIES, EntitySpec

VERSION_COLUMNS = ("data", "source_version", "content_hash", "deleted_at", "synced_at")
WRITTEN = "tds_written"
"""The business columns as TDS last wrote them (migration 0007; see domain/conflicts.py)."""


def written(
    columns: list[str], alias: str, preserved: frozenset[str] = frozenset(), existing: str = ""
) -> str:
    """The ``tds_written`` object of a row: its business columns, from ``alias`` (a preserved
    column from ``existing``, the row as it stays)."""
    pairs = ", ".join(f"'{c}', {existing if c in preserved else alias}.{c}" for c in columns)
    return f"jsonb_build_object({pairs})"


def _changed(columns: str) -> str:
    """``changed`` and ``written`` of a current row: the columns that no longer hold what TDS
    last wrote (NULL when all do, or nothing was recorded), and what it wrote then."""
    moved = "t.tds_written IS NOT NULL AND NOT j.row @> t.tds_written"
    return (
        f"CASE WHEN {moved} THEN ARRAY(SELECT w.key FROM jsonb_each(t.tds_written) w "
        f"WHERE j.row -> w.key IS DISTINCT FROM w.value ORDER BY w.key) END AS changed, "
        f"CASE WHEN {moved} THEN t.tds_written END AS written, {columns}"
    )


@dataclass(frozen=True)
class ErpStatements:
    spec: EntitySpec
    select_current: str
    upsert: str
    delete_lines: str | None
    insert_lines: str | None
    key_columns: tuple[str, ...]
    versions: str = ""
    all_versions: str = ""
    acknowledge: str = ""
    """Record the rows of one instance ($1) as they are now as TDS's own (an operator's resolution)."""
    keep_local: str = ""
    """keep_local: acknowledge, and take the held event's version ($2) and content hash ($3)."""

    def upsert_preserving(self, preserved: frozenset[str]) -> str:
        """The upsert that never overwrites the ``preserved`` columns of an existing row."""
        return _upsert_cached(self.spec.slug, preserved) if preserved else self.upsert


def _upsert(spec: EntitySpec, preserved: frozenset[str] = frozenset()) -> str:
    business = [c.name for c in spec.columns]
    preserved = preserved & frozenset(business)  # only ever the spec's own names
    conflict: tuple[str, ...] = ("item_zoho_id", "location_id") if spec.is_stock else ("zoho_id",)
    columns = [*conflict, *business, *VERSION_COLUMNS]
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in conflict and c not in preserved)
    # tds_written is computed here from the values written: what the row holds after the write.
    kept = written(business, "EXCLUDED", preserved, "t") if preserved else f"EXCLUDED.{WRITTEN}"
    return (
        f"INSERT INTO {spec.table} AS t ({names}, {WRITTEN}) SELECT {names}, {written(business, 'r')} "
        f"FROM jsonb_populate_recordset(NULL::{spec.table}, $1::jsonb) AS r "
        f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {updates}, {WRITTEN} = {kept}"
    )


@lru_cache(maxsize=256)
def _upsert_cached(slug: str, preserved: frozenset[str]) -> str:
    return _upsert(ENTITIES[slug], preserved)


def _open_conflict(slug: str, id_column: str) -> str:
    """The instance's open conflict, if any (one index probe of tds_conflicts_open_instance)."""
    return (
        f"(SELECT c.id FROM tds_conflicts c WHERE c.entity = '{slug}' AND c.zoho_id = t.{id_column} "
        f"AND c.status = 'open') AS open_conflict"
    )


def build(spec: EntitySpec) -> ErpStatements:
    business = [c.name for c in spec.columns]
    now_written = written(business, "t")
    if spec.is_stock:
        keys: tuple[str, ...] = ("item_zoho_id", "location_id")
        select_current = (
            f"SELECT t.item_zoho_id AS zoho_id, t.location_id, t.source_version, t.content_hash, "
            f"t.deleted_at IS NOT NULL AS deleted, j.row - '{WRITTEN}' AS row, "
            + _changed(_open_conflict(spec.slug, "item_zoho_id"))
            + f" FROM {spec.table} t CROSS JOIN LATERAL (SELECT to_jsonb(t) AS row) j "
            f"WHERE t.item_zoho_id = ANY($1::text[])"
        )
        all_versions = (
            f"SELECT item_zoho_id, location_id, {', '.join(business[1:])}, deleted_at IS NOT NULL AS deleted "
            f"FROM {spec.table}"
        )
        acknowledge = f"UPDATE {spec.table} t SET {WRITTEN} = {now_written} WHERE t.item_zoho_id = $1"
        keep_local = (
            f"UPDATE {spec.table} t SET {WRITTEN} = {now_written}, "
            f"source_version = greatest(t.source_version, $2::timestamptz), "
            f"content_hash = CASE WHEN $2::timestamptz >= t.source_version "
            f"THEN coalesce($3::jsonb ->> t.location_id, t.content_hash) ELSE t.content_hash END "
            f"WHERE t.item_zoho_id = $1 AND t.deleted_at IS NULL "
            f"RETURNING t.item_zoho_id, t.location_id, to_jsonb(t) - '{WRITTEN}' AS row"
        )
        return ErpStatements(
            spec,
            select_current,
            _upsert(spec),
            None,
            None,
            keys,
            "",
            all_versions,
            acknowledge,
            keep_local,
        )
    keys = ("zoho_id",)
    select_current = (
        f"SELECT t.zoho_id, t.source_version, t.content_hash, t.deleted_at IS NOT NULL AS deleted, "
        f"j.row - 'id' - '{WRITTEN}' AS row, "
        + _changed(_open_conflict(spec.slug, "zoho_id"))
        + f" FROM {spec.table} t CROSS JOIN LATERAL (SELECT to_jsonb(t) AS row) j "
        f"WHERE t.zoho_id = ANY($1::text[])"
    )
    delete_lines = insert_lines = None
    if spec.lines is not None:
        lines = spec.lines
        line_columns = [lines.parent_column, lines.key_column, *(c.name for c in lines.columns), "data"]
        delete_lines = f"DELETE FROM {lines.table} WHERE {lines.parent_column} = ANY($1::text[])"
        names = ", ".join(line_columns)
        insert_lines = (
            f"INSERT INTO {lines.table} ({names}) SELECT {names} "
            f"FROM jsonb_populate_recordset(NULL::{lines.table}, $1::jsonb)"
        )
    versions = f"SELECT zoho_id, source_version FROM {spec.table} WHERE zoho_id = ANY($1::text[])"
    all_versions = f"SELECT zoho_id, source_version, deleted_at IS NOT NULL AS deleted FROM {spec.table}"
    acknowledge = f"UPDATE {spec.table} t SET {WRITTEN} = {now_written} WHERE t.zoho_id = $1"
    keep_local = (
        f"UPDATE {spec.table} t SET {WRITTEN} = {now_written}, "
        f"source_version = greatest(t.source_version, $2::timestamptz), "
        f"content_hash = CASE WHEN $2::timestamptz >= t.source_version THEN $3::text ELSE t.content_hash END "
        f"WHERE t.zoho_id = $1 "
        f"RETURNING t.zoho_id, to_jsonb(t) - 'id' - '{WRITTEN}' AS row"
    )
    return ErpStatements(
        spec,
        select_current,
        _upsert(spec),
        delete_lines,
        insert_lines,
        keys,
        versions,
        all_versions,
        acknowledge,
        keep_local,
    )


STATEMENTS: dict[str, ErpStatements] = {slug: build(spec) for slug, spec in ENTITIES.items()}


def row_key(spec: EntitySpec, row: dict[str, Any]) -> str:
    """The audit row key: the zoho id, or ``item_id/location_id`` for stock."""
    if spec.is_stock:
        return f"{row['item_zoho_id']}/{row['location_id']}"
    return str(row["zoho_id"])
