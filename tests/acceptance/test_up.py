"""``tds up`` on the embedded default, stopped with SIGTERM (what systemd, Docker and CI send):
it exits 0, stops every child it started (workers, scheduler, simulator) and the embedded
PostgreSQL it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.acceptance.conftest import free_port

pytestmark = pytest.mark.acceptance


def test_sigterm_stops_children_and_the_embedded_postgres(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port, simulator = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TDS_")}
    env |= {
        "TDS_HOME": str(home),
        "TDS_API_PORT": str(port),
        "TDS_SIMULATOR_PORT": str(simulator),
        "TDS_LOG_LEVEL": "WARNING",
        "TDS_ENV": "test",
    }
    with (tmp_path / "up.log").open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "tds_core", "up"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert up.poll() is None, (tmp_path / "up.log").read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "tds up did not become ready"
            time.sleep(0.2)
        children = psutil.Process(up.pid).children(recursive=True)
        postgres = [
            p
            for p in psutil.process_iter(["cmdline"])
            if str(home / "pgdata") in " ".join(p.info["cmdline"] or [])
        ]
        assert len(children) >= 3 and postgres

        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=60) == 0
        _gone, alive = psutil.wait_procs(children + postgres, timeout=30)
        assert not alive, [p.pid for p in alive]
        assert (home / "pgdata" / ".handle_pids.json").read_text().strip() == "[]"
    finally:
        if up.poll() is None:
            up.kill()
        for process in psutil.Process().children(recursive=True):
            process.kill()
