"""The C load client: wrk (Debian package ``wrk``) replaying a prepared file of webhooks.

aiohttp costs about 0.25 ms of CPU per request on this machine, on the same two cores as the
API and PostgreSQL; wrk costs a fraction of that, so more of the machine is left to what is
measured (BENCHMARKING.md: "the load generator must not be the bottleneck"). Each event is
sent exactly once over ``connections`` keep-alive connections from one wrk thread
(``bench/lua/replay.lua``); the clock runs from wrk's first request to the last webhook's
answer. Latency percentiles are wrk's (they also count the few health probes sent by idle
connections while the last webhooks are answered).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import orjson
import psutil

from bench.load import LoadResult
from bench.payloads import Event

SCRIPT = Path(__file__).parent / "lua" / "replay.lua"


def available() -> bool:
    return shutil.which("wrk") is not None


def _cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _write(events: Sequence[Event], path: Path) -> None:
    with path.open("wb") as file:
        for event in events:
            file.write(f"{event.path}\n{len(event.body)}\n".encode())
            file.write(event.body)
            file.write(b"\n")


def closed_loop(
    url: str,
    events: Sequence[Event],
    headers: dict[str, str],
    *,
    connections: int = 32,
    max_seconds: float = 300.0,
) -> LoadResult:
    """Send every event once, ``connections`` at a time; like ``bench.load.closed_loop``."""
    with tempfile.TemporaryDirectory(prefix="tds-wrk-") as scratch:
        requests = Path(scratch) / "requests"
        _write(events, requests)
        command = [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(max_seconds) + 60}s",
            "--timeout",
            "30s",
            "-s",
            str(SCRIPT),
            url,
            "--",
            str(requests),
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        lines: list[str] = []
        result = LoadResult(sent=len(events), elapsed_s=0.0)
        started = finished = cpu_before = 0.0
        timer = threading.Timer(max_seconds + 30, process.send_signal, (signal.SIGINT,))
        timer.start()
        try:
            for raw in process.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                lines.append(line)
                if line.startswith("READY"):
                    started = time.perf_counter()
                    result.started_wall = time.time()
                    cpu_before = _cpu(process.pid)
                elif line.startswith("DONE"):
                    finished = time.perf_counter()
                    result.client_cpu_s = _cpu(process.pid) - cpu_before
                    for part in line.split()[1:]:
                        code, answered = part.split("=")
                        result.statuses[int(code)] += int(answered)
                    process.send_signal(signal.SIGINT)
                elif line.startswith("SUMMARY"):
                    summary = orjson.loads(line.split(" ", 1)[1])
                    result.percentiles_ms = {
                        0.5: summary["p50"] / 1000,
                        0.9: summary["p90"] / 1000,
                        0.95: summary["p95"] / 1000,
                        0.99: summary["p99"] / 1000,
                        1.0: summary["max"] / 1000,
                    }
                    result.summary_mean_ms = summary["mean"] / 1000
                    errors = Counter(
                        {k: summary[k] for k in ("connect", "read", "write", "timeout") if summary[k]}
                    )
                    for kind, count in errors.items():
                        result.statuses[f"wrk {kind} errors"] += count
        finally:
            timer.cancel()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            if process.poll() is None:
                process.kill()
        if not finished:
            tail = "\n".join(lines[-20:])
            raise RuntimeError(f"wrk did not answer every webhook within {max_seconds:.0f} s:\n{tail}")
        result.elapsed_s = finished - started
        return result
