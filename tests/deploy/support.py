"""Paths and small parsers shared by the deployment checks (no Docker engine, no systemd PID 1:
the files are validated statically, with the real tools where this machine has them)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tds_core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKER = DEPLOY / "docker"
NGINX = DEPLOY / "nginx"
SYSTEMD = DEPLOY / "systemd"
BACKUP = DEPLOY / "backup"
DOCS = ROOT / "docs"


def env_name(field: str) -> str:
    """The environment variable of a Settings field."""
    return f"TDS_{field.upper()}"


def env_default(field: str) -> str:
    """A Settings field's default as the docs write it: ``unset`` for None, ``false``/``true``,
    whole floats without ``.0``, lists as JSON."""
    value: Any = Settings.model_fields[field].default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def unit_sections(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit as {section: [(key, value), ...]} (keys may repeat; comments dropped)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        key, _, value = line.partition("=")
        sections[current].append((key.strip(), value.strip()))
    return sections


def unit_value(path: Path, section: str, key: str) -> str | None:
    """The last value of ``key`` in ``section`` (systemd's rule for single-valued keys)."""
    values = [v for k, v in unit_sections(path).get(section, []) if k == key]
    return values[-1] if values else None


def seconds(duration: str) -> float:
    """A duration such as ``30``, ``30s``, ``1m30s`` or ``6h`` in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    if re.fullmatch(r"\d+(\.\d+)?", duration):
        return float(duration)
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration):
        total += float(number) * units[unit]
    return total
