"""Data access for the ERP tables, built once from the entity specs.

The statements are generated from :mod:`tds_core.domain.entities` (so a column is named in
one place) and each takes a whole batch as one JSON array parameter
(``jsonb_populate_recordset``): one round trip per table per batch, values always
parameterised. Identifiers come only from the specs, never from input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tds_core.domain.entities import ENTITIES, EntitySpec

VERSION_COLUMNS = ("data", "source_version", "content_hash", "deleted_at", "synced_at")


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


def _upsert(table: str, columns: list[str], conflict: tuple[str, ...]) -> str:
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in conflict)
    return (
        f"INSERT INTO {table} ({names}) SELECT {names} "
        f"FROM jsonb_populate_recordset(NULL::{table}, $1::jsonb) "
        f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {updates}"
    )


def build(spec: EntitySpec) -> ErpStatements:
    business = [c.name for c in spec.columns]
    if spec.is_stock:
        keys: tuple[str, ...] = ("item_zoho_id", "location_id")
        columns = [*keys, *business, *VERSION_COLUMNS]
        select_current = (
            f"SELECT item_zoho_id AS zoho_id, location_id, source_version, content_hash, "
            f"deleted_at IS NOT NULL AS deleted, to_jsonb(t) AS row "
            f"FROM {spec.table} t WHERE item_zoho_id = ANY($1::text[])"
        )
        all_versions = (
            f"SELECT item_zoho_id, location_id, {', '.join(business[1:])}, deleted_at IS NOT NULL AS deleted "
            f"FROM {spec.table}"
        )
        return ErpStatements(
            spec, select_current, _upsert(spec.table, columns, keys), None, None, keys, "", all_versions
        )
    keys = ("zoho_id",)
    columns = ["zoho_id", *business, *VERSION_COLUMNS]
    select_current = (
        f"SELECT zoho_id, source_version, content_hash, deleted_at IS NOT NULL AS deleted, "
        f"to_jsonb(t) - 'id' AS row FROM {spec.table} t WHERE zoho_id = ANY($1::text[])"
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
    return ErpStatements(
        spec,
        select_current,
        _upsert(spec.table, columns, keys),
        delete_lines,
        insert_lines,
        keys,
        versions,
        all_versions,
    )


STATEMENTS: dict[str, ErpStatements] = {slug: build(spec) for slug, spec in ENTITIES.items()}


def row_key(spec: EntitySpec, row: dict[str, Any]) -> str:
    """The audit row key: the zoho id, or ``item_id/location_id`` for stock."""
    if spec.is_stock:
        return f"{row['item_zoho_id']}/{row['location_id']}"
    return str(row["zoho_id"])
