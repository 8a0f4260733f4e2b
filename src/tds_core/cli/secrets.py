"""``tds secrets``: secrets stored encrypted in the database: set, list, delete, rotate, generate-key.

``tds secrets set NAME`` reads the value from standard input (``printf %s "$TOKEN" | tds secrets
set zoho_refresh_token``) or, at a terminal, from a hidden prompt; never from the command line,
where it would land in the shell history and the process list. Values are never printed. Every
command first checks that ``TDS_SECRET_KEY`` reads what is stored (exit 2 with one line if not).
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tds_core import app as composition
from tds_core.cli.environment import (
    JsonOpt,
    cli_actor,
    console,
    print_json,
    settings_from_env,
    with_connection,
)
from tds_core.config.encryption import generate_key
from tds_core.db.connection import Connection
from tds_core.operations import secrets
from tds_core.operations.secrets import RotationResult, SecretSource

secrets_app = typer.Typer(
    help="Secrets stored encrypted in the database (TDS_SECRET_KEY): set, list, delete, rotate.",
    no_args_is_help=True,
)
NameArg = Annotated[str, typer.Argument(help=f"One of {', '.join(secrets.SECRET_NAMES)}.")]
ByOpt = Annotated[str | None, typer.Option(help="Who acts (default: your user name).")]


def read_value(name: str) -> str:
    """The secret from standard input (one trailing newline dropped) or a hidden prompt."""
    if not sys.stdin.isatty():
        text = sys.stdin.read()
        return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    value = getpass.getpass(f"{name}: ")
    if getpass.getpass(f"{name} again: ") != value:
        console.print("[red]the two values differ; nothing stored[/red]")
        raise typer.Exit(1)
    return value


def _sources_table(rows: list[SecretSource]) -> Table:
    table = Table()
    for column in ("name", "value from", "stored", "updated", "by", "variable"):
        table.add_column(column, no_wrap=column != "by")
    for row in rows:
        table.add_row(
            row.name,
            row.source,
            "yes" if row.stored else "no",
            str(row.updated_at or "")[:19],
            row.updated_by or "",
            row.environment_variable,
        )
    return table


@secrets_app.command("set")
def secrets_set(name: NameArg, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """Store one secret encrypted (value from stdin or a hidden prompt; never an argument).
    Running processes use it after a restart; an environment variable still wins."""
    if name not in secrets.SECRET_NAMES:
        console.print(f"[red]no secret named {name!r}: one of {', '.join(secrets.SECRET_NAMES)}[/red]")
        raise typer.Exit(1)
    value = read_value(name)
    settings = settings_from_env()
    environment = composition.environment_secrets(settings)

    async def work(connection: Connection) -> list[SecretSource]:
        keyring = (await composition.unlock_secrets(settings, connection)).keyring
        await secrets.set_secret(connection, name, value, cli_actor(by), keyring=keyring)
        return await secrets.sources(connection, environment)

    try:
        rows = with_connection(settings, work)
    except secrets.InvalidSecret as exc:
        console.print(str(exc), markup=False, style="red")
        raise typer.Exit(2) from None
    row = next(r for r in rows if r.name == name)
    if as_json:
        print_json(row.as_dict())
        return
    console.print(f"{name} stored encrypted ({str(row.updated_at)[:19]} by {row.updated_by})", markup=False)
    if row.source == "environment":
        console.print(
            f"[yellow]{row.environment_variable} is set in this environment and wins over the stored "
            "value[/yellow]"
        )
    else:
        console.print("running processes use it after a restart", style="dim")


@secrets_app.command("list")
def secrets_list(as_json: JsonOpt = False) -> None:
    """Each storable secret: where its effective value comes from (environment or database), never values."""
    settings = settings_from_env()
    environment = composition.environment_secrets(settings)

    async def work(connection: Connection) -> list[SecretSource]:
        await composition.unlock_secrets(settings, connection)
        return await secrets.sources(connection, environment)

    rows = with_connection(settings, work)
    if as_json:
        print_json([row.as_dict() for row in rows])
        return
    console.print(_sources_table(rows))


@secrets_app.command("delete")
def secrets_delete(name: NameArg, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """Forget a stored secret (the environment's value, if any, is used after a restart)."""
    settings = settings_from_env()

    async def work(connection: Connection) -> bool:
        await composition.unlock_secrets(settings, connection)
        return await secrets.delete_secret(connection, name, cli_actor(by))

    try:
        deleted = with_connection(settings, work)
    except secrets.UnknownSecret as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        print_json({"name": name, "deleted": deleted})
    else:
        console.print(f"{name} deleted" if deleted else f"no stored value for {name}")
    if not deleted:
        raise typer.Exit(1)


@secrets_app.command("rotate")
def secrets_rotate(by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """Re-encrypt every stored secret (tds_secrets and every configuration version) under the first
    key of TDS_SECRET_KEY, and encrypt any left in clear. Idempotent. Rotate a key by setting
    TDS_SECRET_KEY=NEW,OLD, running this, then dropping OLD (docs/runbooks/secrets-rotation.md)."""
    settings = settings_from_env()

    async def work(connection: Connection) -> RotationResult:
        keyring = composition.secret_keyring(settings)
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=as_json,
        ) as progress:
            task = progress.add_task("checking the key", total=None)

            def show(result: RotationResult) -> None:
                progress.update(
                    task,
                    description=f"{result.secrets} stored secrets ({result.secrets_rotated} re-encrypted), "
                    f"{result.configuration_versions} configuration versions "
                    f"({result.configuration_versions_rewritten} rewritten)",
                )

            outcome = await secrets.rotate(connection, keyring, cli_actor(by), progress=show)
            show(outcome)
            return outcome

    result = with_connection(settings, work)
    if as_json:
        print_json({"keys": composition.secret_keyring(settings).size, **result.as_dict()})
        return
    console.print(
        f"re-encrypted under the first key: {result.secrets_rotated} of {result.secrets} stored secrets, "
        f"{result.values_rotated} configuration secrets in {result.configuration_versions_rewritten} of "
        f"{result.configuration_versions} versions ({result.values_encrypted} were in clear)"
    )


@secrets_app.command("generate-key")
def secrets_generate_key() -> None:
    """Print a new random key for TDS_SECRET_KEY (nothing is stored)."""
    typer.echo(generate_key())
