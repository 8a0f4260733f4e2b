"""``tds jobs``: background jobs (bulk replays, manual syncs, reconciliations): list, show, cancel.

Also how a command runs a job here, in its own process, with a progress bar
(:func:`run_job_here`): the job is created (recorded as an operator action), claimed by this
process's runner and run to its end; if another runner claimed it first, its progress is
followed instead. Ctrl-C cancels the job, keeping what it did.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tds_core import errors
from tds_core.cli.environment import JsonOpt, cli_actor, console, database_url, print_json, settings_from_env
from tds_core.db.connection import Pool
from tds_core.db.pool import create_pool
from tds_core.jobs import runner as jobs
from tds_core.jobs.runner import FINISHED, Handler, Job, JobRunner, new_runner_id
from tds_core.settings import Settings

T = TypeVar("T")
jobs_app = typer.Typer(help="Background jobs: list, show, cancel.", no_args_is_help=True)
FOLLOW_SECONDS = 0.5


# ---------------------------------------------------------------------------- shared by job commands
async def with_pool(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    pool = await create_pool(database_url(settings), min_size=1, max_size=4, application_name="tds-cli")
    try:
        return await work(pool)
    finally:
        await pool.close()


@contextlib.contextmanager
def progress_bar(description: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (none when ``quiet``: ``--json`` output stays clean); yields
    ``advance(done, total)``."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=quiet,
    ) as bar:
        task = bar.add_task(description, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=max(total, done) or None)

        yield advance


async def run_job_here(
    settings: Settings,
    create: Callable[[Any], Awaitable[Job]],
    handlers: Callable[[Any], Mapping[str, Handler]],
    description: str,
    *,
    quiet: bool,
) -> Job:
    """Create a job and run it in this process with a progress bar; returns it finished."""

    async def work(pool: Pool) -> Job:
        async with pool.acquire() as connection:
            job = await create(connection)
        with progress_bar(f"job {job.id}: {description}", quiet) as advance:
            advance(job.done, job.total)

            async def show(progress: jobs.Progress) -> None:
                advance(progress.done, progress.total)

            runner = JobRunner(pool, handlers(pool), runner_id=new_runner_id("cli"), on_progress=show)
            try:
                if not await runner.run_once(job.id):
                    await _follow(pool, job.id, advance)  # another runner took it first
            except asyncio.CancelledError:  # Ctrl-C: stop the job, keep what it did
                with contextlib.suppress(Exception):
                    async with pool.acquire() as connection:
                        await jobs.cancel(connection, job.id, cli_actor(job.created_by))
                raise
        async with pool.acquire() as connection:
            return await jobs.get(connection, job.id)

    return await with_pool(settings, work)


async def _follow(pool: Pool, job_id: int, advance: Callable[[int, int], None]) -> None:
    while True:
        async with pool.acquire() as connection:
            job = await jobs.get(connection, job_id)
        advance(job.done, job.total)
        if job.status in FINISHED:
            return
        await asyncio.sleep(FOLLOW_SECONDS)


def _row(job: Job) -> dict[str, Any]:
    return job.as_dict()


# ---------------------------------------------------------------------------- commands
@jobs_app.command("list")
def jobs_list(
    status: Annotated[
        str | None, typer.Option(help="queued, running, completed, cancelled or failed.")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="dlq_replay, inbox_replay, sync or reconcile.")] = None,
    before_id: Annotated[int | None, typer.Option(help="Page: ids below this.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Jobs, newest first."""
    if status is not None and status not in jobs.STATUSES:
        raise typer.BadParameter(f"--status: one of {', '.join(jobs.STATUSES)}")
    if kind is not None and kind not in jobs.KINDS:
        raise typer.BadParameter(f"--kind: one of {', '.join(jobs.KINDS)}")
    settings = settings_from_env()
    found = asyncio.run(
        with_pool(
            settings,
            lambda pool: jobs.list_jobs(pool, status=status, kind=kind, before_id=before_id, limit=limit),
        )
    )
    if as_json:
        print_json([_row(j) for j in found])
        return
    table = Table("id", "kind", "status", "done", "total", "skipped", "by", "created", "finished")
    for j in found:
        table.add_row(
            str(j.id),
            j.kind,
            j.status + (" (cancelling)" if j.cancel_requested and j.status == "running" else ""),
            str(j.done),
            str(j.total),
            str(j.skipped),
            j.created_by,
            str(j.created_at)[:19],
            str(j.finished_at or "")[:19],
        )
    console.print(table)


@jobs_app.command("show")
def jobs_show(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    watch: Annotated[bool, typer.Option("--watch", help="Follow its progress until it ends.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """One job: parameters, progress, result."""
    settings = settings_from_env()

    async def work(pool: Pool) -> Job:
        if watch:
            with progress_bar(f"job {job_id}", as_json) as advance:
                await _follow(pool, job_id, advance)
        return await jobs.get(pool, job_id)

    try:
        job = asyncio.run(with_pool(settings, work))
    except errors.NotFound as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    if as_json:
        print_json(_row(job))
        return
    console.print(
        f"job {job.id} ({job.kind}) {job.status}: {job.done}/{job.total} done, {job.skipped} skipped"
        f" — by {job.created_by} at {str(job.created_at)[:19]}"
    )
    print_json({"params": job.params, "result": job.result, "error": job.error})


@jobs_app.command("cancel")
def jobs_cancel(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    by: Annotated[str | None, typer.Option(help="Who cancels (default: your user name).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a job: a queued one at once, a running one after its current batch."""
    settings = settings_from_env()
    try:
        job = asyncio.run(with_pool(settings, lambda pool: _cancel(pool, job_id, by)))
    except (errors.NotFound, errors.WrongState) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    if as_json:
        print_json(_row(job))
    elif job.status == "cancelled":
        console.print(f"job {job.id} cancelled")
    else:
        console.print(f"job {job.id} asked to stop; it stops after its current batch")


async def _cancel(pool: Pool, job_id: int, by: str | None) -> Job:
    async with pool.acquire() as connection:
        return await jobs.cancel(connection, job_id, cli_actor(by))
