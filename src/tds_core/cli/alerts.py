"""``tds alerts``: list, show, ack, resolve, silence — the same commands as the HTTP API
(:mod:`tds_core.alerts.commands`), recorded in the operator action log as done from the CLI."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from tds_core.alerts import commands
from tds_core.cli.environment import (
    JsonOpt,
    cli_actor,
    console,
    print_json,
    settings_from_env,
    with_connection,
)

alerts_app = typer.Typer(help="Alerts: list, show, acknowledge, resolve, silence.", no_args_is_help=True)

By = Annotated[str | None, typer.Option("--by", help="Who acts (default: $TDS_OPERATOR or your user name).")]
Note = Annotated[str | None, typer.Option("--note", help="Why (kept on the alert and in the action log).")]


def _run(work: Any) -> Any:
    """Run ``work(connection)``; a refusal (no such alert, wrong state) is printed and exits 1."""
    settings = settings_from_env()
    try:
        return with_connection(settings, work)
    except (commands.AlertNotFound, commands.AlertConflict, commands.InvalidSilence) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


def _summary(alert: dict[str, Any]) -> str:
    who = ""
    if alert["status"] == "acknowledged":
        who = f" by {alert['acknowledged_by']}"
    elif alert["status"] == "resolved":
        who = f" by {alert['resolved_by']}"
    elif alert["status"] == "silenced":
        who = f" until {str(alert['silenced_until'])[:19]}"
    return f"alert {alert['id']} {alert['status']}{who}: {alert['title']}"


@alerts_app.command("list")
def alerts_list(
    status: Annotated[
        str | None, typer.Option("--status", help="open, acknowledged, silenced or resolved.")
    ] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Alerts, newest first."""
    rows = _run(lambda c: commands.list_alerts(c, status=status, rule=rule, before=None, limit=limit))
    if as_json:
        print_json(rows)
        return
    table = Table("id", "severity", "status", "rule", "title", "seen", "last seen", "level")
    for a in rows:
        table.add_row(
            str(a["id"]),
            a["severity"],
            a["status"],
            a["rule"],
            a["title"][:70],
            str(a["occurrences"]),
            str(a["last_seen_at"])[:19],
            str(a["escalation_level"]),
        )
    console.print(table)


@alerts_app.command("show")
def alerts_show(
    alert_id: Annotated[int, typer.Argument(help="Alert id.")],
    as_json: JsonOpt = False,
) -> None:
    """One alert with its deliveries (and the time from condition to each notification)."""
    alert = _run(lambda c: commands.show(c, alert_id))
    if as_json:
        print_json(alert)
        return
    console.print(f"[bold]{_summary(alert)}[/bold]")
    console.print(alert["message"])
    console.print(
        f"rule {alert['rule']} · {alert['fingerprint']} · {alert['severity']} · seen {alert['occurrences']}x"
        f" · first {str(alert['first_seen_at'])[:19]} · last {str(alert['last_seen_at'])[:19]}"
    )
    table = Table(
        "id", "reason", "level", "channel", "recipient", "status", "tries", "sent", "after s", "error"
    )
    for d in alert["deliveries"]:
        seconds = d["notify_seconds"]
        table.add_row(
            str(d["id"]),
            d["reason"],
            str(d["level"]),
            f"{d['channel']} ({d['channel_type']})",
            d["recipient"] or "",
            d["status"],
            str(d["attempts"]),
            str(d["sent_at"] or "")[:19],
            f"{seconds:.1f}" if seconds is not None else "",
            (d["last_error"] or "")[:50],
        )
    console.print(table)


@alerts_app.command("ack")
def alerts_ack(
    alert_id: Annotated[int, typer.Argument(help="Alert id.")],
    by: By = None,
    note: Note = None,
    as_json: JsonOpt = False,
) -> None:
    """Acknowledge an alert: someone is on it, escalation stops."""
    alert = _run(lambda c: commands.acknowledge(c, alert_id, cli_actor(by), note))
    print_json(alert) if as_json else console.print(_summary(alert))


@alerts_app.command("resolve")
def alerts_resolve(
    alert_id: Annotated[int, typer.Argument(help="Alert id.")],
    by: By = None,
    note: Note = None,
    as_json: JsonOpt = False,
) -> None:
    """Resolve an alert (if its condition still holds, a new alert opens: silence it instead)."""
    alert = _run(lambda c: commands.resolve(c, alert_id, cli_actor(by), note))
    print_json(alert) if as_json else console.print(_summary(alert))


@alerts_app.command("silence")
def alerts_silence(
    alert_id: Annotated[int, typer.Argument(help="Alert id.")],
    minutes: Annotated[int, typer.Option("--minutes", help="How long, in minutes.")] = 60,
    reason: Annotated[str, typer.Option("--reason", help="Why (required).")] = "",
    by: By = None,
    as_json: JsonOpt = False,
) -> None:
    """Silence an alert's fingerprint for a while: no notifications, no escalation."""
    if not reason.strip():
        raise typer.BadParameter("--reason is required: say why the alert is silenced")
    alert = _run(lambda c: commands.silence_alert(c, alert_id, cli_actor(by), minutes=minutes, reason=reason))
    print_json(alert) if as_json else console.print(_summary(alert))
