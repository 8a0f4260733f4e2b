"""Upgrade from empty, downgrade to base (nothing of TDS left), upgrade again; and `tds migrate`
run twice is idempotent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from tds_core.db import migrate
from tds_core.domain.entities import ENTITIES

ERP_TABLES = {t for s in ENTITIES.values() for t in (s.table, s.lines.table if s.lines else s.table)}


def fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchall()  # type: ignore[arg-type]


def tds_objects(url: str) -> set[str]:
    """Every relation, type and function of TDS (and the ERP tables) in the database."""
    relations = fetch(
        url,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public'",
    )
    types = fetch(
        url,
        "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
        " WHERE n.nspname = 'public' AND t.typname LIKE 'tds\\_%' AND t.typtype IN ('e', 'd', 'b', 'r')",
    )
    functions = fetch(
        url,
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'public'",
    )
    names = {r[0] for r in relations + types + functions}
    return {n for n in names if n.startswith("tds_") or n in ERP_TABLES or n.startswith(tuple(ERP_TABLES))}


def schema_fingerprint(url: str) -> list[tuple[Any, ...]]:
    return fetch(
        url,
        "SELECT table_name, column_name, data_type, is_nullable, column_default"
        " FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2",
    )


def test_round_trip(empty_database_url: str) -> None:
    assert tds_objects(empty_database_url) == set()
    assert migrate.current_revision(empty_database_url) is None

    migrate.upgrade(empty_database_url)
    first = schema_fingerprint(empty_database_url)
    objects = tds_objects(empty_database_url)
    assert {"tds_sync_queue", "tds_queue_state", "tds_health_summary", "products", "stock_levels"} <= objects
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()

    migrate.downgrade(empty_database_url)
    assert tds_objects(empty_database_url) == set()
    assert migrate.current_revision(empty_database_url) is None
    leftovers = fetch(
        empty_database_url,
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND relname NOT LIKE 'alembic_version%'",
    )
    assert leftovers == []

    migrate.upgrade(empty_database_url)
    assert schema_fingerprint(empty_database_url) == first
    assert tds_objects(empty_database_url) == objects


def tds_migrate(url: str, cwd: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TDS_")}
    env.update(TDS_DATABASE_URL=url, TDS_HOME=str(cwd / ".tds"), TDS_LOG_LEVEL="WARNING")
    done = subprocess.run(
        [sys.executable, "-m", "tds_core", "migrate", "--json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_tds_migrate_twice_is_idempotent(empty_database_url: str, tmp_path: Path) -> None:
    head = migrate.head_revision()
    assert tds_migrate(empty_database_url, tmp_path) == {"revision": head, "head": head}
    schema = schema_fingerprint(empty_database_url)
    configuration = fetch(
        empty_database_url, "SELECT key, version, value::text FROM tds_configuration ORDER BY 1, 2"
    )
    assert tds_migrate(empty_database_url, tmp_path) == {"revision": head, "head": head}
    assert schema_fingerprint(empty_database_url) == schema
    assert fetch(
        empty_database_url, "SELECT key, version, value::text FROM tds_configuration ORDER BY 1, 2"
    ) == (configuration)
    assert fetch(empty_database_url, "SELECT count(*) FROM alembic_version") == [(1,)]


def test_batch_size_default_moves_only_when_unchanged(empty_database_url: str) -> None:
    """0011: the seeded 100 becomes 500 (and back on downgrade); an operator's value stays."""
    current = "SELECT value FROM tds_configuration_current WHERE key = 'worker.batch_size'"
    migrate.upgrade(empty_database_url, "0010")
    assert fetch(empty_database_url, current) == [(100,)]
    migrate.upgrade(empty_database_url)
    assert fetch(empty_database_url, current) == [(500,)]
    migrate.downgrade(empty_database_url, "0010")
    assert fetch(empty_database_url, current) == [(100,)]
    with psycopg.connect(empty_database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO tds_configuration (key, version, value, updated_by)"
            " VALUES ('worker.batch_size', 2, '250', 'admin')"
        )
    migrate.upgrade(empty_database_url)
    assert fetch(empty_database_url, current) == [(250,)]
    assert fetch(
        empty_database_url,
        "SELECT value FROM tds_configuration WHERE key = 'worker.batch_size' AND version = 1",
    ) == [(100,)]
