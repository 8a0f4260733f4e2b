"""The source is explicit: the simulator runs only when chosen, never as a fallback.

- ``TDS_SOURCE=simulator``, or (``TDS_SOURCE`` unset) development / test with no Zoho
  credential at all: the built-in simulator, and the log line says how it was chosen.
- Production, ``TDS_SOURCE=zoho``, or any run where some Zoho credentials are set but not all:
  the commands that talk to the source refuse to start with one line naming what is missing.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tds_core.settings import Settings

CREDENTIALS = (
    "TDS_ZOHO_ORGANIZATION_ID",
    "TDS_ZOHO_CLIENT_ID",
    "TDS_ZOHO_CLIENT_SECRET",
    "TDS_ZOHO_REFRESH_TOKEN",
)
PRODUCTION = {
    "env": "production",
    "jwt_secret": secrets.token_urlsafe(48),
    "secret_key": Fernet.generate_key().decode(),
}


def test_development_without_credentials_chooses_the_simulator(tmp_path: Path) -> None:
    settings = Settings(env="development", home=tmp_path, _env_file=None)  # type: ignore[call-arg]
    assert settings.uses_simulator and settings.source_problem() is None


def test_production_never_falls_back_to_the_simulator(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, _env_file=None, **PRODUCTION)  # type: ignore[call-arg, arg-type]
    assert not settings.uses_simulator
    problem = settings.source_problem()
    assert problem is not None and "TDS_ENV=production" in problem
    assert all(variable in problem for variable in CREDENTIALS)
    chosen = Settings(home=tmp_path, _env_file=None, source="simulator", **PRODUCTION)  # type: ignore[call-arg, arg-type]
    assert "TDS_SOURCE=simulator is refused when TDS_ENV=production" in (chosen.source_problem() or "")


def test_some_credentials_set_but_not_all_is_refused_not_simulated(tmp_path: Path) -> None:
    settings = Settings(
        env="development",
        home=tmp_path,
        zoho_organization_id="10234695",
        zoho_client_id="1000.X",
        _env_file=None,
    )  # type: ignore[call-arg]
    assert not settings.uses_simulator
    problem = settings.source_problem() or ""
    assert "missing TDS_ZOHO_CLIENT_SECRET, TDS_ZOHO_REFRESH_TOKEN" in problem
    assert "TDS_ZOHO_ORGANIZATION_ID" not in problem.split("missing", 1)[1]


def test_an_explicit_source_wins(tmp_path: Path) -> None:
    complete = {
        "zoho_organization_id": "1",
        "zoho_client_id": "2",
        "zoho_client_secret": "3",
        "zoho_refresh_token": "4",
    }
    simulated = Settings(env="development", home=tmp_path, source="simulator", _env_file=None, **complete)  # type: ignore[call-arg, arg-type]
    assert simulated.uses_simulator and simulated.source_problem() is None
    real = Settings(env="development", home=tmp_path, source="zoho", _env_file=None)  # type: ignore[call-arg]
    assert not real.uses_simulator and "TDS_SOURCE=zoho" in (real.source_problem() or "")


def tds(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TDS_")}
    return subprocess.run(
        [sys.executable, "-m", "tds_core", *args],
        env={**clean, "TDS_HOME": str(tmp_path), "TDS_LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    "command", [["up"], ["scheduler"], ["sync", "all"], ["reconcile", "contacts"], ["api"]]
)
def test_production_commands_without_credentials_exit_2_naming_what_is_missing(
    command: list[str], database_url: str, tmp_path: Path
) -> None:
    env: dict[str, Any] = {
        "TDS_DATABASE_URL": database_url,
        "TDS_ENV": "production",
        "TDS_JWT_SECRET": PRODUCTION["jwt_secret"],
        "TDS_SECRET_KEY": PRODUCTION["secret_key"],
        "TDS_ZOHO_ORGANIZATION_ID": "10234695",
    }
    result = tds(command, env, tmp_path)
    assert result.returncode == 2, (result.stdout[-2000:], result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("tds: configuration error: the Zoho source needs"), lines
    assert "TDS_ZOHO_CLIENT_ID, TDS_ZOHO_CLIENT_SECRET, TDS_ZOHO_REFRESH_TOKEN" in lines[0]
    assert "simulator" not in result.stdout.lower()


def test_development_with_partial_credentials_does_not_start_the_simulator(
    database_url: str, tmp_path: Path
) -> None:
    env = {"TDS_DATABASE_URL": database_url, "TDS_ENV": "development", "TDS_ZOHO_CLIENT_ID": "1000.X"}
    result = tds(["sync", "contacts"], env, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "some Zoho credentials are set" in result.stderr
    assert "TDS_SOURCE=simulator" in result.stderr  # the way to choose it, outside production
