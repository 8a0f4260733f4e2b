"""Start the processes under test, watch their memory, and always stop them.

Every child is started by us in its own session (so its process group id is its pid), tracked
by pid, and stopped when its phase ends or the benchmark fails: SIGTERM, then SIGKILL to its
whole process group after a grace period; any descendant still alive afterwards (e.g. a uvicorn
worker process or multiprocessing's resource tracker under ``tds api --processes N``) is
terminated, then killed, by pid.
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


def tree(process: psutil.Process) -> list[psutil.Process]:
    """``process`` and all its descendants (those that can still be read)."""
    with contextlib.suppress(psutil.Error):
        return [process, *process.children(recursive=True)]
    return [process]


class MemoryWatch:
    """Samples the RSS of registered processes and all their descendants every ``interval``
    seconds; keeps, per role, the peak of any single process and the peak total of one
    registered process's tree (a uvicorn supervisor plus its worker processes)."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak_bytes: dict[str, int] = {}
        self.peak_tree_bytes: dict[str, int] = {}
        self.peak_tree_size: dict[str, int] = {}
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
        for role, root in watched:
            total = members = 0
            for process in tree(root):
                with contextlib.suppress(psutil.Error):
                    rss = int(process.memory_info().rss)
                    total += rss
                    members += 1
                    if rss > self.peak_bytes.get(role, 0):
                        self.peak_bytes[role] = rss
            if total > self.peak_tree_bytes.get(role, 0):
                self.peak_tree_bytes[role] = total
            self.peak_tree_size[role] = max(self.peak_tree_size.get(role, 0), members)

    def peak_mb(self, role: str) -> float | None:
        """The peak RSS of any single process of ``role`` (children included)."""
        value = self.peak_bytes.get(role)
        return value / 1_048_576 if value is not None else None

    def peak_tree_mb(self, role: str) -> float | None:
        """The peak summed RSS of one process of ``role`` and its descendants."""
        value = self.peak_tree_bytes.get(role)
        return value / 1_048_576 if value is not None else None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()


class CpuMeter:
    """CPU seconds (user + system) used by groups of processes between start() and stop().

    A group is a list of pids; ``tree=True`` adds all their descendants (PostgreSQL backends,
    uvicorn's worker processes under a multi-process API)."""

    def __init__(self, groups: dict[str, tuple[list[int], bool]]) -> None:
        self.groups = groups
        self._start: dict[str, dict[int, float]] = {}
        self.seconds: dict[str, float] = {}
        self.per_pid: dict[str, dict[int, float]] = {}  # CPU seconds per process, per group
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
            self.per_pid[name] = {pid: value - before.get(pid, 0.0) for pid, value in after.items()}
            self.seconds[name] = sum(self.per_pid[name].values())


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
        """SIGTERM, wait, SIGKILL the process group; then stop any descendant left; returns the
        exit code of ``child`` itself."""
        self.memory.forget(child.pid)
        descendants: list[psutil.Process] = []
        try:
            if child.alive():
                # Known before the signal: once the parent is gone, orphans are no longer its children.
                with contextlib.suppress(psutil.Error):
                    descendants = psutil.Process(child.pid).children(recursive=True)
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)
                try:
                    child.process.wait(grace)
                except subprocess.TimeoutExpired:
                    _kill_group(child.pid)
                    with contextlib.suppress(ProcessLookupError):
                        child.process.kill()
                    child.process.wait(5)
        finally:
            _stop_leftovers(child.pid, descendants)
            child.log_file.close()
            if child in self.children:
                self.children.remove(child)
        return child.process.returncode

    def stop_all(self) -> None:
        for child in list(self.children):
            with contextlib.suppress(Exception):  # one failure must not leave the others running
                self.stop(child, grace=10.0)


def _kill_group(pgid: int) -> None:
    """SIGKILL every process still in the group ``pgid`` (a child started with start_new_session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _stop_leftovers(pgid: int, descendants: list[psutil.Process], grace: float = 5.0) -> None:
    """After the group leader ``pgid`` has exited: terminate, then kill, whatever of its former
    descendants still runs, and finally anything left in its process group."""
    alive = []
    for process in descendants:
        with contextlib.suppress(psutil.Error):
            if process.is_running():  # psutil also checks the pid was not reused
                process.terminate()
                alive.append(process)
    if alive:
        _, still = psutil.wait_procs(alive, timeout=grace)
        for process in still:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(still, timeout=grace)
    _kill_group(pgid)


def serving_processes(pid: int) -> list[psutil.Process]:
    """The worker processes of a uvicorn supervisor (multiprocessing spawn children), without
    multiprocessing's resource tracker."""
    with contextlib.suppress(psutil.Error):
        found = []
        for process in psutil.Process(pid).children():
            with contextlib.suppress(psutil.Error):
                if "resource_tracker" not in " ".join(process.cmdline()):
                    found.append(process)
        return found
    return []


async def wait_serving(child: Child, port: int, count: int, path: str, timeout: float = 60.0) -> None:
    """Wait until each of ``count`` uvicorn worker processes under ``child`` has accepted and
    answered a connection on ``port`` (they share one listening socket, so a process that is
    still starting would otherwise leave all 32 load connections to the others)."""
    deadline = time.monotonic() + timeout
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.role} exited ({child.process.returncode}):\n{child.tail()}")
        workers = serving_processes(child.pid)
        held: list[asyncio.StreamWriter] = []
        try:
            if len(workers) >= count:
                for _ in range(4 * count):  # one at a time, each held open once answered
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    held.append(writer)
                    writer.write(request)
                    await writer.drain()
                    await asyncio.wait_for(reader.readline(), 10)
                serving = 0
                for process in workers:
                    with contextlib.suppress(psutil.Error):
                        if any(
                            c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port
                            for c in process.net_connections("tcp")
                        ):
                            serving += 1
                if serving >= count:
                    return
        except (OSError, TimeoutError):
            pass
        finally:
            for writer in held:
                writer.close()
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{count} API processes not all serving on port {port} after {timeout:.0f}s")


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
