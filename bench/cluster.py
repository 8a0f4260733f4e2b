"""A PostgreSQL cluster of our own (initdb in a scratch directory, a free port), so a test or the
soak can restart it: pgserver's binaries by default, ``TDS_TEST_PG_BINDIR`` for another
installation (e.g. /usr/lib/postgresql/15/bin). As root, the server runs as ``TDS_TEST_PG_USER``
(default: the binaries' owner account)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrivateCluster:
    """A PostgreSQL cluster this test owns, so it can restart it (pgserver's binaries by default,
    ``TDS_TEST_PG_BINDIR`` to use another installation, e.g. /usr/lib/postgresql/15/bin)."""

    def __init__(self, prefix: str = "tds_acc_pg_", max_connections: int = 100) -> None:
        override = os.environ.get("TDS_TEST_PG_BINDIR")
        if override:
            self.bindir = Path(override)
            default_user = "postgres"
        else:
            from pgserver._commands import POSTGRES_BIN_PATH

            self.bindir = Path(POSTGRES_BIN_PATH)
            default_user = "pgserver"
        self.user = os.environ.get("TDS_TEST_PG_USER", default_user) if os.geteuid() == 0 else None
        if self.user is not None:
            from pgserver.utils import ensure_user_exists

            ensure_user_exists(self.user)  # PostgreSQL refuses to run as root
        self.base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        self.max_connections = max_connections
        self.base.chmod(0o755)
        self.data = self.base / "data"
        self.socket_dir = self.base / "sock"
        self.logfile = self.base / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/tds"

    def _run(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n"
                f"{self.server_log()}"
            )
        return result

    def server_log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def _own(self, path: Path, mode: int) -> None:
        path.mkdir(exist_ok=True)
        path.chmod(mode)
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def init(self) -> None:
        self._own(self.data, 0o700)
        self._own(self.socket_dir, 0o755)
        self.logfile.touch()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.logfile, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    @property
    def options(self) -> str:
        return f"-p {self.port} -k {self.socket_dir} -h 127.0.0.1 -c max_connections={self.max_connections}"

    def _pg_ctl(self, *action: str) -> None:
        """``pg_ctl`` on this cluster, waiting up to 60 s for the server to answer."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.logfile),
            "-o",
            self.options,
            "-w",
            "-t",
            "60",
            *action,
        )

    def start(self) -> None:
        self._pg_ctl("start")

    def standby(self, name: str = "standby1", *, synchronous: bool = True) -> PrivateCluster:
        """A streaming standby of this (running) cluster: ``pg_basebackup -R`` into a cluster of its
        own on another port, started and caught up. With ``synchronous``, this cluster's commits
        wait for the standby's flush (``synchronous_standby_names``), so a commit acknowledged
        by the primary is on the standby too."""
        replica = PrivateCluster(prefix=f"{self.base.name}_{name}_", max_connections=self.max_connections)
        replica.bindir, replica.user = self.bindir, self.user
        replica._own(replica.socket_dir, 0o755)
        replica.logfile.touch()
        if replica.user is not None:
            entry = pwd.getpwnam(replica.user)
            os.chown(replica.logfile, entry.pw_uid, entry.pw_gid)
            os.chown(replica.base, entry.pw_uid, entry.pw_gid)
        conninfo = f"host=127.0.0.1 port={self.port} user=postgres application_name={name}"
        replica._run(
            "pg_basebackup", "-d", conninfo, "-D", str(replica.data), "-R", "-X", "stream", "--no-sync"
        )
        with (replica.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"primary_conninfo = '{conninfo}'\n")
        replica.start()
        if synchronous:
            self.sql(f"ALTER SYSTEM SET synchronous_standby_names = '{name}'", "SELECT pg_reload_conf()")
        return replica

    def sql(self, *statements: str) -> str:
        """Run statements with this cluster's psql (as the ``postgres`` role); their output."""
        arguments = ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres"]
        arguments += ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        for statement in statements:
            arguments += ["-c", statement]
        return self._run(*arguments).stdout

    def promote(self) -> None:
        """Make this standby a primary (``pg_ctl promote``, waiting until it is)."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "promote")

    def crash(self) -> None:
        """Stop the server the way a power cut would, as far as clients can tell: ``-m immediate``
        (every backend killed without a checkpoint, nothing more is written)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")

    def restart(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "restart")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
