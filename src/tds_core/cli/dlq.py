"""``tds dlq``: the dead letter queue: list, show, replay, discard."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any

import typer
from rich.table import Table

from tds_core.cli.common import JsonOpt, console, print_json, settings_from_env, who, with_connection
from tds_core.db.queries import QUERIES

dlq_app = typer.Typer(help="The dead letter queue: list, show, replay, discard.", no_args_is_help=True)


@dlq_app.command("list")
def dlq_list(
    status_filter: Annotated[
        str | None, typer.Option("--status", help="open, replayed or discarded.")
    ] = "open",
    entity: Annotated[str | None, typer.Option(help="Only this entity type.")] = None,
    zoho_id: Annotated[str | None, typer.Option(help="Only this Zoho id.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List dead letters, newest first."""
    settings = settings_from_env()
    rows = with_connection(
        settings, lambda c: c.fetch(QUERIES.dlq_list, status_filter, entity, zoho_id, limit)
    )
    data = [dict(r) for r in rows]
    if as_json:
        print_json(data)
        return
    table = Table("id", "entity", "zoho id", "attempts", "class", "error", "status", "created")
    for r in data:
        table.add_row(
            str(r["id"]),
            r["entity"],
            r["zoho_id"],
            str(r["attempts"]),
            r["error_class"],
            r["error"][:60],
            r["status"],
            str(r["created_at"])[:19],
        )
    console.print(table)


@dlq_app.command("show")
def dlq_show(
    letter_id: Annotated[int, typer.Argument(help="Dead letter id.")], as_json: JsonOpt = True
) -> None:
    """One dead letter with payload, error and attempt history."""
    settings = settings_from_env()
    row = with_connection(settings, lambda c: c.fetchrow(QUERIES.dlq_get, letter_id))
    if row is None:
        console.print(f"[red]no dead letter {letter_id}[/red]")
        raise typer.Exit(1)
    print_json(dict(row))


def _select_letters(
    connection: Any, ids: list[int], all_open: bool, entity: str | None, error: str | None, limit: int
) -> Awaitable[list[Any]]:
    async def select() -> list[Any]:
        if ids:
            return ids
        if not (all_open or entity or error):
            raise typer.BadParameter("name dead letter ids, or a filter (--all, --entity, --error)")
        return [r["id"] for r in await connection.fetch(QUERIES.dlq_open_ids, entity, error, limit)]

    return select()


@dlq_app.command("replay")
def dlq_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="Dead letter ids.")] = None,
    all_open: Annotated[bool, typer.Option("--all", help="Every open dead letter (with filters).")] = False,
    entity: Annotated[str | None, typer.Option(help="Filter: entity type.")] = None,
    error: Annotated[str | None, typer.Option(help="Filter: error text contains.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 10_000,
    by: Annotated[str | None, typer.Option(help="Who replays (default: your user name).")] = None,
    note: Annotated[str, typer.Option(help="Why.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Re-queue dead letters with attempts reset; records who and when."""
    settings = settings_from_env()

    async def work(connection: Any) -> list[int]:
        chosen = await _select_letters(connection, ids or [], all_open, entity, error, limit)
        rows = await connection.fetch(QUERIES.dlq_replay, chosen, who(by), note or None)
        await connection.execute(QUERIES.queue_notify)
        return [r["queue_id"] for r in rows]

    replayed = with_connection(settings, work)
    if as_json:
        print_json({"replayed": len(replayed), "queue_ids": replayed})
    else:
        console.print(f"replayed {len(replayed)} dead letter(s)")


@dlq_app.command("discard")
def dlq_discard(
    ids: Annotated[list[int] | None, typer.Argument(help="Dead letter ids.")] = None,
    note: Annotated[str, typer.Option(help="Why it is discarded (required).")] = "",
    all_open: Annotated[bool, typer.Option("--all", help="Every open dead letter (with filters).")] = False,
    entity: Annotated[str | None, typer.Option(help="Filter: entity type.")] = None,
    error: Annotated[str | None, typer.Option(help="Filter: error text contains.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 10_000,
    by: Annotated[str | None, typer.Option(help="Who discards.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Dismiss dead letters with a note."""
    if not note.strip():
        raise typer.BadParameter("--note is required: say why the events are discarded")
    settings = settings_from_env()

    async def work(connection: Any) -> list[int]:
        chosen = await _select_letters(connection, ids or [], all_open, entity, error, limit)
        rows = await connection.fetch(QUERIES.dlq_discard, chosen, who(by), note)
        return [r["queue_id"] for r in rows]

    discarded = with_connection(settings, work)
    if as_json:
        print_json({"discarded": len(discarded), "queue_ids": discarded})
    else:
        console.print(f"discarded {len(discarded)} dead letter(s)")
