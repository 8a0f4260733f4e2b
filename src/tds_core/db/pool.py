"""asyncpg connection pools with a JSON codec (orjson) and error translation."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from tds_core.db.errors import on_stale_node, translated
from tds_core.db.urls import asyncpg_dsn, hosts_of, one_host
from tds_core.domain import exact_json
from tds_core.errors import DatabaseUnavailable

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


#: What a failed connection attempt raises: a host that refused or timed out (OSError,
#: TimeoutError) or none that matched ``target_session_attrs``.
_CONNECT_ERRORS = (OSError, TimeoutError, asyncpg.exceptions.TargetServerAttributeNotMatched)


async def node_answer(dsn: str, host: str, timeout: float) -> str:
    """What one node answers to a direct connection: its error, or what it is."""
    try:
        connection = await asyncpg.connect(one_host(dsn, host), timeout=timeout)
    except Exception as exc:
        return f"{host}: {type(exc).__name__}: {exc}".rstrip(": ")
    try:
        standby = await connection.fetchval("SELECT pg_is_in_recovery()", timeout=timeout)
        read_only = await connection.fetchval("SHOW transaction_read_only", timeout=timeout)
    except Exception as exc:
        return f"{host}: connected, then {type(exc).__name__}: {exc}"
    finally:
        connection.terminate()
    if standby:
        return f"{host}: a standby (in recovery): read-only"
    return f"{host}: read-only (transaction_read_only is on)" if read_only == "on" else f"{host}: read-write"


async def connect_naming_hosts(dsn: str, *args: Any, **kwargs: Any) -> Any:
    """``asyncpg.connect``; when a URL with several hosts finds none it can use, the error names
    every host's answer (asyncpg keeps only the last one: a refused primary would hide a standby
    that answered read-only)."""
    try:
        return await asyncpg.connect(dsn, *args, **kwargs)
    except _CONNECT_ERRORS as exc:
        hosts = hosts_of(dsn)
        if len(hosts) < 2:
            raise
        timeout = min(float(kwargs.get("timeout") or 5.0), 5.0)
        answers = await asyncio.gather(*(node_answer(dsn, host, timeout) for host in hosts))
        raise DatabaseUnavailable(
            f"no host could take the connection ({type(exc).__name__}); " + "; ".join(answers)
        ) from exc


def _encode_json(value: Any) -> str:
    if isinstance(value, str | bytes):
        return value if isinstance(value, str) else value.decode()
    return exact_json.dumps(value).decode()


async def _init_connection(connection: asyncpg.Connection) -> None:
    for name in ("jsonb", "json"):
        await connection.set_type_codec(
            name, encoder=_encode_json, decoder=exact_json.loads, schema="pg_catalog"
        )


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
    command_timeout: float = 60.0,
    application_name: str = "tds",
) -> asyncpg.Pool:
    """A pool whose connections give up on a statement after ``command_timeout`` seconds (a
    hung server becomes a ``TimeoutError``, translated to ``DatabaseUnavailable``) and on a
    connection attempt after ``timeout``."""
    with translated():
        pool: asyncpg.Pool = await asyncpg.create_pool(
            asyncpg_dsn(database_url),
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            command_timeout=command_timeout,
            connect=connect_naming_hosts,
            init=_init_connection,
            reset=_keep_session,
            server_settings={"application_name": application_name},
        )
    _pools[:] = [open_pool for open_pool in _pools if not open_pool.is_closing()]
    _pools.append(pool)
    return pool


async def connect(database_url: str, *, timeout: float = 5.0, application_name: str = "tds") -> Any:
    with translated():
        connection = await connect_naming_hosts(
            asyncpg_dsn(database_url),
            timeout=timeout,
            server_settings={"application_name": application_name},
        )
        await _init_connection(connection)
    return connection
