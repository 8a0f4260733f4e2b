"""``tds config``: runtime configuration: get, set (validated, versioned, recorded), history.

Values are JSON (``tds config set worker.batch_size 50``, ``tds config set alerts.channels
'[...]'``); a value that is not JSON is taken as a string (``tds config set schedule.pull_cron
'*/5 * * * *'``). Secrets are shown masked. Running workers pick a change up within moments.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
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
from tds_core.db.connection import Connection
from tds_core.operations import configuration
from tds_core.operations.configuration import Change, Entry

config_app = typer.Typer(
    help="Runtime configuration (tds_configuration): get, set, history.", no_args_is_help=True
)


def parse_value(text: str) -> Any:
    """JSON when it parses, else the text itself as a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _table(entries: list[Entry], *, history: bool = False) -> Table:
    """Keys (or versions, for a history) never wrap; long values are cut to fit."""
    table = Table()
    table.add_column("version" if history else "key", no_wrap=True)
    table.add_column("value", overflow="ellipsis", max_width=60)
    table.add_column("updated", no_wrap=True)
    table.add_column("by")
    if history:
        table.add_column("note")
    for entry in entries:
        cells = [str(entry.version) if history else entry.key, _shown(entry.value)]
        cells += [str(entry.updated_at)[:19], entry.updated_by]
        table.add_row(*cells, *([entry.note or ""] if history else []))
    return table


@config_app.command("get")
def config_get(
    key: Annotated[str | None, typer.Argument(help="One key (default: every key).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the current configuration (secrets masked)."""
    settings = settings_from_env()

    async def work(connection: Connection) -> list[Entry]:
        if key is None:
            return await configuration.current(connection)
        return [await configuration.get(connection, key)]

    try:
        entries = with_connection(settings, work)
    except configuration.UnknownKey:
        console.print(f"[red]no configuration key {key!r}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        print_json(entries[0].as_dict() if key is not None else [e.as_dict() for e in entries])
        return
    if key is not None:
        entry = entries[0]
        console.print(f"{entry.key} = {_shown(entry.value)}", markup=False)
        console.print(
            f"version {entry.version}, {str(entry.updated_at)[:19]} by {entry.updated_by}:"
            f" {entry.description}",
            markup=False,
            style="dim",
        )
        return
    console.print(_table(entries))


@config_app.command("set")
def config_set(
    key: Annotated[str, typer.Argument(help="The dotted key, e.g. worker.batch_size.")],
    value: Annotated[str, typer.Argument(help="The new value: JSON, or else taken as a string.")],
    note: Annotated[str | None, typer.Option(help="Why (kept with the version).")] = None,
    by: Annotated[str | None, typer.Option(help="Who changes it (default: your user name).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change one key: validated against the whole configuration, stored as a new version,
    recorded with who and when, and picked up by running workers without a restart."""
    settings = settings_from_env()
    parsed = parse_value(value)

    async def work(connection: Connection) -> Change:
        keyring = (await composition.unlock_secrets(settings, connection)).keyring
        return await configuration.set_value(connection, key, parsed, cli_actor(by), note, keyring=keyring)

    try:
        change = with_connection(settings, work)
    except configuration.UnknownKey:
        console.print(f"[red]no configuration key {key!r}[/red]")
        raise typer.Exit(1) from None
    except configuration.InvalidChange as exc:
        if as_json:
            print_json({"error": f"invalid value for {key}", "reasons": exc.reasons})
        else:
            console.print(f"[red]invalid value for {key}[/red]")
            for reason in exc.reasons:
                console.print(f"  {reason}", markup=False)
        raise typer.Exit(2) from None
    result = {
        **change.entry.as_dict(),
        "changed": change.changed,
        "previous_version": change.previous_version,
    }
    if as_json:
        print_json(result)
    elif change.changed:
        entry = change.entry
        console.print(
            f"{key} = {_shown(entry.value)} (version {entry.version}, was {change.previous_version})",
            markup=False,
        )
    else:
        console.print(f"{key} unchanged (version {change.entry.version})", markup=False)


@config_app.command("history")
def config_history(
    key: Annotated[str, typer.Argument(help="The dotted key.")],
    limit: Annotated[int, typer.Option(help="At most this many versions.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Every version of one key, newest first, with who, when and why (secrets masked)."""
    settings = settings_from_env()
    try:
        entries = with_connection(settings, lambda c: configuration.history(c, key, limit))
    except configuration.UnknownKey:
        console.print(f"[red]no configuration key {key!r}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        print_json([e.as_dict() for e in entries])
        return
    console.print(_table(entries, history=True))
