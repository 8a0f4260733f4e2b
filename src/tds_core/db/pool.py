"""asyncpg connection pools with a JSON codec (orjson) and error translation."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import orjson

from tds_core.db.errors import on_stale_node, translated
from tds_core.db.urls import asyncpg_dsn

_pools: list[asyncpg.Pool] = []
"""The open pools of this process (asyncpg pools take no weak references; closed ones are
dropped as new ones come)."""
_reopening: set[asyncio.Task[None]] = set()


def reopen_connections() -> None:
    """Have every pool of this process reopen its connections (as each is next released or
    acquired): called when an error says a node cannot take writes (``STALE_NODE_SQLSTATES``),
    so no connection stays on a standby or a demoted primary."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    for pool in list(_pools):
        if not pool.is_closing():
            task = loop.create_task(pool.expire_connections())
            _reopening.add(task)
            task.add_done_callback(_reopening.discard)


on_stale_node(reopen_connections)


def _encode_json(value: Any) -> str:
    if isinstance(value, str | bytes):
        return value if isinstance(value, str) else value.decode()
    return orjson.dumps(value).decode()


async def _init_connection(connection: asyncpg.Connection) -> None:
    for name in ("jsonb", "json"):
        await connection.set_type_codec(name, encoder=_encode_json, decoder=orjson.loads, schema="pg_catalog")


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Release hook: TDS never leaves session state (SET, LISTEN, session advisory locks) on a
    pooled connection, so skip asyncpg's reset query and save a round trip per release. An
    open transaction is still rolled back by asyncpg before this runs."""


async def create_pool(
    database_url: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    timeout: float = 5.0,
    application_name: str = "tds",
) -> asyncpg.Pool:
    with translated():
        pool: asyncpg.Pool = await asyncpg.create_pool(
            asyncpg_dsn(database_url),
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            command_timeout=60,
            init=_init_connection,
            reset=_keep_session,
            server_settings={"application_name": application_name},
        )
    _pools[:] = [open_pool for open_pool in _pools if not open_pool.is_closing()]
    _pools.append(pool)
    return pool


async def connect(database_url: str, *, timeout: float = 5.0, application_name: str = "tds") -> Any:
    with translated():
        connection = await asyncpg.connect(
            asyncpg_dsn(database_url),
            timeout=timeout,
            server_settings={"application_name": application_name},
        )
        await _init_connection(connection)
    return connection
