"""``tds users``: create with --password-stdin, list, change role and password, disable; each
change recorded in the operator action log with the CLI as the door."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from tds_core.access import users
from tds_core.cli.main import app
from tds_core.db.pool import connect


@pytest.fixture
def tds(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("TDS_DATABASE_URL", database_url)
    monkeypatch.setenv("TDS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("TDS_OPERATOR", "ops-lead")
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None, code: int = 0) -> Any:
        result = runner.invoke(app, list(args), input=stdin)
        assert result.exit_code == code, result.output
        return result

    yield run
    structlog.reset_defaults()


def fetch(database_url: str, query: str) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        connection = await connect(database_url)
        try:
            return [dict(r) for r in await connection.fetch(query)]
        finally:
            await connection.close()

    return asyncio.run(go())


def authenticate(database_url: str, username: str, password: str) -> Any:
    async def go() -> Any:
        connection = await connect(database_url)
        try:
            return await users.authenticate(connection, username, password)
        finally:
            await connection.close()

    return asyncio.run(go())


def test_users_lifecycle_from_the_command_line(tds: Any, database_url: str) -> None:
    made = json.loads(
        tds(
            "users",
            "create",
            "--username",
            "ana",
            "--role",
            "operator",
            "--password-stdin",
            "--json",
            stdin="a good long password\n",
        ).output
    )
    assert made["username"] == "ana" and made["role"] == "operator"
    assert authenticate(database_url, "ana", "a good long password") is not None
    tds(
        "users",
        "create",
        "--username",
        "ana",
        "--role",
        "viewer",
        "--password-stdin",
        stdin="another password\n",
        code=1,
    )
    tds(
        "users", "create", "--username", "bo", "--role", "viewer", "--password-stdin", stdin="short\n", code=1
    )

    listed = json.loads(tds("users", "list", "--json").output)
    assert [(u["username"], u["role"]) for u in listed] == [("ana", "operator")]
    assert "password_hash" not in listed[0]

    tds("users", "set-role", "ana", "admin")
    tds("users", "password", "ana", "--password-stdin", stdin="the next long password\n")
    assert authenticate(database_url, "ana", "a good long password") is None
    assert authenticate(database_url, "ana", "the next long password").role.value == "admin"
    tds("users", "disable", "ana")
    assert authenticate(database_url, "ana", "the next long password") is None
    tds("users", "enable", "ana")
    assert authenticate(database_url, "ana", "the next long password") is not None
    tds("users", "disable", "nobody", code=1)

    actions = fetch(
        database_url, "SELECT actor, via, action, target, details FROM tds_operator_actions ORDER BY id"
    )
    assert [a["action"] for a in actions] == ["user.create"] + ["user.update"] * 4
    assert {(a["actor"], a["via"], a["target"]) for a in actions} == {("ops-lead", "cli", "ana")}
    assert "next long password" not in json.dumps(actions, default=str)
