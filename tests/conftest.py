"""Shared fixtures: a real PostgreSQL (embedded by default, or TDS_TEST_DATABASE_URL), one migrated
template database per session, and a fresh ``CREATE DATABASE ... TEMPLATE`` clone per test."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from tds_core import app as composition
from tds_core.access import api_keys, users
from tds_core.access.roles import Role
from tds_core.db import embedded, migrate
from tds_core.db.pool import create_pool
from tds_core.processor.worker import Worker
from tds_core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TEST_HOME = ROOT / ".tds" / "test"


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def server_url() -> str:
    """An admin URL on the test server (the embedded one unless TDS_TEST_DATABASE_URL is set)."""
    external = os.environ.get("TDS_TEST_DATABASE_URL")
    if external:
        return external
    url = embedded.start(TEST_HOME, stop_on_exit=True)
    return with_database(url, "postgres")


async def _admin(server_url: str, sql: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def template_url(server_url: str) -> Iterator[str]:
    name = f"tds_template_{os.getpid()}"
    asyncio.run(_admin(server_url, f"DROP DATABASE IF EXISTS {name}"))
    asyncio.run(_admin(server_url, f"CREATE DATABASE {name}"))
    url = with_database(server_url, name)
    migrate.upgrade(url)
    yield url
    asyncio.run(_admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def database_url(server_url: str, template_url: str) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    name = f"tds_t_{uuid.uuid4().hex[:12]}"
    template = urlsplit(template_url).path.lstrip("/")
    asyncio.run(_admin(server_url, f"CREATE DATABASE {name} TEMPLATE {template}"))
    yield with_database(server_url, name)
    asyncio.run(_admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Any]:
    pool = await create_pool(database_url, min_size=1, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        env="test", home=tmp_path, api_key_cache_seconds=0, user_cache_seconds=0, log_level="WARNING"
    )


@pytest.fixture
async def api_key(pool: Any) -> str:
    async with pool.acquire() as connection:
        new = await api_keys.create(connection, "tests")
    return new.key


@pytest.fixture
async def client(settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the real app (lifespan run), backed by the test database."""
    app = composition.build_api(settings, database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tds.test") as http:
            yield http


TEST_PASSWORD = "correct horse battery staple"


@pytest.fixture
def auth_headers(pool: Any, client: httpx.AsyncClient) -> Callable[..., Awaitable[dict[str, str]]]:
    """``await auth_headers("operator")``: a user with that role is created, logged in, and the
    ``Authorization`` header returned (one user per role per test)."""
    made: dict[str, dict[str, str]] = {}

    async def headers(role: str = "admin") -> dict[str, str]:
        if role not in made:
            username = f"{role}-user"
            async with pool.acquire() as connection:
                await users.create(connection, username, TEST_PASSWORD, Role(role), "tests")
            response = await client.post(
                "/api/v1/auth/token", data={"username": username, "password": TEST_PASSWORD}
            )
            assert response.status_code == 200, response.text
            made[role] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return made[role]

    return headers


@pytest.fixture
def drain(pool: Any, database_url: str) -> Any:
    """Run an in-process worker until no event is pending or processing (or the timeout)."""

    async def run(timeout: float = 60.0, concurrency: int = 2) -> Worker:
        worker = Worker(pool, database_url, concurrency=concurrency)
        task = asyncio.create_task(worker.run())
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while asyncio.get_running_loop().time() < deadline:
                busy = await pool.fetchval(
                    "SELECT count(*) FROM tds_sync_queue WHERE status IN ('pending', 'processing')"
                    " AND next_attempt_at <= now()"
                )
                if busy == 0:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("queue did not drain in time")
        finally:
            worker.stop()
            await asyncio.wait_for(task, 30)
        return worker

    return run
