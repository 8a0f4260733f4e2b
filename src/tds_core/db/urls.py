"""Turn one ``postgresql://`` URL into the forms each driver wants."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit


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


def hosts_of(database_url: str) -> list[str]:
    """Every ``host:port`` a URL names, in libpq's order: the netloc's comma list
    (``h1:5432,h2:5433``) or the query's ``host=`` / ``port=`` (comma lists or repeated).
    A Unix-socket directory is named as given."""
    parts = urlsplit(database_url.replace("postgresql+psycopg://", "postgresql://", 1))
    netloc = parts.netloc.rpartition("@")[2]
    hosts = [host for host in netloc.split(",") if host]
    query = parse_qsl(parts.query, keep_blank_values=True)
    named = [item for key, value in query if key == "host" for item in value.split(",") if item]
    ports = [item for key, value in query if key == "port" for item in value.split(",") if item]
    if named:
        hosts = named
    if not hosts:
        return []
    default = ports[0] if len(ports) == 1 else "5432"
    answer = []
    for index, host in enumerate(hosts):
        if host.startswith("/") or (host.rpartition(":")[2].isdigit() and not host.startswith("[")):
            answer.append(host)
        else:
            answer.append(f"{host}:{ports[index] if index < len(ports) else default}")
    return answer


def one_host(database_url: str, host: str) -> str:
    """``database_url`` with ``host`` (``h:port`` or a socket directory) as its only host and no
    ``target_session_attrs``: for asking one node directly what it is."""
    parts = urlsplit(asyncpg_dsn(database_url))
    credentials, at, _ = parts.netloc.rpartition("@")
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key not in ("host", "port", "target_session_attrs")
    ]
    if host.startswith("/"):
        query.append(("host", host))
        netloc = f"{credentials}{at}"
    else:
        netloc = f"{credentials}{at}{host}"
    return parts._replace(netloc=netloc, query=urlencode(query)).geturl()


def redact(database_url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(database_url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return database_url
