"""Migration fixtures: empty databases created here (not cloned from the migrated template)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import with_database


def admin(server_url: str, sql: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(sql)  # type: ignore[arg-type]


@pytest.fixture
def empty_database_url(server_url: str) -> Iterator[str]:
    """A brand-new database with nothing in it."""
    name = f"tds_m_{uuid.uuid4().hex[:12]}"
    admin(server_url, f"CREATE DATABASE {name}")
    yield with_database(server_url, name)
    admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def migrated_url(server_url: str) -> Iterator[str]:
    """One database migrated from empty, shared by the read-only schema checks of a module."""
    from tds_core.db import migrate

    name = f"tds_m_{uuid.uuid4().hex[:12]}"
    admin(server_url, f"CREATE DATABASE {name}")
    url = with_database(server_url, name)
    migrate.upgrade(url)
    yield url
    admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
