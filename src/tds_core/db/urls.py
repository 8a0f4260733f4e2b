"""Turn one ``postgresql://`` URL into the forms each driver wants."""

from __future__ import annotations

from urllib.parse import urlsplit


def sqlalchemy_url(database_url: str) -> str:
    """SQLAlchemy (Alembic) talks psycopg 3."""
    scheme, _, rest = database_url.partition("://")
    if scheme not in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+asyncpg"):
        raise ValueError(f"not a PostgreSQL URL: scheme {scheme!r}")
    return f"postgresql+psycopg://{rest}"


def asyncpg_dsn(database_url: str) -> str:
    rest = database_url.partition("://")[2]
    return f"postgresql://{rest}"


def redact(database_url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(database_url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return database_url
