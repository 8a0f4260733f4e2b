"""API keys and users as operator actions: each change is recorded with who made it.

Keys are shown once at creation and stored hashed (``access.api_keys``); passwords are argon2
hashes (``access.passwords``). Nothing here returns or records a secret except the new key's
one-time display.
"""

from __future__ import annotations

import secrets
from typing import Any

from tds_core.access import api_keys, passwords, users
from tds_core.access.actions import Actor, record
from tds_core.access.roles import Role
from tds_core.db import api_keys as stored_keys
from tds_core.db import operator_actions as stored_actions
from tds_core.db import users as stored_users
from tds_core.db.connection import Connection, Executor, transaction
from tds_core.errors import NotFound


async def create_key(connection: Connection, name: str, actor: Actor) -> api_keys.NewKey:
    async with transaction(connection):
        new = await api_keys.create(connection, name, created_by=actor.name)
        await record(
            connection, actor, "key.create", target=str(new.id), details={"name": name, "prefix": new.prefix}
        )
    return new


async def revoke_key(connection: Connection, key: str, actor: Actor) -> stored_keys.KeyRevoked:
    """Revoke by id or prefix; raises :class:`NotFound` when no active key matches."""
    async with transaction(connection):
        row = await stored_keys.revoke(connection, key=key, revoked_by=actor.name)
        if row is None:
            raise NotFound(f"no active API key {key!r}")
        await record(connection, actor, "key.revoke", target=str(row["id"]), details={"name": row["name"]})
    return row


async def list_keys(connection: Executor) -> list[stored_keys.KeyListed]:
    return await stored_keys.list_all(connection)


async def create_user(
    connection: Connection, username: str, password: str, role: Role, actor: Actor
) -> users.User:
    async with transaction(connection):
        user = await users.create(connection, username, password, role, actor.name)
        await record(connection, actor, "user.create", target=username, details={"role": role.value})
    return user


async def update_user(
    connection: Connection,
    username: str,
    actor: Actor,
    *,
    role: Role | None = None,
    password: str | None = None,
    disabled: bool | None = None,
) -> stored_users.UserListed:
    """Change a user's role, password or enabled state; every change revokes their refresh tokens."""
    password_hash = await passwords.hash_password_async(password) if password is not None else None
    async with transaction(connection):
        row = await stored_users.update(
            connection,
            username=username,
            role=role.value if role else None,
            password_hash=password_hash,
            disabled=disabled,
        )
        if row is None:
            raise NotFound(f"no user {username!r}")
        changes: dict[str, Any] = {}
        if role is not None:
            changes["role"] = role.value
        if password is not None:
            changes["password_changed"] = True
        if disabled is not None:
            changes["disabled"] = disabled
        await record(connection, actor, "user.update", target=username, details=changes)
    return row


async def get_user(connection: Executor, username: str) -> stored_users.UserListed:
    row = await stored_users.get(connection, username=username)
    if row is None:
        raise NotFound(f"no user {username!r}")
    return row


async def list_users(connection: Executor) -> list[stored_users.UserListed]:
    return await stored_users.list_all(connection)


async def list_actions(
    connection: Executor, *, action: str | None, actor: str | None, before_id: int | None, limit: int
) -> list[stored_actions.OperatorAction]:
    return await stored_actions.list_all(
        connection, action=action, actor=actor, before_id=before_id, limit=limit
    )


async def bootstrap_admin(connection: Connection) -> str | None:
    """Development convenience for ``tds up``: with no users at all, create ``admin`` with a random
    password and return it (None when users exist)."""
    if await stored_users.count(connection):
        return None
    password = secrets.token_urlsafe(18)
    await create_user(connection, "admin", password, Role.admin, Actor(name="tds up", via="cli"))
    return password
