"""Translate asyncpg and OS errors into the TDS exception tree, once, at the boundary."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import asyncpg

from tds_core.errors import (
    DatabaseTimeout,
    DatabaseUnavailable,
    DataError,
    TargetError,
    TDSError,
    TransientDatabaseError,
)

_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57014"}
STALE_NODE_SQLSTATES = frozenset({"25006", "57P01", "57P02", "57P03"})
"""The node a connection reached cannot take writes any more: it is read-only (a standby, or a
primary demoted by a failover: 25006) or shutting down (57P01-57P03). Such an error is the
database being unavailable, not the event's fault, and the pool's connections are reopened
(:func:`tds_core.db.pool.reopen_connections`), which with ``target_session_attrs=read-write``
finds the new primary."""

_stale_node_hooks: list[Callable[[], None]] = []


def on_stale_node(hook: Callable[[], None]) -> None:
    """Call ``hook`` whenever an error says a connection's node cannot take writes."""
    _stale_node_hooks.append(hook)


def sqlstate_of(exc: BaseException) -> str:
    return str(getattr(exc, "sqlstate", "") or "")


def translate(exc: BaseException) -> TDSError:
    """The TDS error for a foreign exception (callers ``raise translate(exc) from exc``)."""
    if isinstance(exc, TDSError):
        return exc
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = getattr(exc, "sqlstate", "") or ""
        message = f"{type(exc).__name__} [{sqlstate}]: {exc}"
        if sqlstate in STALE_NODE_SQLSTATES:
            for hook in list(_stale_node_hooks):
                hook()
            return DatabaseUnavailable(f"{message} (this node cannot take writes; reconnecting)")
        if sqlstate.startswith(("08", "57P", "53")):
            return DatabaseUnavailable(message)
        if sqlstate in _TRANSIENT_SQLSTATES:
            return TransientDatabaseError(message)
        if sqlstate.startswith(("22", "23")):
            return DataError(message)
        return TargetError(message)
    if isinstance(exc, TimeoutError):
        return DatabaseTimeout(f"{type(exc).__name__}: the database did not answer in time")
    if isinstance(exc, asyncpg.InterfaceError | OSError | ConnectionError):
        return DatabaseUnavailable(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        return DatabaseUnavailable(f"{type(exc).__name__}: {exc}")
    return TargetError(f"{type(exc).__name__}: {exc}")


DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    OSError,
    ConnectionError,
    TimeoutError,
)
"""What the driver and the network raise: :func:`translate` turns each into a TDS error."""
UNTRANSLATED_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    ConnectionError,
    TimeoutError,
)
"""The driver errors an API answer translates when they escaped a ``translated()`` block (a
statement past ``command_timeout``, a node gone): plain ``OSError`` is left out, as outside
the database it means something else."""


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise any database-layer exception as its TDS counterpart."""
    try:
        yield
    except TDSError:
        raise
    except DRIVER_ERRORS as exc:
        raise translate(exc) from exc
