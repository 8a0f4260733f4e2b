"""Files a development installation keeps in ``TDS_HOME``: generated secrets shared by its
processes (``secret-key``, ``jwt-secret``).

Several processes start at once (``tds up`` spawns the API, the workers and the scheduler), so a
kept secret must appear whole or not at all: it is written to a private temporary file and then
hard-linked into place. ``link`` fails when the name exists, so exactly one process's secret wins
and every other process reads that one; nobody can read a file that exists but is still empty.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path


def kept_secret(path: Path, generate: Callable[[], str]) -> str:
    """The secret kept at ``path`` (mode 0600), generated and kept by the first caller."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.draft")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w") as out:
            out.write(generate())
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process kept its secret first
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
    return path.read_text().strip()
