"""Leader election with a session-level advisory lock held on a dedicated connection.

Whoever holds the lock is the scheduler; if its process dies, PostgreSQL ends the session,
releases the lock, and a standby takes over within ``retry_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from tds_core.db import status
from tds_core.db.errors import translate
from tds_core.db.pool import connect
from tds_core.errors import RetryableError


async def _try_lead(database_url: str) -> Any | None:
    """A connection holding the scheduler lock, or None (someone else leads, or no database)."""
    connection = None
    try:
        connection = await connect(database_url, application_name="tds-scheduler")
        if await status.scheduler_try_lead(connection):
            return connection
    except Exception as exc:
        if not isinstance(translate(exc), RetryableError):
            raise
    if connection is not None:
        with contextlib.suppress(Exception):
            await connection.close(timeout=2)
    return None


@contextlib.asynccontextmanager
async def leadership(
    database_url: str, stopping: asyncio.Event, retry_seconds: float = 5.0
) -> AsyncIterator[Any]:
    """Wait until this process leads; yields the connection that holds the lock (keep it open).
    Yields None if asked to stop before leading."""
    connection = None
    while connection is None and not stopping.is_set():
        connection = await _try_lead(database_url)
        if connection is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), retry_seconds)
    try:
        yield connection
    finally:
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)
