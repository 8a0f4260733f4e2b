"""``tds_configuration``: versioned runtime configuration (every version of every key is kept)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from tds_core.db.connection import Connection, Executor, statement
from tds_core.db.queries import QUERIES


class Version(TypedDict):
    """One version of one key (as stored: its secrets encrypted)."""

    key: str
    version: int
    value: Any
    description: str
    updated_at: datetime
    updated_by: str
    note: str | None


class Stored(TypedDict):
    key: str
    version: int


class StoredValue(TypedDict):
    key: str
    version: int
    value: Any


@statement
async def current(db: Executor) -> list[Version]:
    """The current version of every key, by key."""
    return [cast(Version, dict(row)) for row in await db.fetch(QUERIES.configuration_current)]


@statement
async def set_value(db: Executor, *, key: str, value: str, updated_by: str, note: str | None) -> Stored:
    """Store a new version of ``key`` with ``value`` (JSON text); its description is kept."""
    row = await db.fetchrow(QUERIES.configuration_set, key, value, updated_by, note)
    assert row is not None  # INSERT ... SELECT of an aggregate always inserts its row
    return cast(Stored, dict(row))


@statement
async def notify(db: Executor, *, key: str) -> None:
    """Ring ``tds_config`` (delivered at commit): running processes reload."""
    await db.execute(QUERIES.configuration_notify, key)


@statement
async def history(db: Executor, *, key: str, limit: int) -> list[Version]:
    """Up to ``limit`` versions of ``key``, newest first."""
    return [cast(Version, dict(row)) for row in await db.fetch(QUERIES.configuration_history, key, limit)]


@statement
async def lock(db: Connection) -> None:
    """Serialise configuration changes until the end of the transaction."""
    await db.execute(QUERIES.configuration_lock)


@statement
async def versions_page(db: Executor, *, after_key: str, after_version: int, limit: int) -> list[StoredValue]:
    """The versions after ``(after_key, after_version)``, in (key, version) order."""
    rows = await db.fetch(QUERIES.configuration_versions_page, after_key, after_version, limit)
    return [cast(StoredValue, dict(row)) for row in rows]


@statement
async def reseal_version(db: Executor, *, key: str, version: int, value: str, read_value: str) -> bool:
    """Replace one version's value (JSON text) if it still is ``read_value`` (JSON text); False
    when a concurrent rewrite changed it meanwhile."""
    status = await db.execute(QUERIES.configuration_reseal_version, key, version, value, read_value)
    return status.endswith(" 1")
