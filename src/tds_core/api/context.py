"""What the API's routes need, built by the composition root and kept on ``app.state``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from tds_core.access.sessions import CurrentUsers
from tds_core.access.tokens import TokenIssuer
from tds_core.api.rate_limit import RateLimiter
from tds_core.config.encryption import Keyring
from tds_core.config.runtime import ConfigCache
from tds_core.db.connection import Connection, Pool, Row, connected
from tds_core.ingest.webhooks import WebhookIntake
from tds_core.observability.counters import WebhookOutcomes
from tds_core.queue.doorbell import Doorbell
from tds_core.settings import Settings


@dataclass
class ApiContext:
    settings: Settings
    database_url: str
    pool: Pool
    intake: WebhookIntake
    doorbell: Doorbell
    head_revision: str | None
    tokens: TokenIssuer
    config: ConfigCache = field(default_factory=ConfigCache)
    login_limiter: RateLimiter = field(default_factory=RateLimiter)
    """Login attempts per client address: its own store, so no other traffic can evict a bucket."""
    webhook_limiter: RateLimiter = field(default_factory=RateLimiter)
    """Webhooks per authenticated key (or signature)."""
    preauth_limiter: RateLimiter = field(default_factory=RateLimiter)
    """Webhook requests per client address, before authentication (forged keys spend only this)."""
    users: CurrentUsers = field(default_factory=CurrentUsers)
    """Users' current state, checked on every access token (``access.sessions``)."""
    webhook_outcomes: WebhookOutcomes = field(default_factory=WebhookOutcomes)
    """Webhook answers that store nothing (duplicates, 4xx, 503), flushed to the database."""
    keyring: Keyring | None = None
    """``TDS_SECRET_KEY``: encrypts secrets written through the API (configuration, ``/secrets``)."""
    environment_secrets: frozenset[str] = frozenset()
    """The storable secrets the environment sets (they win over stored ones)."""
    daily_quotas: dict[str, int] = field(default_factory=dict)
    """The Zoho daily quota per organization (the plan's, or the built-in simulator's), set by
    the composition root: the API never reads the simulator's configuration itself."""


async def context(request: Request) -> ApiContext:
    """The FastAPI dependency. ``async`` on purpose: FastAPI runs a plain ``def`` dependency in
    its thread pool, a thread hand-off on every request that cost ~25% of the API's CPU per
    webhook (docs/performance.md)."""
    ctx: ApiContext = request.app.state.context
    return ctx


Ctx = Annotated[ApiContext, Depends(context)]
"""A route's context parameter."""


async def database(ctx: Ctx) -> AsyncIterator[Connection]:
    """A connection for the route, borrowed from the pool when the route first uses it and
    returned after the request; a driver error inside is raised translated (answered 503 by the
    app's one handler). Borrowed lazily, so a request refused before it reaches the database (a
    bad parameter, a missing role) is answered as such even while the database is down."""
    async with LazyConnection(ctx.pool) as connection:
        yield connection


class LazyConnection:
    """A :class:`~tds_core.db.connection.Connection` that borrows one from ``pool`` on its first
    statement or transaction and gives it back when the ``async with`` block ends."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._borrowed: Connection | None = None
        self._exits = AsyncExitStack()

    async def __aenter__(self) -> LazyConnection:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self._exits.__aexit__(kind, error, trace)

    async def _connection(self) -> Connection:
        if self._borrowed is None:
            self._borrowed = await self._exits.enter_async_context(connected(self._pool))
        return self._borrowed

    async def fetch(self, query: str, *args: object, timeout: float | None = None) -> Sequence[Row]:
        return await (await self._connection()).fetch(query, *args, timeout=timeout)

    async def fetchrow(self, query: str, *args: object, timeout: float | None = None) -> Row | None:
        return await (await self._connection()).fetchrow(query, *args, timeout=timeout)

    async def fetchval(self, query: str, *args: object, column: int = 0, timeout: float | None = None) -> Any:
        return await (await self._connection()).fetchval(query, *args, column=column, timeout=timeout)

    async def execute(self, query: str, *args: object, timeout: float | None = None) -> str:
        return await (await self._connection()).execute(query, *args, timeout=timeout)

    async def executemany(
        self, command: str, args: Sequence[Sequence[object]], *, timeout: float | None = None
    ) -> None:
        await (await self._connection()).executemany(command, args, timeout=timeout)

    def transaction(
        self, *, isolation: str | None = None, readonly: bool = False
    ) -> AbstractAsyncContextManager[Any]:
        return self._transaction(isolation=isolation, readonly=readonly)

    @asynccontextmanager
    async def _transaction(self, *, isolation: str | None, readonly: bool) -> AsyncIterator[Any]:
        connection = await self._connection()
        async with connection.transaction(isolation=isolation, readonly=readonly) as started:
            yield started


Db = Annotated[Connection, Depends(database)]
"""A route's connection parameter: ``async def route(..., db: Db)``."""


def keyring(ctx: ApiContext) -> Keyring:
    """The process's keyring; a context built without one cannot write secrets (503)."""
    if ctx.keyring is None:
        raise HTTPException(503, "TDS_SECRET_KEY is not loaded in this process: secrets cannot be written")
    return ctx.keyring
