"""A second ``tds up`` (a second ``make run``) leaves the first one untouched (issue 16, items 12
and 13): it checks the ports before anything else and exits 2 with "already running … (pid N)",
the running simulator's webhook key stays valid, and no key is ever on a command line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.acceptance.conftest import free_port

pytestmark = pytest.mark.acceptance

API_KEY = re.compile(r"tds_[0-9a-f]{8}_")  # the shape of a webhook key (access/api_keys.py)


def _environment(home: Path, port: int, simulator: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TDS_")}
    return env | {
        "TDS_HOME": str(home),
        "TDS_API_PORT": str(port),
        "TDS_SIMULATOR_PORT": str(simulator),
        "TDS_LOG_LEVEL": "WARNING",
        "TDS_ENV": "development",  # the first user's password is kept in the home
    }


def _wait_ready(up: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        assert up.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "tds up did not become ready"
        time.sleep(0.2)


def _simulator_keys(base: str, home: Path) -> list[dict[str, Any]]:
    password = (home / "admin-password").read_text().strip()
    token = httpx.post(f"{base}/api/v1/auth/token", data={"username": "admin", "password": password}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    keys = httpx.get(f"{base}/api/v1/keys", headers=headers).json()
    return [key for key in keys if key["name"].startswith("built-in simulator")]


def test_a_second_tds_up_is_refused_and_the_first_keeps_running(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port, simulator = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = _environment(home, port, simulator)
    first_log = tmp_path / "first.log"
    with first_log.open("wb") as log:
        first = subprocess.Popen(
            [sys.executable, "-m", "tds_core", "up"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(first, port, first_log)
        keys = _simulator_keys(base, home)
        assert [k["revoked_at"] for k in keys] == [None]
        # no key on any command line (`ps` shows them to every user)
        for process in psutil.Process(first.pid).children(recursive=True):
            assert not any(API_KEY.search(part) for part in process.cmdline()), process.cmdline()

        second = subprocess.run(
            [sys.executable, "-m", "tds_core", "up"], env=env, cwd=tmp_path, capture_output=True, timeout=120
        )
        said = (second.stdout + second.stderr).decode()
        assert second.returncode == 2, said
        assert f"already running on 127.0.0.1:{port} (pid {first.pid})" in " ".join(said.split()), said
        assert "Errno 98" not in said and "TDS Core on http" not in said

        assert first.poll() is None
        # the running simulator's key (the one in its environment) was not revoked, and its
        # webhooks still get in (the key's last use moves on)
        deadline = time.monotonic() + 30
        while True:
            after = _simulator_keys(base, home)
            assert [(k["id"], k["revoked_at"]) for k in after] == [(keys[0]["id"], None)]
            if after[0]["last_used_at"] and after[0]["last_used_at"] != keys[0]["last_used_at"]:
                break
            assert time.monotonic() < deadline, "the simulator's webhooks stopped getting in"
            time.sleep(0.5)
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGTERM)
            try:
                first.wait(timeout=60)
            except subprocess.TimeoutExpired:
                first.kill()
        for process in psutil.Process().children(recursive=True):
            process.kill()
    assert not (home / f"tds-up-{port}.json").exists()  # the claim ends with the run


def test_a_port_held_by_another_program_is_named(tmp_path: Path) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = _environment(tmp_path / "home", port, free_port())
        started = subprocess.run(
            [sys.executable, "-m", "tds_core", "up"], env=env, cwd=tmp_path, capture_output=True, timeout=60
        )
    said = " ".join((started.stdout + started.stderr).decode().split())
    assert started.returncode == 2, said
    assert f"the API port 127.0.0.1:{port} is in use by another program; use --port" in said
    assert not (tmp_path / "home" / "pgdata").exists()  # nothing was started or touched
