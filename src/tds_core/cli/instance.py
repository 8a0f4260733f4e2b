"""One ``tds up`` per port: check before touching anything, say who holds the port.

A second ``tds up`` (a second ``make run``) must leave a running one untouched: before it
migrates, starts the embedded PostgreSQL or issues a webhook key, :func:`claim` checks that
the API port (and the simulator's, when it runs) can be bound. When it cannot, the error names
the ``tds up`` holding it (its pid, from the ``<home>/tds-up-<port>.json`` it wrote) or says
another program does, and suggests ``--port``. The claim file is removed when it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import psutil

from tds_core.errors import ConfigurationError


def port_is_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound now (as uvicorn would bind it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def claim_file(home: Path, port: int) -> Path:
    return home / f"tds-up-{port}.json"


def holder(home: Path, port: int) -> int | None:
    """The pid of a live ``tds up`` in ``home`` that claimed ``port`` (API or simulator), if any."""
    for path in sorted(home.glob("tds-up-*.json")):
        try:
            claimed = json.loads(path.read_text())
            pid = int(claimed["pid"])
            ports = {int(claimed["port"]), int(claimed.get("simulator_port") or 0)}
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if port in ports and pid != os.getpid() and psutil.pid_exists(pid):
            return pid
    return None


def busy_message(home: Path, host: str, port: int, what: str, option: str) -> str:
    pid = holder(home, port)
    if pid is not None:
        return f"TDS is already running on {host}:{port} (pid {pid}); stop it, or use {option}"
    return f"the {what} port {host}:{port} is in use by another program; use {option}"


@contextlib.contextmanager
def claim(home: Path, host: str, port: int, simulator_port: int | None = None) -> Iterator[None]:
    """Hold ``port`` for this ``tds up``; raise :class:`ConfigurationError` when it is taken."""
    if not port_is_free(host, port):
        raise ConfigurationError(busy_message(home, host, port, "API", "--port"))
    if simulator_port is not None and not port_is_free("127.0.0.1", simulator_port):
        raise ConfigurationError(
            busy_message(home, "127.0.0.1", simulator_port, "simulator", "TDS_SIMULATOR_PORT")
        )
    home.mkdir(parents=True, exist_ok=True)
    path = claim_file(home, port)
    claimed = {"pid": os.getpid(), "host": host, "port": port, "simulator_port": simulator_port}
    path.write_text(json.dumps(claimed) + "\n")
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            if int(json.loads(path.read_text())["pid"]) == os.getpid():
                path.unlink()
