"""``tds_users``: operators, their roles and argon2 password hashes (the hash only where it is
verified: :func:`find`)."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


class UserCreated(TypedDict):
    id: int
    username: str
    role: str
    token_generation: int
    disabled_at: datetime | None
    created_at: datetime


class UserCredentials(TypedDict):
    id: int
    username: str
    password_hash: str
    role: str
    token_generation: int
    disabled_at: datetime | None


class UserListed(TypedDict):
    id: int
    username: str
    role: str
    created_at: datetime
    created_by: str
    disabled_at: datetime | None
    password_changed_at: datetime
    last_login_at: datetime | None


@statement
async def insert(
    db: Executor, *, username: str, password_hash: str, role: str, created_by: str
) -> UserCreated | None:
    """The new user; None when the name is taken."""
    row = await db.fetchrow(QUERIES.users_insert, username, password_hash, role, created_by)
    return None if row is None else cast(UserCreated, dict(row))


@statement
async def find(db: Executor, *, username: str) -> UserCredentials | None:
    row = await db.fetchrow(QUERIES.users_find, username)
    return None if row is None else cast(UserCredentials, dict(row))


@statement
async def touch_login(db: Executor, *, user_id: int) -> None:
    await db.execute(QUERIES.users_touch_login, user_id)


@statement
async def list_all(db: Executor) -> list[UserListed]:
    return [cast(UserListed, dict(row)) for row in await db.fetch(QUERIES.users_list)]


@statement
async def get(db: Executor, *, username: str) -> UserListed | None:
    row = await db.fetchrow(QUERIES.users_get, username)
    return None if row is None else cast(UserListed, dict(row))


@statement
async def update(
    db: Executor,
    *,
    username: str,
    role: str | None,
    password_hash: str | None,
    disabled: bool | None,
) -> UserListed | None:
    """Change what is not None (and revoke the user's refresh tokens); None when no such user."""
    row = await db.fetchrow(QUERIES.users_update, username, role, password_hash, disabled)
    return None if row is None else cast(UserListed, dict(row))


@statement
async def count(db: Executor) -> int:
    return int(await db.fetchval(QUERIES.users_count))
