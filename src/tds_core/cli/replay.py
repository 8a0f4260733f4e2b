"""``tds replay``: replay inbox events by time received (and entity), or count them first.

``--dry-run`` counts what a replay would queue now. A real replay runs as an ``inbox_replay``
job in this process with a progress bar (recorded as an operator action); replayed events go
through staging and the one apply path again, so content the ERP already holds ends
``skipped_unchanged`` and changes nothing.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from tds_core.cli.environment import JsonOpt, cli_actor, console, print_json, settings_from_env
from tds_core.cli.jobs import run_job_here, with_pool
from tds_core.errors import InvalidRequest
from tds_core.jobs import inbox_replay
from tds_core.jobs.inbox_replay import InboxReplayConfig, InboxSelection, replay_handlers


def _moment(value: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{option}: an ISO 8601 time, e.g. 2026-01-15T10:00:00Z") from exc


def replay(
    start: Annotated[
        str, typer.Option("--from", help="Received at or after (ISO 8601; a time without a zone is UTC).")
    ],
    end: Annotated[str, typer.Option("--to", help="Received before (ISO 8601).")],
    entity: Annotated[str | None, typer.Option(help="Only this entity type.")] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", help="Inbox statuses to replay: queued (default), rejected (validated again)."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be queued.")] = False,
    by: Annotated[
        str | None, typer.Option(help="Who replays (default: TDS_OPERATOR or your user name).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay inbox events received in [--from, --to) through staging and the apply path again."""
    try:
        selection = InboxSelection.build(
            _moment(start, "--from"), _moment(end, "--to"), entity, tuple(status) if status else None
        )
    except InvalidRequest as exc:
        raise typer.BadParameter("; ".join(exc.reasons)) from exc
    if selection.end <= selection.start:
        raise typer.BadParameter("--from must be before --to")
    settings = settings_from_env()
    config = InboxReplayConfig(max_json_depth=settings.max_json_depth)
    if dry_run:
        counted = asyncio.run(with_pool(settings, lambda pool: inbox_replay.count(pool, selection, config)))
        report = {"dry_run": True, **counted.as_dict()}
        if as_json:
            print_json(report)
            return
        table = Table("entity", "would queue")
        for name, number in report["by_entity"].items():
            table.add_row(name, str(number))
        console.print(table)
        console.print(
            f"{counted.matched} inbox event(s) selected: {counted.would_queue} would be queued, "
            f"{counted.invalid} invalid"
        )
        return
    actor = cli_actor(by)
    job = asyncio.run(
        run_job_here(
            settings,
            lambda connection: inbox_replay.start(connection, selection, actor),
            lambda pool: replay_handlers(pool, config=config),
            "replaying inbox events",
            quiet=as_json,
        )
    )
    if as_json:
        print_json({"job_id": job.id, "status": job.status, **job.result})
    else:
        console.print(
            f"job {job.id} {job.status}: {job.result.get('matched', 0)} selected, "
            f"{job.result.get('queued', 0)} queued, {job.result.get('invalid', 0)} invalid"
        )
    if job.status != "completed":
        raise typer.Exit(1)
