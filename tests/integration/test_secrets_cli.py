"""``tds secrets`` and the start-up key check, as an operator runs them: real ``tds`` processes
against a real PostgreSQL; values go in through stdin and never come out."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tds_core.config.encryption import generate_key, invalid_keys
from tds_core.db.pool import connect

A, B = generate_key(), generate_key()
TOKEN = "1000.refresh-token-from-stdin"
WRONG_KEY = (
    "TDS_SECRET_KEY cannot decrypt the secrets stored in this database: it is not the key they were"
    " written with (keys tried: 1)."
)


@pytest.fixture
def tds(database_url: str, tmp_path: Path) -> Any:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TDS_")}

    def run(*args: str, key: str | None = A, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        variables = {
            **clean,
            "TDS_ENV": "test",
            "TDS_HOME": str(tmp_path),
            "TDS_DATABASE_URL": database_url,
            "TDS_LOG_LEVEL": "WARNING",
            "TDS_OPERATOR": "ops-lead",
            "COLUMNS": "300",
            **env,
        }
        if key is not None:
            variables["TDS_SECRET_KEY"] = key
        return subprocess.run(
            [sys.executable, "-m", "tds_core", *args],
            input=stdin,
            env=variables,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def assert_refused_with_one_line(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_set_list_and_rotate_from_the_command_line(tds: Any) -> None:
    stored = tds("secrets", "set", "zoho_refresh_token", "--json", stdin=TOKEN + "\n")
    assert stored.returncode == 0, stored.stderr
    assert json.loads(stored.stdout)["source"] == "database"
    assert json.loads(stored.stdout)["updated_by"] == "ops-lead"

    listed = tds("secrets", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {s["name"]: s["source"] for s in json.loads(listed.stdout)} == {
        "zoho_client_secret": "unset",
        "zoho_refresh_token": "database",
        "zoho_webhook_secret": "unset",
    }
    overridden = tds("secrets", "list", TDS_ZOHO_REFRESH_TOKEN="1000.from-env")
    assert "environment" in overridden.stdout and "zoho_refresh_token" in overridden.stdout

    rotated = tds("secrets", "rotate", "--json", key=f"{B},{A}")
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout)["secrets_rotated"] == 2  # the token and the key-check canary
    again = tds("secrets", "rotate", "--json", key=f"{B},{A}")
    assert json.loads(again.stdout)["secrets_rotated"] == 0  # idempotent
    assert tds("secrets", "list", key=B).returncode == 0  # the new key alone reads everything
    assert_refused_with_one_line(tds("secrets", "list", key=A), WRONG_KEY)

    everything = "".join(d.stdout + d.stderr for d in (stored, listed, overridden, rotated, again))
    assert TOKEN not in everything


def test_a_value_is_never_taken_from_the_command_line(tds: Any) -> None:
    done = tds("secrets", "set", "zoho_refresh_token", TOKEN)
    assert done.returncode == 2  # typer: unexpected extra argument
    assert tds("secrets", "list", "--json").returncode == 0
    unknown = tds("secrets", "set", "jwt_secret", stdin="x" * 40)
    assert unknown.returncode == 1 and "zoho_refresh_token" in unknown.stdout
    short = tds("secrets", "set", "zoho_webhook_secret", stdin="short")
    assert short.returncode == 2 and "at least 12 characters" in short.stdout


@pytest.mark.parametrize("command", [["worker"], ["scheduler"], ["sync", "items"], ["config", "get"]])
def test_a_wrong_key_fails_fast_at_start_with_a_clear_message(tds: Any, command: list[str]) -> None:
    assert tds("secrets", "list").returncode == 0  # the first start writes the key check under A
    done = tds(*command, key=B)
    if command == ["config", "get"]:  # reading masked values needs no key
        assert done.returncode == 0, done.stderr
        return
    assert_refused_with_one_line(done, WRONG_KEY)


def test_generate_key_prints_a_usable_key(tds: Any) -> None:
    done = tds("secrets", "generate-key", key=None)
    assert done.returncode == 0
    assert invalid_keys(done.stdout.strip()) is None


def test_config_set_stores_channel_secrets_encrypted(tds: Any, database_url: str) -> None:
    channels = [{"name": "ops", "type": "slack", "url": "https://hooks.slack.test/services/T/B/cli-secret"}]
    done = tds("config", "set", "alerts.channels", json.dumps(channels), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["value"] == [{"name": "ops", "type": "slack", "url": "********"}]

    async def raw() -> str:
        connection = await connect(database_url)
        try:
            return str(
                await connection.fetchval("SELECT string_agg(value::text, ' ') FROM tds_configuration")
            )
        finally:
            await connection.close()

    text = asyncio.run(raw())
    assert "cli-secret" not in text and "enc:v1:" in text
    assert_refused_with_one_line(tds("config", "set", "alerts.channels", "[]", key=B), WRONG_KEY)
