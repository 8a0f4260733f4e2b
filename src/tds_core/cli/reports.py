"""``tds reports``: print the weekly dead-letter digest or the monthly performance summary, send
one (once per period, as the scheduler does), list and show the reports sent, resend one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from tds_core import app as composition
from tds_core.alerts.delivery import DeliveryRunner
from tds_core.cli.environment import JsonOpt, cli_actor, console, database_url, print_json, settings_from_env
from tds_core.config.runtime import load as load_config
from tds_core.db.connection import Pool
from tds_core.db.pool import create_pool
from tds_core.reports.digests import (
    Digests,
    InvalidPeriod,
    ReportKind,
    ReportNotFound,
    get_report,
    list_reports,
    parse_period,
)
from tds_core.settings import Settings

reports_app = typer.Typer(
    help="Reports: the weekly dead-letter digest and the monthly performance summary.", no_args_is_help=True
)

Period = Annotated[
    str | None,
    typer.Option(
        "--period",
        help="dlq-digest: an ISO week (2026-W09) or a day (2026-03-02: the 7 days before it); "
        "performance: a month (2026-02). Default: the period a scheduled run now would report.",
    ),
]
Send = Annotated[
    bool,
    typer.Option("--send", help="Record it and send it through the report channels (once per period)."),
]
By = Annotated[str | None, typer.Option("--by", help="Who acts (default: $TDS_OPERATOR or your user name).")]


async def _with_digests(settings: Settings, work: Any) -> Any:
    pool = await create_pool(database_url(settings), min_size=1, max_size=4, application_name="tds-cli")
    try:
        async with pool.acquire() as connection:  # the start-up key check, as every command runs it
            unlocked = await composition.unlock_secrets(settings, connection)
        keyring = unlocked.keyring
        digests = Digests(pool, daily_quota=composition.zoho_config(settings).daily_quota, keyring=keyring)
        return await work(pool, digests)
    finally:
        await pool.close()


async def _send_now(pool: Pool, digests: Digests, report_id: int) -> list[dict[str, Any]]:
    """One sending pass over the report's deliveries; a failed attempt is retried later by the
    scheduler's delivery runner, with backoff, like an alert's."""
    async with pool.acquire() as connection:
        config = await load_config(connection, digests.keyring)
    runner = DeliveryRunner(pool, keyring=digests.keyring)
    try:
        await runner.run_once(config=config, report_id=report_id)
    finally:
        await runner.aclose()
    async with pool.acquire() as connection:
        return list((await get_report(connection, report_id))["deliveries"])


def _report(kind: ReportKind, period_text: str | None, send: bool, by: str | None, as_json: bool) -> None:
    settings = settings_from_env()

    async def work(pool: Pool, digests: Digests) -> dict[str, Any]:
        async with pool.acquire() as connection:
            config = await load_config(connection, digests.keyring)
        zone = ZoneInfo(config.schedule__timezone)
        now = datetime.now(UTC)
        period = (
            digests.period(kind, now, config)
            if period_text is None
            else parse_period(kind, period_text, zone, week_days=digests.config.week_days)
        )
        if not send:
            rendered = await digests.build(kind, period, config=config)
            return {
                "subject": rendered.subject,
                "text": rendered.text,
                "markdown": rendered.chat,
                "data": rendered.data,
            }
        result = await digests.run_once(kind, period=period, actor=cli_actor(by), config=config)
        assert result.report_id is not None
        deliveries = await _send_now(pool, digests, result.report_id) if result.created else []
        async with pool.acquire() as connection:
            report = await get_report(connection, result.report_id)
        return {
            "report_id": result.report_id,
            "created": bool(result.created),
            "subject": report["subject"],
            "text": report["text_body"],
            "deliveries": deliveries if result.created else report["deliveries"],
        }

    try:
        outcome = asyncio.run(_with_digests(settings, work))
    except InvalidPeriod as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        print_json(outcome)
        return
    typer.echo(outcome["text"])
    if send:
        typer.echo("")
        if outcome["created"]:
            typer.echo(f"Report {outcome['report_id']} recorded; deliveries:")
        else:
            typer.echo(
                f"Report {outcome['report_id']} for this period was already made; not sent again"
                f" (tds reports resend {outcome['report_id']} sends it again). Its deliveries:"
            )
        _print_deliveries(outcome["deliveries"])


def _print_deliveries(deliveries: list[dict[str, Any]]) -> None:
    if not deliveries:
        typer.echo("  (none: no channel is configured for reports; see reports.channels and alerts.channels)")
    for d in deliveries:
        error = f": {d['last_error']}" if d["last_error"] else ""
        typer.echo(f"  {d['channel']} ({d['channel_type']}): {d['status']}, attempt {d['attempts']}{error}")


@reports_app.command("dlq-digest")
def dlq_digest(period: Period = None, send: Send = False, by: By = None, as_json: JsonOpt = False) -> None:
    """The weekly dead-letter review: added, replayed, discarded, still open, top errors."""
    _report(ReportKind.DLQ_DIGEST, period, send, by, as_json)


@reports_app.command("performance")
def performance(period: Period = None, send: Send = False, by: By = None, as_json: JsonOpt = False) -> None:
    """The monthly performance summary: events, success rate and latency against the SLOs, and more."""
    _report(ReportKind.PERFORMANCE, period, send, by, as_json)


@reports_app.command("list")
def reports_list(
    kind: Annotated[str | None, typer.Option("--kind", help="dlq_digest or performance.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Reports made, newest first, with how their deliveries stand."""
    settings = settings_from_env()
    rows = asyncio.run(
        _with_digests(
            settings, lambda pool, _d: _acquire(pool, lambda c: list_reports(c, kind=kind, limit=limit))
        )
    )
    if as_json:
        print_json(rows)
        return
    table = Table("id", "kind", "period start", "period end", "made", "by", "sent", "pending", "failed")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["kind"],
            str(r["period_start"])[:19],
            str(r["period_end"])[:19],
            str(r["created_at"])[:19],
            r["created_by"],
            str(r["sent"]),
            str(r["pending"]),
            str(r["failed"]),
        )
    console.print(table)


async def _acquire(pool: Pool, work: Any) -> Any:
    async with pool.acquire() as connection:
        return await work(connection)


@reports_app.command("show")
def reports_show(
    report_id: Annotated[int, typer.Argument(help="Report id.")], as_json: JsonOpt = False
) -> None:
    """One report as it was sent, with its deliveries."""
    settings = settings_from_env()
    try:
        report = asyncio.run(
            _with_digests(settings, lambda pool, _d: _acquire(pool, lambda c: get_report(c, report_id)))
        )
    except ReportNotFound as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        print_json(report)
        return
    typer.echo(report["text_body"])
    typer.echo("")
    typer.echo(
        f"Report {report['id']} made {str(report['created_at'])[:19]} by {report['created_by']}; deliveries:"
    )
    _print_deliveries(report["deliveries"])


@reports_app.command("resend")
def reports_resend(
    report_id: Annotated[int, typer.Argument(help="Report id (tds reports list).")],
    by: By = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a report again (the same text) through today's report channels."""
    settings = settings_from_env()

    async def work(pool: Pool, digests: Digests) -> list[dict[str, Any]]:
        await digests.resend(report_id, cli_actor(by))
        return await _send_now(pool, digests, report_id)

    try:
        deliveries = asyncio.run(_with_digests(settings, work))
    except ReportNotFound as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        print_json(deliveries)
        return
    typer.echo(f"Report {report_id} queued again; deliveries:")
    _print_deliveries(deliveries)
