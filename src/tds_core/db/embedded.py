"""The embedded default: a real PostgreSQL under ``TDS_HOME`` via the ``pgserver`` package.

Run as root, pgserver creates a ``pgserver`` system user and widens traversal permissions on
the data directory's parents; fine for development and CI. Production sets
``TDS_DATABASE_URL`` to a managed PostgreSQL instead.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

DATABASE_NAME = "tds"


def start(home: Path, *, stop_on_exit: bool = True) -> str:
    """Start (or join) the embedded server and return a URL for the ``tds`` database."""
    home.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver import postgres_server  # heavy import; only the embedded path pays for it

        server: Any = postgres_server.get_server(
            (home / "pgdata").resolve(), cleanup_mode="stop" if stop_on_exit else None
        )
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return str(server.get_uri(database=DATABASE_NAME))
