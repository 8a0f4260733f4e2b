"""The database seam, typed: what services hold (:class:`Connection`, :class:`Pool`), how they
get one (:func:`connected`) and open a transaction (:func:`transaction`), and how the typed
statement functions in ``db/<table>.py`` translate driver errors once (:func:`statement`).

asyncpg ships no type information, so these protocols say what TDS uses of its connections and
pools; an ``asyncpg.Connection`` and an ``asyncpg.Pool`` satisfy them. A row is a
:data:`Row` (read-only mapping); the table modules turn rows into typed results.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from tds_core.db.errors import translated

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Row = Mapping[str, Any]
"""One result row (an ``asyncpg.Record``)."""


class Executor(Protocol):
    """What runs a statement: a connection, or a pool (which borrows one for the statement)."""

    async def fetch(self, query: str, *args: object, timeout: float | None = None) -> Sequence[Row]: ...

    async def fetchrow(self, query: str, *args: object, timeout: float | None = None) -> Row | None: ...

    async def fetchval(
        self, query: str, *args: object, column: int = 0, timeout: float | None = None
    ) -> Any: ...

    async def execute(self, query: str, *args: object, timeout: float | None = None) -> str: ...

    async def executemany(
        self, command: str, args: Sequence[Sequence[object]], *, timeout: float | None = None
    ) -> None: ...


class Connection(Executor, Protocol):
    """One connection: statements and transactions."""

    def transaction(
        self, *, isolation: str | None = None, readonly: bool = False
    ) -> AbstractAsyncContextManager[Any]: ...


class Pool(Executor, Protocol):
    """A pool of connections."""

    def acquire(self, *, timeout: float | None = None) -> AbstractAsyncContextManager[Connection]: ...

    async def close(self) -> None: ...


@asynccontextmanager
async def connected(pool: Pool) -> AsyncIterator[Connection]:
    """A connection borrowed from ``pool``; any driver error inside is raised translated."""
    with translated():
        async with pool.acquire() as connection:
            yield connection


@asynccontextmanager
async def transaction(connection: Connection) -> AsyncIterator[Connection]:
    """``connection`` inside a transaction (committed when the block ends, rolled back when it
    raises); any driver error inside is raised translated."""
    with translated():
        async with connection.transaction():
            yield connection


P = ParamSpec("P")
R = TypeVar("R")
D = TypeVar("D", bound="DataclassInstance")


def dataclass_from(kind: type[D], row: Row) -> D:
    """An instance of the dataclass ``kind`` from the row's columns of its fields' names; a field
    the row has no column for keeps its default."""
    return kind(**{field.name: row[field.name] for field in dataclasses.fields(kind) if field.name in row})


def statement(function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Mark a typed statement function: driver errors it raises come out as TDS errors."""

    @functools.wraps(function)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with translated():
            return await function(*args, **kwargs)

    return run
