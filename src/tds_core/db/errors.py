"""Translate asyncpg and OS errors into the TDS exception tree, once, at the boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from tds_core.errors import (
    DatabaseUnavailable,
    DataError,
    TargetError,
    TDSError,
    TransientDatabaseError,
)

_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57014"}


def translate(exc: BaseException) -> TDSError:
    """The TDS error for a foreign exception (callers ``raise translate(exc) from exc``)."""
    if isinstance(exc, TDSError):
        return exc
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = getattr(exc, "sqlstate", "") or ""
        message = f"{type(exc).__name__} [{sqlstate}]: {exc}"
        if sqlstate.startswith(("08", "57P", "53")):
            return DatabaseUnavailable(message)
        if sqlstate in _TRANSIENT_SQLSTATES:
            return TransientDatabaseError(message)
        if sqlstate.startswith(("22", "23")):
            return DataError(message)
        return TargetError(message)
    if isinstance(exc, asyncpg.InterfaceError | OSError | ConnectionError | TimeoutError):
        return DatabaseUnavailable(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        return DatabaseUnavailable(f"{type(exc).__name__}: {exc}")
    return TargetError(f"{type(exc).__name__}: {exc}")


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise any database-layer exception as its TDS counterpart."""
    try:
        yield
    except TDSError:
        raise
    except (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.exceptions.InternalClientError,
        OSError,
        ConnectionError,
        TimeoutError,
    ) as exc:
        raise translate(exc) from exc
