"""The production install runs: a clean virtual environment with ``pip install -c constraints.txt .``
(no extras: what the Docker image and a plain ``pip install tds-core`` do), then ``tds migrate``,
``tds api``, ``tds worker`` and ``tds scheduler`` with ``TDS_ENV=production`` against a real
PostgreSQL, one webhook applied, and every process stopped with SIGTERM (exit 0).

Every other test installs ``.[dev]``, which hides a runtime import that only a development
dependency provides; this one does not. The Zoho source is the built-in simulator started from
the development environment and configured as if it were Zoho (complete credentials, its URL as
the API and accounts host), because production never falls back to the simulator by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg
import orjson
import pytest
from cryptography.fernet import Fernet

from tds_core.simulator.config import SimulatorConfig
from tests.acceptance.conftest import free_port, wait_until
from tests.conftest import with_database

pytestmark = pytest.mark.acceptance

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 900


@pytest.fixture(scope="module")
def production_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``bin/`` of a fresh virtual environment holding the production install only."""
    venv = tmp_path_factory.mktemp("production-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # A copy of the source tree without build output, as the Dockerfile copies it (no editable
    # install: the package must carry every file it needs, SQL and migrations included).
    source = tmp_path_factory.mktemp("production-source")
    for name in ("pyproject.toml", "constraints.txt", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    result = subprocess.run(
        [*pip, "-c", str(source / "constraints.txt"), str(source)],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
        cwd=venv,
    )
    assert result.returncode == 0, (
        f"production install failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    )
    return venv / "bin"


def _installed(production_bin: Path) -> set[str]:
    listing = subprocess.run(
        [str(production_bin / "python"), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {row["name"].lower() for row in orjson.loads(listing.stdout)}


def test_production_install_has_no_development_dependencies(production_bin: Path) -> None:
    installed = _installed(production_bin)
    assert "tds-core" in installed
    for development_only in ("pytest", "mypy", "ruff", "aiohttp", "schemathesis"):
        assert development_only not in installed, f"{development_only} came with the production install"
    help_text = subprocess.run(
        [str(production_bin / "tds"), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert help_text.returncode == 0, help_text.stderr[-3000:]
    assert "migrate" in help_text.stdout


@pytest.fixture
def empty_database(server_url: str) -> Iterator[str]:
    """A new, empty database (``tds migrate`` builds its schema)."""
    name = f"tds_prod_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(server_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f"CREATE DATABASE {name}"))
    yield with_database(server_url, name)
    asyncio.run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


class Started:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.processes: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log_path = self.tmp_path / f"{len(self.processes):02d}-{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                command,
                env=env,
                cwd=self.tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append((name, popen, log_path))
        return popen

    def logs(self) -> str:
        return "\n".join(
            f"===== {name} (exit {popen.poll()})\n{path.read_text(errors='replace')[-3000:]}"
            for name, popen, path in self.processes
        )

    def kill_all(self) -> None:
        for _, popen, _ in self.processes:
            if popen.poll() is None:
                popen.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(10)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Started]:
    processes = Started(tmp_path)
    try:
        yield processes
    finally:
        processes.kill_all()


async def test_production_processes_apply_a_webhook_and_stop_on_sigterm(
    production_bin: Path, empty_database: str, started: Started, tmp_path: Path
) -> None:
    simulator = SimulatorConfig()
    simulator_port = free_port()
    simulator_url = f"http://127.0.0.1:{simulator_port}"
    development_env = {k: v for k, v in os.environ.items() if not k.startswith("TDS_")}
    started.start(
        "simulator",
        [sys.executable, "-m", "tds_core", "simulate", "--port", str(simulator_port), "--records", "5"],
        development_env | {"TDS_HOME": str(tmp_path / "simulator-home"), "TDS_LOG_LEVEL": "WARNING"},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TDS_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(
        TDS_ENV="production",
        TDS_DATABASE_URL=empty_database,
        TDS_HOME=str(tmp_path / "home"),
        TDS_SECRET_KEY=Fernet.generate_key().decode(),
        TDS_JWT_SECRET=secrets.token_hex(32),
        TDS_ZOHO_ORGANIZATION_ID=simulator.organization_id,
        TDS_ZOHO_CLIENT_ID=simulator.client_id,
        TDS_ZOHO_CLIENT_SECRET=simulator.client_secret,
        TDS_ZOHO_REFRESH_TOKEN=simulator.refresh_token,
        TDS_ZOHO_API_BASE=simulator_url,
        TDS_ZOHO_ACCOUNTS_BASE=simulator_url,
        TDS_LOG_LEVEL="WARNING",
        PATH=f"{production_bin}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    tds = str(production_bin / "tds")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [tds, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, f"tds {' '.join(args)}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
        return result

    run("migrate")
    key = orjson.loads(run("keys", "create", "--name", "production-test", "--json").stdout)["key"]

    port = free_port()
    api = started.start("api", [tds, "api", "--host", "127.0.0.1", "--port", str(port)], env)
    worker = started.start("worker", [tds, "worker"], env)
    scheduler = started.start("scheduler", [tds, "scheduler"], env)
    base = f"http://127.0.0.1:{port}"
    record = {
        "item_id": "9100000000000001",
        "name": "Production install probe",
        "sku": "PROD-1",
        "status": "active",
        "rate": "12.50",
        "last_modified_time": "2026-12-07T10:00:00+0000",
    }
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:

        async def ready() -> bool:
            for name, popen, _ in started.processes:
                assert popen.poll() is None, f"{name} exited early:\n{started.logs()}"
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(f"{base}/api/v1/ready") as response:
                    return response.status == 200
            return False

        await wait_until(ready, timeout=90, interval=0.2, what="the production API to be ready")
        async with http.post(
            f"{base}/api/v1/webhooks/zoho/items", json={"item": record}, headers={"X-TDS-Key": key}
        ) as response:
            assert response.status == 202, await response.text()

    connection = await asyncpg.connect(empty_database)
    try:

        async def applied() -> bool:
            for name, popen, _ in started.processes:
                assert popen.poll() is None, f"{name} exited early:\n{started.logs()}"
            name = await connection.fetchval(
                "SELECT name FROM products WHERE zoho_id = $1", record["item_id"]
            )
            return name == record["name"]

        await wait_until(applied, timeout=90, interval=0.2, what="the webhook to be applied")
    finally:
        await connection.close()

    for process in (api, worker, scheduler):
        process.send_signal(signal.SIGTERM)
    for name, process in (("api", api), ("worker", worker), ("scheduler", scheduler)):
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{name} did not stop within 60 s of SIGTERM:\n{started.logs()}") from None
        assert code == 0, f"{name} exited {code} on SIGTERM:\n{started.logs()}"
