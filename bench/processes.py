"""Start the processes under test, watch their memory, and always stop them.

Every child is started by us, tracked by pid, and stopped by pid (SIGTERM, then SIGKILL after
a grace period) when its phase ends or the benchmark fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Child:
    role: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


class MemoryWatch:
    """Samples the RSS of registered processes every ``interval`` seconds; keeps the peak per role."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak_bytes: dict[str, int] = {}
        self._watched: dict[int, tuple[str, psutil.Process]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def watch(self, role: str, pid: int) -> None:
        with self._lock, contextlib.suppress(psutil.Error):
            self._watched[pid] = (role, psutil.Process(pid))

    def forget(self, pid: int) -> None:
        self.sample()
        with self._lock:
            self._watched.pop(pid, None)

    def sample(self) -> None:
        with self._lock:
            watched = list(self._watched.values())
        for role, process in watched:
            with contextlib.suppress(psutil.Error):
                rss = int(process.memory_info().rss)
                if rss > self.peak_bytes.get(role, 0):
                    self.peak_bytes[role] = rss

    def peak_mb(self, role: str) -> float | None:
        value = self.peak_bytes.get(role)
        return value / 1_048_576 if value is not None else None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()


class CpuMeter:
    """CPU seconds (user + system) used by groups of processes between start() and stop().

    A group is a list of pids; ``tree=True`` adds their children (PostgreSQL backends)."""

    def __init__(self, groups: dict[str, tuple[list[int], bool]]) -> None:
        self.groups = groups
        self._start: dict[str, dict[int, float]] = {}
        self.seconds: dict[str, float] = {}
        self.wall = 0.0
        self._started = 0.0

    def _read(self, pids: list[int], tree: bool) -> dict[int, float]:
        used: dict[int, float] = {}
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                members = [process, *(process.children(recursive=True) if tree else [])]
                for member in members:
                    with contextlib.suppress(psutil.Error):
                        times = member.cpu_times()
                        used[member.pid] = times.user + times.system
        return used

    def start(self) -> None:
        self._start = {name: self._read(*group) for name, group in self.groups.items()}
        self._started = time.monotonic()

    def stop(self) -> None:
        self.wall = time.monotonic() - self._started
        for name, group in self.groups.items():
            before = self._start.get(name, {})
            after = self._read(*group)
            self.seconds[name] = sum(value - before.get(pid, 0.0) for pid, value in after.items())


@dataclass
class Processes:
    """The children of one benchmark run."""

    logs: Path
    memory: MemoryWatch
    children: list[Child] = field(default_factory=list)

    def spawn(self, role: str, args: list[str], env: dict[str, str], *, name: str | None = None) -> Child:
        self.logs.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{name or role}-{len(self.children)}.log"
        log_file = log_path.open("wb")
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C on the terminal reaches only us; we stop them
        )
        child = Child(role, process, log_path, log_file)
        self.children.append(child)
        self.memory.watch(role, process.pid)
        return child

    def stop(self, child: Child, grace: float = 20.0) -> int | None:
        """SIGTERM, wait, SIGKILL; returns the exit code."""
        self.memory.forget(child.pid)
        if child.alive():
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
            try:
                child.process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                child.process.wait(5)
        child.log_file.close()
        if child in self.children:
            self.children.remove(child)
        return child.process.returncode

    def stop_all(self) -> None:
        for child in list(self.children):
            self.stop(child, grace=10.0)


def tds_env(database_url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TDS_")}
    env.update(TDS_DATABASE_URL=database_url, TDS_HOME=str(home), TDS_LOG_FORMAT="json")
    return env


def create_key(database_url: str, home: Path) -> str:
    """``tds keys create --name bench --json`` → the key."""
    done = subprocess.run(
        [sys.executable, "-m", "tds_core", "keys", "create", "--name", "bench", "--json"],
        cwd=ROOT,
        env=tds_env(database_url, home),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    text = done.stdout
    key: str = json.loads(text[text.index("{") : text.rindex("}") + 1])["key"]
    return key


async def wait_http(child: Child, url: str, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers 200 (or the child dies, or ``timeout``)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError(f"{child.role} exited ({child.process.returncode}):\n{child.tail()}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{child.role} not ready at {url} after {timeout:.0f}s:\n{child.tail()}")
