"""The test-sized soak: ``python -m bench.soak`` for 60 s (2 API processes, 4 workers and the
scheduler on a private PostgreSQL; 500,000 changes an hour with duplicates, reordering and
drops; workers and an API SIGKILLed, PostgreSQL restarted, the ERP refusing writes), then the
invariants it prints. Asserts the invariants, never the timings (``make soak`` is the long run;
its numbers are in docs/performance.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(900)]


def test_a_minute_of_load_and_faults_loses_duplicates_and_rolls_back_nothing(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TDS_") or k.startswith("TDS_TEST_PG")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.soak",
            "--duration",
            "60",
            "--worker-kill-every",
            "25",
            "--json",
            str(out),
            "--workdir",
            str(tmp_path / "run"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    report = done.stdout[-6000:] + "\n" + done.stderr[-4000:]
    assert out.exists(), report
    results = json.loads(out.read_text())
    invariants = results["invariants"]
    for name in (
        "accepted_events_lost",
        "applied_twice",
        "stale_overwrites",
        "rows_behind_newest_event",
        "erp_equals_ground_truth",
        "dlq_older_than_24h",
        "faults_recovered",
        "killed_workers_events_finished",
    ):
        assert invariants[name]["ok"], (name, invariants[name], report)
    # the faults really happened, and the traffic really was lossy
    kinds = [fault["kind"] for fault in results["faults"]]
    assert kinds.count("worker SIGKILL") >= 2, kinds
    for kind in ("API SIGKILL", "PostgreSQL restart", "ERP failure"):
        assert kind in kinds, kinds
    traffic = results["traffic"]
    assert traffic["dropped"] > 0 and traffic["duplicates"] > 0 and traffic["reordered"] > 0, traffic
    assert invariants["accepted_events_lost"]["of"] > 1000, invariants
    assert done.returncode == 0, report
