"""Data access for the ERP tables, built once from the entity specs.

The statements are generated from :mod:`tds_core.domain.entities` (so a column is named in
one place) and each takes a whole batch as one JSON array parameter
(``jsonb_populate_recordset``): one round trip per table per batch, values always
parameterised. Identifiers come only from the specs, never from input (the preserved columns
of a conflict policy are validated against the spec, and intersected with it again here).

Every write also records ``tds_written``, the business columns as the row holds them after
the write, and ``select_current`` returns the columns that have changed since (``changed``):
conflict detection costs no extra round trip (domain/conflicts.py). A parent with line items
also records ``tds_lines_written``, a digest of its lines as written (:func:`lines_digest`,
computed by the upsert from the lines the batch writes); ``select_current`` computes the same
digest over the lines as they are now and reports ``line_items`` among the changed columns when
the two differ (a line changed, added or deleted outside TDS).

The fixed statements of ``sql/erp.sql`` (instance locks, stock version advances) are the typed
functions at the end of this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES
from tds_core.domain.conflicts import LINE_ITEMS
from tds_core.domain.entities import ENTITIES, Column, EntitySpec, Kind, LineSpec

VERSION_COLUMNS = ("data", "source_version", "content_hash", "deleted_at", "synced_at")
WRITTEN = "tds_written"
"""The business columns as TDS last wrote them (migration 0007; see domain/conflicts.py)."""
LINES_WRITTEN = "tds_lines_written"
"""The digest of the line items as TDS last wrote them (migration 0010; see :func:`lines_digest`)."""
NO_LINES = "md5('')"
"""The digest of a parent without lines (what :func:`lines_digest` gives over no rows)."""


def lines_digest(lines: LineSpec, alias: str) -> str:
    """The aggregate digest of a parent's lines (rows ``alias`` of the line table): the md5 of each
    line's key and business columns as a row's text, in key order (bytewise, whatever the
    database's collation). Text, integer and numeric columns print the same in every session; a
    date column would follow DateStyle, so it is formatted explicitly. ``data`` (the source line)
    is not compared, as on the parent. Migration 0010 holds a frozen copy for its backfill."""
    values = ", ".join(
        f"to_char({alias}.{c.name}, 'YYYY-MM-DD')" if c.kind is Kind.DATE else f"{alias}.{c.name}"
        for c in (Column(lines.key_column, lines.key_source), *lines.columns)
    )
    return (
        f"md5(coalesce(string_agg(ROW({values})::text, ',' "
        f"ORDER BY {alias}.{lines.key_column} COLLATE \"C\"), ''))"
    )


def _stored_digest(lines: LineSpec, parent: str) -> str:
    """The digest of the lines stored now for the parent row ``parent`` (one primary-key range scan)."""
    return (
        f"(SELECT {lines_digest(lines, 'l')} FROM {lines.table} l "
        f"WHERE l.{lines.parent_column} = {parent}.zoho_id)"
    )


def _stored_lines(lines: LineSpec, parent: str) -> str:
    """The lines stored now for the parent row ``parent``, as a JSON array in key order (the local
    snapshot of a conflict: key and business columns, neither parent key nor ``data``)."""
    return (
        f"(SELECT coalesce(jsonb_agg(to_jsonb(l) - '{lines.parent_column}' - 'data' "
        f"ORDER BY l.{lines.key_column} COLLATE \"C\"), '[]') FROM {lines.table} l "
        f"WHERE l.{lines.parent_column} = {parent}.zoho_id)"
    )


def written(
    columns: list[str], alias: str, preserved: frozenset[str] = frozenset(), existing: str = ""
) -> str:
    """The ``tds_written`` object of a row: its business columns, from ``alias`` (a preserved
    column from ``existing``, the row as it stays)."""
    pairs = ", ".join(f"'{c}', {existing if c in preserved else alias}.{c}" for c in columns)
    return f"jsonb_build_object({pairs})"


def _changed(columns: str, lines_moved: str | None = None) -> str:
    """``changed`` and ``written`` of a current row: the columns that no longer hold what TDS
    last wrote (NULL when all do, or nothing was recorded), and what it wrote then. With
    ``lines_moved`` (a parent whose lines differ from the digest recorded), ``line_items`` is
    one of the changed columns."""
    moved = "t.tds_written IS NOT NULL AND NOT j.row @> t.tds_written"
    extra = ""
    if lines_moved is not None:
        moved = f"({moved}) OR ({lines_moved})"
        extra = f" UNION ALL SELECT '{LINE_ITEMS}' WHERE {lines_moved}"
    return (
        f"CASE WHEN {moved} THEN ARRAY(SELECT w.key FROM jsonb_each(t.tds_written) w "
        f"WHERE j.row -> w.key IS DISTINCT FROM w.value{extra} ORDER BY 1) END AS changed, "
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
    advance_tombstones: str = ""
    """Deleted rows ($1 zoho ids) that a newer delete met take its version ($2), nothing else."""

    def upsert_preserving(self, preserved: frozenset[str]) -> str:
        """The upsert that never overwrites the ``preserved`` columns of an existing row."""
        return _upsert_cached(self.spec.slug, preserved) if preserved else self.upsert


def _upsert(spec: EntitySpec, preserved: frozenset[str] = frozenset()) -> str:
    """The batch upsert ($1: the rows). For a parent with lines it also records
    ``tds_lines_written``: $2 is the lines the batch writes (as ``insert_lines`` takes them) and
    $3 the parents whose lines it replaces; the digest is computed from $2, so the lines are not
    read back and the parent row is written once. A parent left out of $3 (a partial record)
    keeps its digest; a new parent has no lines yet."""
    business = [c.name for c in spec.columns]
    preserved = preserved & frozenset(business)  # only ever the spec's own names
    conflict: tuple[str, ...] = ("item_zoho_id", "location_id") if spec.is_stock else ("zoho_id",)
    columns = [*conflict, *business, *VERSION_COLUMNS]
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in conflict and c not in preserved)
    # tds_written is computed here from the values written: what the row holds after the write.
    kept = written(business, "EXCLUDED", preserved, "t") if preserved else f"EXCLUDED.{WRITTEN}"
    source = f"jsonb_populate_recordset(NULL::{spec.table}, $1::jsonb) AS r"
    if spec.lines is None:
        return (
            f"INSERT INTO {spec.table} AS t ({names}, {WRITTEN}) SELECT {names}, {written(business, 'r')} "
            f"FROM {source} ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {updates}, {WRITTEN} = {kept}"
        )
    lines = spec.lines
    return (
        f"INSERT INTO {spec.table} AS t ({names}, {WRITTEN}, {LINES_WRITTEN}) "
        f"SELECT {', '.join(f'r.{c}' for c in columns)}, {written(business, 'r')}, "
        f"coalesce(d.digest, {NO_LINES}) "
        f"FROM {source} LEFT JOIN ("
        # one digest per parent of the batch's lines, from the same JSON the lines are inserted from
        f"SELECT l.{lines.parent_column} AS parent, {lines_digest(lines, 'l')} AS digest "
        f"FROM jsonb_populate_recordset(NULL::{lines.table}, $2::jsonb) AS l GROUP BY 1"
        f") d ON d.parent = r.zoho_id "
        f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {updates}, {WRITTEN} = {kept}, "
        f"{LINES_WRITTEN} = CASE WHEN EXCLUDED.zoho_id = ANY($3::text[]) "
        f"THEN EXCLUDED.{LINES_WRITTEN} ELSE t.{LINES_WRITTEN} END"
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
    acknowledge = f"UPDATE {spec.table} t SET {WRITTEN} = {now_written} WHERE t.zoho_id = $1"
    keep_written = f"{WRITTEN} = {now_written}"
    returned = f"to_jsonb(t) - 'id' - '{WRITTEN}'"
    delete_lines = insert_lines = None
    if spec.lines is not None:
        lines = spec.lines
        # the lines' digest now (d.digest, one primary-key range scan per parent) against the one
        # recorded; the local lines themselves are read only for a row whose lines moved
        lines_moved = f"t.{LINES_WRITTEN} IS NOT NULL AND t.{LINES_WRITTEN} <> d.digest"
        select_current = (
            f"SELECT t.zoho_id, t.source_version, t.content_hash, t.deleted_at IS NOT NULL AS deleted, "
            f"(j.row - 'id' - '{WRITTEN}' - '{LINES_WRITTEN}') || CASE WHEN {lines_moved} "
            f"THEN jsonb_build_object('{LINE_ITEMS}', {_stored_lines(lines, 't')}) ELSE '{{}}' END AS row, "
            + _changed(_open_conflict(spec.slug, "zoho_id"), lines_moved)
            + f" FROM {spec.table} t CROSS JOIN LATERAL (SELECT to_jsonb(t) AS row) j "
            f"CROSS JOIN LATERAL (SELECT {lines_digest(lines, 'l')} AS digest FROM {lines.table} l "
            f"WHERE l.{lines.parent_column} = t.zoho_id) d "
            f"WHERE t.zoho_id = ANY($1::text[])"
        )
        # an operator's resolution accepts the lines as they are now too
        keep_written += f", {LINES_WRITTEN} = {_stored_digest(lines, 't')}"
        acknowledge = f"UPDATE {spec.table} t SET {keep_written} WHERE t.zoho_id = $1"
        returned = (
            f"(to_jsonb(t) - 'id' - '{WRITTEN}' - '{LINES_WRITTEN}') "
            f"|| jsonb_build_object('{LINE_ITEMS}', {_stored_lines(lines, 't')})"
        )
        line_columns = [lines.parent_column, lines.key_column, *(c.name for c in lines.columns), "data"]
        delete_lines = f"DELETE FROM {lines.table} WHERE {lines.parent_column} = ANY($1::text[])"
        names = ", ".join(line_columns)
        insert_lines = (
            f"INSERT INTO {lines.table} ({names}) SELECT {names} "
            f"FROM jsonb_populate_recordset(NULL::{lines.table}, $1::jsonb)"
        )
    versions = f"SELECT zoho_id, source_version FROM {spec.table} WHERE zoho_id = ANY($1::text[])"
    all_versions = f"SELECT zoho_id, source_version, deleted_at IS NOT NULL AS deleted FROM {spec.table}"
    keep_local = (
        f"UPDATE {spec.table} t SET {keep_written}, "
        f"source_version = greatest(t.source_version, $2::timestamptz), "
        f"content_hash = CASE WHEN $2::timestamptz >= t.source_version THEN $3::text ELSE t.content_hash END "
        f"WHERE t.zoho_id = $1 "
        f"RETURNING t.zoho_id, {returned} AS row"
    )
    advance_tombstones = (
        f"UPDATE {spec.table} t SET source_version = x.version "
        f"FROM unnest($1::text[], $2::timestamptz[]) AS x(zoho_id, version) "
        f"WHERE t.zoho_id = x.zoho_id AND t.deleted_at IS NOT NULL AND t.source_version < x.version"
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
        advance_tombstones,
    )


STATEMENTS: dict[str, ErpStatements] = {slug: build(spec) for slug, spec in ENTITIES.items()}


def row_key(spec: EntitySpec, row: dict[str, Any]) -> str:
    """The audit row key: the zoho id, or ``item_id/location_id`` for stock."""
    if spec.is_stock:
        return f"{row['item_zoho_id']}/{row['location_id']}"
    return str(row["zoho_id"])


def _live_count(spec: EntitySpec) -> str:
    """How many records the ERP holds live: stock counts items, not (item, location) rows."""
    counted = "count(DISTINCT item_zoho_id)" if spec.is_stock else "count(*)"
    return f"SELECT {counted}::bigint FROM {spec.table} WHERE deleted_at IS NULL"


LIVE_COUNTS: dict[str, str] = {slug: _live_count(spec) for slug, spec in ENTITIES.items()}
"""Per entity: its live ERP records (a sync plan's record count when no scan has counted them)."""


def _live_versions(spec: EntitySpec) -> str:
    """The live records and their newest version (stock: per item, over its locations)."""
    if spec.is_stock:
        return (
            f"SELECT item_zoho_id AS zoho_id, max(source_version) AS source_version FROM {spec.table} "
            f"WHERE deleted_at IS NULL GROUP BY item_zoho_id"
        )
    return f"SELECT zoho_id, source_version FROM {spec.table} WHERE deleted_at IS NULL"


LIVE_VERSIONS: dict[str, str] = {slug: _live_versions(spec) for slug, spec in ENTITIES.items()}
"""Per entity: its live ERP records and versions (reconciliation reads them before a scan)."""


# ---------------------------------------------------------------------------- erp.sql
@statement
async def lock_instances(db: Executor, *, keys: list[int]) -> None:
    """Take the transaction advisory locks of ``keys`` (pass them sorted: no deadlock), waiting."""
    await db.execute(QUERIES.erp_lock_instances, keys)


@statement
async def try_lock_instances(db: Executor, *, keys: list[int]) -> list[int]:
    """Take the locks of ``keys`` that are free now, without waiting; the keys another batch holds."""
    busy: list[int] = await db.fetchval(QUERIES.erp_try_lock_instances, keys)
    return busy


@statement
async def stock_advance_versions(
    db: Executor, *, item_ids: list[str], location_ids: list[str], versions: list[datetime]
) -> None:
    """Live stock rows (item, location; one element per row) whose newer event repeats their
    quantities take its version, nothing else."""
    await db.execute(QUERIES.erp_stock_advance_versions, item_ids, location_ids, versions)
