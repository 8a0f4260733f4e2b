"""``tds_secrets``: secrets stored encrypted (Fernet ciphertext, never a clear value)."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from tds_core.db.connection import Connection, Executor, statement
from tds_core.db.queries import QUERIES


class SecretListed(TypedDict):
    name: str
    updated_at: datetime
    updated_by: str


class SecretStored(TypedDict):
    name: str
    ciphertext: str
    updated_at: datetime
    updated_by: str


class SecretUpserted(TypedDict):
    name: str
    updated_at: datetime
    updated_by: str
    created: bool


@statement
async def list_all(db: Executor) -> list[SecretListed]:
    """Every stored secret's name and who stored it when (never the ciphertext), by name."""
    return [cast(SecretListed, dict(row)) for row in await db.fetch(QUERIES.secrets_list)]


@statement
async def all_ciphertexts(db: Executor) -> list[SecretStored]:
    """Every stored ciphertext, by name."""
    return [cast(SecretStored, dict(row)) for row in await db.fetch(QUERIES.secrets_all)]


@statement
async def upsert(db: Executor, *, name: str, ciphertext: str, updated_by: str) -> SecretUpserted:
    row = await db.fetchrow(QUERIES.secrets_upsert, name, ciphertext, updated_by)
    assert row is not None  # INSERT ... ON CONFLICT DO UPDATE ... RETURNING always returns its row
    return cast(SecretUpserted, dict(row))


@statement
async def insert_missing(db: Executor, *, name: str, ciphertext: str, updated_by: str) -> None:
    await db.execute(QUERIES.secrets_insert_missing, name, ciphertext, updated_by)


@statement
async def reencrypt(db: Executor, *, name: str, ciphertext: str, new_ciphertext: str) -> bool:
    """Replace ``ciphertext`` by ``new_ciphertext``; False when the stored one changed meanwhile."""
    status = await db.execute(QUERIES.secrets_reencrypt, name, ciphertext, new_ciphertext)
    return status.endswith(" 1")


@statement
async def delete(db: Executor, *, name: str) -> bool:
    """Forget a stored secret; False when none was stored."""
    return await db.fetchrow(QUERIES.secrets_delete, name) is not None


@statement
async def lock(db: Connection) -> None:
    """Serialise secret writes and rotations until the end of the transaction."""
    await db.execute(QUERIES.secrets_lock)


@statement
async def table_exists(db: Executor) -> bool:
    """Whether migration 0008 has run."""
    return bool(await db.fetchval(QUERIES.secrets_table_exists))
