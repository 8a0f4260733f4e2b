"""The environment every ``tds`` command runs in: settings, a database connection, JSON output,
who acts."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import pydantic
import typer
from rich.console import Console

from tds_core import app as composition
from tds_core.access.actions import Actor
from tds_core.db.pool import connect
from tds_core.errors import ConfigurationError
from tds_core.observability.logging import configure
from tds_core.settings import Settings

console = Console()
T = TypeVar("T")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def settings_problems(error: pydantic.ValidationError) -> str:
    """Pydantic's errors about the settings as one line naming the variables (never the values)."""
    problems = []
    for item in error.errors():
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        loc = item.get("loc", ())
        named = loc and not message.startswith("TDS_")
        problems.append(f"TDS_{str(loc[0]).upper()}: {message}" if named else message)
    return "; ".join(problems)


def settings_from_env() -> Settings:
    """The settings; an invalid one is a :class:`ConfigurationError` (one line, exit code 2)."""
    try:
        settings = Settings()
    except pydantic.ValidationError as exc:
        raise ConfigurationError(settings_problems(exc)) from None
    configure(settings.log_level, settings.log_format)
    return settings


def database_url(settings: Settings) -> str:
    return composition.database_url(settings)


def with_connection(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    url = database_url(settings)

    async def run() -> T:
        connection = await connect(url, application_name="tds-cli")
        try:
            return await work(connection)
        finally:
            await connection.close()

    return asyncio.run(run())


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, default=str, indent=2))


def who(by: str | None) -> str:
    return by or os.environ.get("TDS_OPERATOR") or getpass.getuser()


def cli_actor(by: str | None) -> Actor:
    """The operator acting from the command line, for ``tds_operator_actions``."""
    return Actor(name=who(by), role=None, via="cli")
