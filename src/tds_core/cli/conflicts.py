"""``tds conflicts``: ERP rows changed outside TDS that an event met: list, show, resolve.

The same operations as the admin API (``tds_core.operations.conflicts``); a resolution is
recorded as an operator action with who did it (``--by``, ``TDS_OPERATOR`` or your user name).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tds_core.cli.environment import (
    JsonOpt,
    cli_actor,
    console,
    print_json,
    settings_from_env,
    with_connection,
)
from tds_core.errors import InvalidRequest, NotFound, WrongState
from tds_core.operations import conflicts
from tds_core.operations.conflicts import RESOLUTIONS, ConflictFilter

conflicts_app = typer.Typer(
    help="ERP conflicts (rows changed outside TDS): list, show, resolve.", no_args_is_help=True
)
ConflictArg = Annotated[int, typer.Argument(help="Conflict id.")]


@conflicts_app.command("list")
def conflicts_list(
    status_filter: Annotated[
        str | None, typer.Option("--status", help="open or resolved ('all' for every one).")
    ] = "open",
    entity: Annotated[str | None, typer.Option(help="Filter: entity type.")] = None,
    zoho_id: Annotated[str | None, typer.Option(help="Filter: this Zoho id.")] = None,
    before_id: Annotated[int | None, typer.Option(help="Page: ids below this.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List conflicts, newest first (open ones by default)."""
    selection = ConflictFilter(
        status=None if status_filter == "all" else status_filter, entity=entity, zoho_id=zoho_id
    )
    try:
        selection.check()
    except InvalidRequest as exc:
        raise typer.BadParameter("; ".join(exc.reasons)) from exc
    settings = settings_from_env()
    data = with_connection(
        settings, lambda c: conflicts.list_conflicts(c, selection, before_id=before_id, limit=limit)
    )
    if as_json:
        print_json(data)
        return
    table = Table("id", "entity", "row", "policy", "status", "changed", "held", "detected")
    for r in data:
        table.add_row(
            str(r["id"]),
            r["entity"],
            r["row_key"],
            r["policy"],
            r["resolution"] or r["status"],
            ", ".join(r["changed_columns"]),
            str(r["held_events"]),
            str(r["detected_at"])[:19],
        )
    console.print(table)


@conflicts_app.command("show")
def conflicts_show(conflict_id: ConflictArg, as_json: JsonOpt = False) -> None:
    """One conflict: the event, the rows compared, and a column-by-column diff."""
    settings = settings_from_env()
    try:
        conflict = with_connection(settings, lambda c: conflicts.get_conflict(c, conflict_id))
    except NotFound as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    if as_json:
        print_json(conflict)
        return
    console.print(
        f"conflict {conflict['id']}: {conflict['entity']} {conflict['row_key']} ({conflict['erp_table']}), "
        f"policy {conflict['policy']}, {conflict['resolution'] or conflict['status']}, "
        f"{conflict['held_events']} held event(s)"
    )
    table = Table("column", "local (ERP)", "source (Zoho)", "TDS wrote", "changed locally")
    for row in conflict["diff"]:
        mark = "[yellow]" if row["differs"] else ""
        table.add_row(
            f"{mark}{row['column']}",
            str(row["local"]),
            str(row["source"]),
            str(row["written"]),
            "yes" if row["changed_locally"] else "",
        )
    console.print(table)


@conflicts_app.command("resolve")
def conflicts_resolve(
    conflict_id: ConflictArg,
    resolution: Annotated[str, typer.Argument(help=f"One of: {', '.join(RESOLUTIONS)}.")],
    note: Annotated[str, typer.Option(help="Why.")] = "",
    by: Annotated[
        str | None, typer.Option(help="Who acts (default: TDS_OPERATOR or your user name).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Resolve a held conflict: apply_source (apply the held events) or keep_local (discard them)."""
    if resolution not in RESOLUTIONS:
        raise typer.BadParameter(f"{resolution!r} is not one of {', '.join(RESOLUTIONS)}")
    settings = settings_from_env()
    actor = cli_actor(by)
    try:
        conflict = with_connection(
            settings, lambda c: conflicts.resolve(c, conflict_id, resolution, actor, note or None)
        )
    except (NotFound, WrongState) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    if as_json:
        print_json(conflict)
    else:
        console.print(f"conflict {conflict_id} resolved: {resolution}")
