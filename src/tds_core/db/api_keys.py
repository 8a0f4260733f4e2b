"""``tds_api_keys``: API keys, stored as a prefix and a hash (never the key)."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


class KeyCreated(TypedDict):
    id: int
    name: str
    prefix: str
    created_at: datetime


class ActiveKey(TypedDict):
    id: int
    key_hash: str


class KeyListed(TypedDict):
    id: int
    name: str
    prefix: str
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None


class KeyRevoked(TypedDict):
    id: int
    name: str
    prefix: str


@statement
async def insert(db: Executor, *, name: str, prefix: str, key_hash: str, created_by: str) -> KeyCreated:
    row = await db.fetchrow(QUERIES.api_keys_insert, name, prefix, key_hash, created_by)
    assert row is not None  # INSERT ... RETURNING always returns its row
    return cast(KeyCreated, dict(row))


@statement
async def find_active(db: Executor, *, prefix: str) -> ActiveKey | None:
    row = await db.fetchrow(QUERIES.api_keys_find_active, prefix)
    return None if row is None else cast(ActiveKey, dict(row))


@statement
async def list_all(db: Executor) -> list[KeyListed]:
    return [cast(KeyListed, dict(row)) for row in await db.fetch(QUERIES.api_keys_list)]


@statement
async def revoke(db: Executor, *, key: str, revoked_by: str) -> KeyRevoked | None:
    """Revoke the active key with this id or prefix; None when there is none."""
    row = await db.fetchrow(QUERIES.api_keys_revoke, key, revoked_by)
    return None if row is None else cast(KeyRevoked, dict(row))


@statement
async def touch(db: Executor, *, key_id: int) -> None:
    await db.execute(QUERIES.api_keys_touch, key_id)
