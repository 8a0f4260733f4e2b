"""The PostgreSQL the benchmark runs against: a fresh embedded server (pgserver) under a scratch
directory, or ``TDS_BENCH_DATABASE_URL``. Durability is checked, never changed."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil

from tds_core.db import embedded
from tds_core.db.urls import asyncpg_dsn

SETTINGS = (
    "server_version",
    "fsync",
    "synchronous_commit",
    "wal_sync_method",
    "full_page_writes",
    "shared_buffers",
    "max_wal_size",
    "max_connections",
)


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database (query string, e.g. ``?host=``, kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


class NotDurable(RuntimeError):
    """The server has fsync or synchronous_commit off: its numbers would not be TDS's speed."""


@dataclass
class Server:
    admin_url: str
    home: Path | None = None  # the embedded server's scratch directory, removed by stop()
    prefix: str = "tdsbench"
    created: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, external_url: str | None, scratch: Path) -> Server:
        if external_url:
            return cls(admin_url=external_url)
        home = scratch / "pg"
        url = embedded.start(home, stop_on_exit=True)
        return cls(admin_url=with_database(url, "postgres"), home=home)

    def url(self, database: str) -> str:
        return with_database(self.admin_url, database)

    def name(self, suffix: str) -> str:
        return f"{self.prefix}_{suffix}"

    async def connect(self, database: str | None = None) -> Any:
        url = self.url(database) if database else self.admin_url
        return await asyncpg.connect(asyncpg_dsn(url), timeout=10)

    async def _admin(self, sql: str) -> None:
        connection = await self.connect()
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    async def create_database(self, suffix: str, template: str | None = None) -> str:
        """Create (after dropping a leftover) ``<prefix>_<suffix>``; returns its URL."""
        name = self.name(suffix)
        await self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        sql = f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")
        for attempt in range(50):
            try:
                await self._admin(sql)
                break
            except asyncpg.ObjectInUseError:
                # The template's last client is still disconnecting.
                if attempt == 49:
                    raise
                await asyncio.sleep(0.1)
        self.created.append(name)
        return self.url(name)

    async def drop_database(self, suffix: str) -> None:
        name = self.name(suffix)
        await self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if name in self.created:
            self.created.remove(name)

    async def drop_all(self) -> None:
        for name in reversed(self.created):
            with contextlib.suppress(Exception):
                await self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.created.clear()

    async def checkpoint(self) -> None:
        """Start a timed phase without a pending checkpoint's burst of writes."""
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await self._admin("CHECKPOINT")

    async def postmaster_pid(self) -> int | None:
        """The server's main process when it runs on this machine (for CPU accounting), else None."""
        connection = await self.connect()
        try:
            backend = await connection.fetchval("SELECT pg_backend_pid()")
            with contextlib.suppress(psutil.Error):  # asked while the backend still exists
                parent = psutil.Process(backend).parent()
                if parent is not None and "postgres" in parent.name():
                    return int(parent.pid)
        finally:
            await connection.close()
        return None

    async def info(self) -> dict[str, str]:
        connection = await self.connect()
        try:
            values = {name: await connection.fetchval(f"SHOW {name}") for name in SETTINGS}
            values["version"] = await connection.fetchval("SELECT version()")
        finally:
            await connection.close()
        return values

    async def check_durable(self) -> dict[str, str]:
        info = await self.info()
        if info["fsync"] != "on" or info["synchronous_commit"] not in ("on", "remote_apply", "remote_write"):
            raise NotDurable(
                f"fsync={info['fsync']} synchronous_commit={info['synchronous_commit']}: "
                "benchmarks run with both on (see BENCHMARKING.md)"
            )
        return info

    def stop(self) -> None:
        """Stop the embedded server (if we started one) and remove its data."""
        if self.home is None:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver import postgres_server

            pgdata = (self.home / "pgdata").resolve()
            server = postgres_server.PostgresServer._instances.get(pgdata)
            if server is not None:
                server.cleanup()
        shutil.rmtree(self.home, ignore_errors=True)
        self.home = None
