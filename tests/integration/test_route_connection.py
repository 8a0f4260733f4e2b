"""A route's connection (``api.context.LazyConnection``) is borrowed on its first statement and
given back when the request ends, so a request refused before any statement never waits on (or
is refused for) an unreachable database."""

from __future__ import annotations

from typing import Any

import pytest

from tds_core.api.context import LazyConnection
from tds_core.db.connection import transaction
from tds_core.db.pool import create_pool
from tds_core.errors import DatabaseUnavailable

NOWHERE = "postgresql://postgres@127.0.0.1:1/x"  # nothing listens on port 1


async def test_an_unused_connection_is_never_borrowed() -> None:
    pool = await create_pool(NOWHERE, min_size=0, timeout=2.0)
    try:
        async with LazyConnection(pool):
            pass  # a refused request: no statement, so the unreachable database is never asked
        with pytest.raises(DatabaseUnavailable):
            async with LazyConnection(pool) as connection:
                await connection.fetchval("SELECT 1")
    finally:
        await pool.close()


async def test_one_connection_serves_the_request_and_goes_back(pool: Any) -> None:
    idle = pool.get_idle_size()
    async with LazyConnection(pool) as connection:
        first = await connection.fetchval("SELECT pg_backend_pid()")
        async with transaction(connection):
            await connection.execute("CREATE TEMP TABLE lazy_probe (n int) ON COMMIT DROP")
            assert await connection.fetchval("SELECT pg_backend_pid()") == first
        rows = await connection.fetch("SELECT $1::int AS n", 7)
        assert [row["n"] for row in rows] == [7]
    assert pool.get_idle_size() == max(idle, 1)
