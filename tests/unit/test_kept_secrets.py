"""Processes that start together agree on the secrets they keep in ``TDS_HOME``.

``tds up`` starts the API, the workers and the scheduler at once; on a new home each of them
finds no ``secret-key`` and makes one. The soak once failed because a process read the file
between another's create and write and saw an empty key ("TDS_SECRET_KEY is empty").
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from tds_core.access.tokens import development_secret
from tds_core.config.encryption import development_key, invalid_keys
from tds_core.config.home import kept_secret

RACERS = 6


def _slow_secret() -> str:
    time.sleep(0.05)  # a slow generator holds the window between "no file" and "file written" open
    return f"secret-of-{multiprocessing.current_process().name}"


def _race(path: str, start: multiprocessing.synchronize.Event, found: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    start.wait()
    found.put(kept_secret(Path(path), _slow_secret))


def test_racing_processes_keep_one_secret_and_none_reads_it_half_written(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    start, found = context.Event(), context.Queue()
    path = tmp_path / "home" / "secret"
    racers = [context.Process(target=_race, args=(str(path), start, found)) for _ in range(RACERS)]
    for racer in racers:
        racer.start()
    start.set()
    secrets = [found.get(timeout=60) for _ in racers]
    for racer in racers:
        racer.join(timeout=60)
    assert all(secrets), secrets  # nobody read an empty file
    assert len(set(secrets)) == 1, secrets  # and all of them read the one that was kept
    assert path.read_text() == secrets[0]
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret"]  # no draft left behind


def test_a_kept_secret_is_read_back_not_regenerated(tmp_path: Path) -> None:
    key = development_key(tmp_path)
    assert invalid_keys(key) is None
    assert development_key(tmp_path) == key
    jwt_secret = development_secret(tmp_path)
    assert jwt_secret and development_secret(tmp_path) == jwt_secret
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o777 == 0o600
