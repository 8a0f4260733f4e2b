"""libpq's multi-host URL works everywhere, migrations included (issue 16, item 11, the URL
half): ``postgresql://user@h1:p1,h2:p2/db?target_session_attrs=read-write`` used to make
``tds migrate`` fail (SQLAlchemy read ``p1,h2:p2`` as a port). The first host here refuses
connections, as a dead primary would; the second is the test server."""

from __future__ import annotations

import socket
import subprocess
import sys
from urllib.parse import urlsplit

import asyncpg
import pytest

from tds_core.api.routes.webhooks import answer_error
from tds_core.db import migrate
from tds_core.db.errors import translated
from tds_core.db.pool import create_pool
from tds_core.db.urls import hosts_of, sqlalchemy_url
from tds_core.errors import DatabaseUnavailable


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when this returns: nothing listens


def multi_host(database_url: str) -> str:
    parts = urlsplit(database_url)
    if not parts.hostname or parts.hostname.startswith("/"):
        pytest.skip("the test server listens on a Unix socket only; the TCP matrix leg runs this")
    user = f"{parts.username}@" if parts.username else ""
    if parts.password:
        user = f"{parts.username}:{parts.password}@"
    hosts = f"127.0.0.1:{dead_port()},{parts.hostname}:{parts.port or 5432}"
    return f"postgresql://{user}{hosts}{parts.path}?target_session_attrs=read-write"


def test_the_multi_host_form_is_spelled_for_sqlalchemy() -> None:
    url = sqlalchemy_url("postgresql://tds:pw@h1:5432,h2:5433/tds?target_session_attrs=read-write")
    assert url == "postgresql+psycopg://tds:pw@/tds?host=h1:5432&host=h2:5433&target_session_attrs=read-write"
    assert sqlalchemy_url("postgresql://tds@/tds?host=h1,h2&port=5432,5433") == (
        "postgresql+psycopg://tds@/tds?host=h1,h2&port=5432,5433"
    )
    for form in (
        "postgresql://tds:pw@h1:5432,h2:5433/tds?target_session_attrs=read-write",
        "postgresql://tds@/tds?host=h1,h2&port=5432,5433",
        "postgresql://tds@/tds?host=h1:5432&host=h2:5433",
    ):
        assert hosts_of(form) == ["h1:5432", "h2:5433"], form


async def test_migrations_and_the_pool_take_a_multi_host_url(empty_database_url: str) -> None:
    url = multi_host(empty_database_url)
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()
    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        assert await pool.fetchval("SELECT count(*) FROM tds_inbox_events") == 0
    finally:
        await pool.close()
    done = subprocess.run(
        [sys.executable, "-m", "tds_core", "migrate"],
        env={"TDS_DATABASE_URL": url, "TDS_ENV": "test", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]


async def test_when_no_host_can_take_writes_the_error_names_every_hosts_answer(
    empty_database_url: str,
) -> None:
    """asyncpg keeps only the last host's error: with the first host refusing and the second
    read-only, the answer used to be a bare ``ConnectionRefusedError``. Now the error (and hence
    the 503 and ``/api/v1/ready``) says what each host answered."""
    url = multi_host(empty_database_url)
    dead, live = hosts_of(url)
    name = urlsplit(empty_database_url).path.lstrip("/")
    admin = await asyncpg.connect(empty_database_url)
    try:  # a node that accepts connections but no writes, as a standby does
        await admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    finally:
        await admin.close()
    pool = await create_pool(url, min_size=0, max_size=1, timeout=5)
    try:
        with pytest.raises(DatabaseUnavailable) as raised, translated():
            async with pool.acquire() as connection:
                await connection.fetchval("SELECT 1")
    finally:
        await pool.close()
    said = str(raised.value)
    assert f"{dead}: ConnectionRefusedError" in said, said
    assert f"{live}: read-only (transaction_read_only is on)" in said, said
    status, body, headers = answer_error(raised.value, 5) or (None, {}, {})
    assert status == 503 and headers == {"Retry-After": "5"}
    assert dead in body["reasons"][0] and live in body["reasons"][0], body
