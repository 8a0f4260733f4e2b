"""Users: created by an admin (or ``tds users create``), authenticated with argon2 hashes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tds_core.access import passwords
from tds_core.access.roles import Role
from tds_core.db import users as stored_users
from tds_core.db.connection import Executor


class UserExists(Exception):
    """A user with that name already exists."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: Role
    token_generation: int
    disabled_at: datetime | None = None

    @classmethod
    def from_row(cls, row: stored_users.UserCreated | stored_users.UserCredentials) -> User:
        return cls(
            id=row["id"],
            username=row["username"],
            role=Role(row["role"]),
            token_generation=row["token_generation"],
            disabled_at=row["disabled_at"],
        )


async def create(connection: Executor, username: str, password: str, role: Role, created_by: str) -> User:
    password_hash = await passwords.hash_password_async(password)
    row = await stored_users.insert(
        connection, username=username, password_hash=password_hash, role=role.value, created_by=created_by
    )
    if row is None:
        raise UserExists(f"user {username!r} already exists")
    return User.from_row(row)


async def authenticate(db: Executor, username: str, password: str) -> User | None:
    """The user when the password matches and the account is enabled; the same work either way.

    ``db`` is a pool or a connection. Given a pool, no connection is held while the hash is
    verified (off the event loop), so a login storm cannot empty the pool webhooks use."""
    row = await stored_users.find(db, username=username)
    ok = await passwords.verify_async(row["password_hash"] if row else None, password)
    if not ok or row is None or row["disabled_at"] is not None:
        return None
    await stored_users.touch_login(db, user_id=row["id"])
    return User.from_row(row)


async def find_active(connection: Executor, username: str) -> User | None:
    row = await stored_users.find(connection, username=username)
    if row is None or row["disabled_at"] is not None:
        return None
    return User.from_row(row)
