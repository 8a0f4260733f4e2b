"""TDS_SECRET_KEY in the settings: invalid everywhere, placeholder outside development, required in
production; and the command line reports a bad one as one line with exit code 2."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

from tds_core.cli.environment import settings_problems
from tds_core.config.encryption import generate_key
from tds_core.settings import Settings

JWT = "k7Qp2vX9mR4tY8wZ1nB6cF3hJ5sL0dGa"
PLACEHOLDER = base64.urlsafe_b64encode(b"change-me-change-me-change-me-12").decode()


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, jwt_secret=JWT, **values)  # type: ignore[call-arg]


def test_a_generated_key_is_accepted_in_every_environment() -> None:
    key = generate_key()
    for env in ("development", "test", "production"):
        assert settings(env=env, secret_key=f"{key},{generate_key()}").secret_key is not None


def test_a_key_that_is_not_fernet_is_refused_everywhere() -> None:
    for env in ("development", "test", "production"):
        with pytest.raises(pydantic.ValidationError, match="is not a Fernet key") as caught:
            settings(env=env, secret_key="hunter2")
        assert "hunter2" not in settings_problems(caught.value)


@pytest.mark.parametrize("env", ["test", "production"])
def test_a_placeholder_key_is_refused_outside_development(env: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="placeholder"):
        settings(env=env, secret_key=PLACEHOLDER)


def test_a_placeholder_key_is_allowed_in_development() -> None:
    assert settings(env="development", secret_key=PLACEHOLDER).secret_key is not None


def test_production_requires_a_key() -> None:
    with pytest.raises(pydantic.ValidationError, match="TDS_SECRET_KEY must be set when TDS_ENV=production"):
        settings(env="production")
    with pytest.raises(pydantic.ValidationError, match="TDS_SECRET_KEY must be set"):
        settings(env="production", secret_key="")  # TDS_SECRET_KEY= is unset


def test_development_and_test_generate_a_key_when_none_is_set() -> None:
    assert settings(env="development").secret_key is None
    assert settings(env="test", secret_key="  ").secret_key is None


def run_tds(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TDS_")}
    return subprocess.run(
        [sys.executable, "-m", "tds_core", *args],
        env={**clean, "TDS_HOME": str(tmp_path), "COLUMNS": "300", **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"TDS_ENV": "production", "TDS_JWT_SECRET": JWT},
            "TDS_SECRET_KEY must be set when TDS_ENV=production",
        ),
        (
            {"TDS_ENV": "production", "TDS_JWT_SECRET": JWT, "TDS_SECRET_KEY": PLACEHOLDER},
            "TDS_SECRET_KEY: key 1 of 1 is a placeholder",
        ),
        ({"TDS_SECRET_KEY": "not-a-key"}, "TDS_SECRET_KEY: key 1 of 1 is not a Fernet key"),
    ],
)
def test_the_cli_refuses_to_start_with_one_line_and_exit_code_2(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    done = run_tds(tmp_path, "worker", **env)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert PLACEHOLDER not in done.stderr
