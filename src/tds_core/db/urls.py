"""Turn one ``postgresql://`` URL into the forms each driver wants."""

from __future__ import annotations

from urllib.parse import urlsplit


def sqlalchemy_url(database_url: str) -> str:
    """SQLAlchemy (Alembic) talks psycopg 3.

    libpq's multi-host form, ``postgresql://u@h1:5432,h2:5432/db?target_session_attrs=read-write``
    (what a failover setup uses), is one SQLAlchemy cannot parse (it reads ``5432,h2:5432`` as a
    port); it becomes SQLAlchemy's own spelling, ``postgresql+psycopg://u@/db?host=h1:5432&host=
    h2:5432&target_session_attrs=read-write``. The ``?host=h1,h2&port=p1,p2`` form passes as is.
    """
    scheme, _, rest = database_url.partition("://")
    if scheme not in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+asyncpg"):
        raise ValueError(f"not a PostgreSQL URL: scheme {scheme!r}")
    authority, _, tail = rest.partition("/")
    credentials, at, hosts = authority.rpartition("@")
    if "," in hosts:
        path, _, query = tail.partition("?")
        pairs = [f"host={host}" for host in hosts.split(",") if host]
        joined = "&".join(pairs + ([query] if query else []))
        return f"postgresql+psycopg://{credentials}{at}/{path}?{joined}"
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
