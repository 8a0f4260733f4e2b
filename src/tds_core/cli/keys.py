"""``tds keys``: webhook API keys (stored hashed; a key is shown once)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tds_core import errors
from tds_core.access import admin
from tds_core.cli.environment import (
    JsonOpt,
    cli_actor,
    console,
    print_json,
    settings_from_env,
    with_connection,
)

keys_app = typer.Typer(help="Webhook API keys (stored hashed; a key is shown once).", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="What the key is for, e.g. zoho-books-prod.")],
    as_json: JsonOpt = False,
) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    settings = settings_from_env()
    new = with_connection(settings, lambda c: admin.create_key(c, name, cli_actor(None)))
    if as_json:
        print_json({"id": new.id, "key": new.key, "name": new.name, "prefix": new.prefix})
    else:
        console.print(
            f"key {new.id} ({new.name}): [bold]{new.key}[/bold]\nStore it now: it is not shown again."
        )


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """List keys (never their secrets)."""
    settings = settings_from_env()
    data = with_connection(settings, admin.list_keys)
    if as_json:
        print_json(data)
        return
    table = Table("id", "name", "prefix", "created", "revoked", "last used")
    for r in data:
        table.add_row(
            str(r["id"]),
            r["name"],
            r["prefix"],
            str(r["created_at"])[:19],
            str(r["revoked_at"] or "")[:19],
            str(r["last_used_at"] or "")[:19],
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="Key id or prefix.")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key (effective within TDS_API_KEY_CACHE_SECONDS)."""
    settings = settings_from_env()
    try:
        row = with_connection(settings, lambda c: admin.revoke_key(c, key_id, cli_actor(None)))
    except errors.NotFound:
        if as_json:
            print_json({"revoked": []})
        else:
            console.print(f"[red]no active key {key_id!r}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        print_json({"revoked": [row]})
    else:
        console.print(f"revoked key {row['id']} ({row['name']})")
