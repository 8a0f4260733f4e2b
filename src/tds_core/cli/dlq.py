"""``tds dlq``: the dead letter queue: list, show, replay, discard.

The same operations as the admin API (``tds_core.operations.dead_letters``), recorded as
operator actions with who did them (``--by``, ``TDS_OPERATOR`` or your user name). A replay by
filter runs as a background job, here in this process, with a progress bar.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from tds_core.access.actions import Actor
from tds_core.cli.environment import (
    JsonOpt,
    cli_actor,
    console,
    print_json,
    settings_from_env,
    with_connection,
)
from tds_core.cli.jobs import progress_bar, run_job_here, with_pool
from tds_core.db.connection import Pool
from tds_core.errors import InvalidRequest, NotFound
from tds_core.jobs import dlq_replay as bulk_replay
from tds_core.jobs.inbox_replay import InboxReplayConfig, replay_handlers
from tds_core.operations import dead_letters
from tds_core.operations.dead_letters import DeadLetterFilter
from tds_core.settings import Settings

dlq_app = typer.Typer(help="The dead letter queue: list, show, replay, discard.", no_args_is_help=True)

IdsArg = Annotated[list[int] | None, typer.Argument(help="Dead letter ids.")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every open dead letter (with the filters).")]
EntityOpt = Annotated[str | None, typer.Option(help="Filter: entity type.")]
ErrorOpt = Annotated[str | None, typer.Option(help="Filter: error text contains.")]
ZohoIdOpt = Annotated[str | None, typer.Option(help="Filter: this Zoho id.")]
LimitOpt = Annotated[int | None, typer.Option(help="At most this many, oldest first.")]
ByOpt = Annotated[str | None, typer.Option(help="Who acts (default: TDS_OPERATOR or your user name).")]


def _checked(selection: DeadLetterFilter) -> DeadLetterFilter:
    try:
        return selection.check()
    except InvalidRequest as exc:
        raise typer.BadParameter("; ".join(exc.reasons)) from exc


@dlq_app.command("list")
def dlq_list(
    status_filter: Annotated[
        str | None, typer.Option("--status", help="open, replayed or discarded ('all' for every one).")
    ] = "open",
    entity: EntityOpt = None,
    zoho_id: ZohoIdOpt = None,
    error: ErrorOpt = None,
    before_id: Annotated[int | None, typer.Option(help="Page: ids below this.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List dead letters, newest first."""
    selection = _checked(
        DeadLetterFilter(
            status=None if status_filter == "all" else status_filter,
            entity=entity,
            zoho_id=zoho_id,
            error=error,
        )
    )
    settings = settings_from_env()
    data = with_connection(
        settings, lambda c: dead_letters.list_letters(c, selection, before_id=before_id, limit=limit)
    )
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
    """One dead letter with payload, error and attempt history (JSON)."""
    settings = settings_from_env()
    try:
        letter = with_connection(settings, lambda c: dead_letters.get_letter(c, letter_id))
    except NotFound as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    print_json(letter)


def _selection(
    all_open: bool,
    entity: str | None,
    error: str | None,
    zoho_id: str | None,
    limit: int | None,
) -> DeadLetterFilter:
    selection = DeadLetterFilter(entity=entity, error=error, zoho_id=zoho_id, limit=limit)
    if not (all_open or selection.selects):
        raise typer.BadParameter("name dead letter ids, or a filter (--all, --entity, --error, --zoho-id)")
    return _checked(selection)


@dlq_app.command("replay")
def dlq_replay(
    ids: IdsArg = None,
    all_open: AllOpt = False,
    entity: EntityOpt = None,
    error: ErrorOpt = None,
    zoho_id: ZohoIdOpt = None,
    limit: LimitOpt = None,
    by: ByOpt = None,
    note: Annotated[str, typer.Option(help="Why.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Re-queue dead letters with attempts reset (by id at once; by filter as a job, with progress)."""
    settings = settings_from_env()
    actor = cli_actor(by)
    if ids:
        outcome = with_connection(settings, lambda c: dead_letters.replay_ids(c, ids, actor, note or None))
        if as_json:
            print_json(
                {"replayed": len(outcome.resolved), "ids": outcome.resolved, "skipped": outcome.skipped}
            )
        else:
            console.print(f"replayed {len(outcome.resolved)} dead letter(s); {len(outcome.skipped)} not open")
        return
    selection = _selection(all_open, entity, error, zoho_id, limit)
    job = asyncio.run(
        run_job_here(
            settings,
            lambda c: bulk_replay.start_bulk_replay(c, selection, actor, note or None),
            lambda pool: replay_handlers(
                pool, config=InboxReplayConfig(max_json_depth=settings.max_json_depth)
            ),
            "replaying dead letters",
            quiet=as_json,
        )
    )
    summary = {"job_id": job.id, "status": job.status, **job.result}
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"job {job.id} {job.status}: replayed {job.result.get('replayed', 0)}, "
            f"skipped {job.result.get('skipped', 0)}"
        )
    if job.status != "completed":
        raise typer.Exit(1)


@dlq_app.command("discard")
def dlq_discard(
    ids: IdsArg = None,
    note: Annotated[str, typer.Option(help="Why it is discarded (required).")] = "",
    all_open: AllOpt = False,
    entity: EntityOpt = None,
    error: ErrorOpt = None,
    zoho_id: ZohoIdOpt = None,
    limit: LimitOpt = None,
    by: ByOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Dismiss dead letters with a note (the events stay dead)."""
    if not note.strip():
        raise typer.BadParameter("--note is required: say why the events are discarded")
    settings = settings_from_env()
    actor = cli_actor(by)
    if ids:
        outcome = with_connection(settings, lambda c: dead_letters.discard_ids(c, ids, actor, note))
        discarded, skipped = len(outcome.resolved), len(outcome.skipped)
    else:
        selection = _selection(all_open, entity, error, zoho_id, limit)
        discarded, skipped = (
            asyncio.run(_discard_matching(settings, selection, actor, note, quiet=as_json)),
            0,
        )
    if as_json:
        print_json({"discarded": discarded, "skipped": skipped})
    else:
        console.print(f"discarded {discarded} dead letter(s)")


async def _discard_matching(
    settings: Settings, selection: DeadLetterFilter, actor: Actor, note: str, quiet: bool
) -> int:
    async def work(pool: Pool) -> int:
        with progress_bar("discarding dead letters", quiet) as advance:
            return await dead_letters.discard_matching(pool, selection, actor, note, on_batch=advance)

    return await with_pool(settings, work)
