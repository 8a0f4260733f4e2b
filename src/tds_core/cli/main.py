"""The ``tds`` command. Every reporting command takes ``--json``."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tds_core import app as composition
from tds_core.cli.alerts import alerts_app
from tds_core.cli.common import (
    JsonOpt,
    cli_actor,
    console,
    database_url,
    print_json,
    settings_from_env,
    who,
    with_connection,
)
from tds_core.cli.config import config_app
from tds_core.cli.conflicts import conflicts_app
from tds_core.cli.dlq import dlq_app
from tds_core.cli.jobs import jobs_app
from tds_core.cli.replay import replay
from tds_core.cli.reports import reports_app
from tds_core.cli.secrets import secrets_app
from tds_core.cli.users import users_app
from tds_core.db import migrate as migrations
from tds_core.db.pool import create_pool
from tds_core.db.queries import QUERIES
from tds_core.errors import ConfigurationError
from tds_core.ingest import api_keys
from tds_core.operations import access
from tds_core.settings import Settings

app = typer.Typer(help="TDS Core: keeps an ERP's PostgreSQL in step with Zoho Books.", no_args_is_help=True)
keys_app = typer.Typer(help="Webhook API keys (stored hashed; a key is shown once).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(dlq_app, name="dlq")
app.add_typer(conflicts_app, name="conflicts")
app.add_typer(users_app, name="users")
app.add_typer(config_app, name="config")
app.add_typer(jobs_app, name="jobs")
app.add_typer(alerts_app, name="alerts")
app.add_typer(secrets_app, name="secrets")
app.add_typer(reports_app, name="reports")
app.command("replay")(replay)


# ---------------------------------------------------------------------------- processes
@app.command()
def migrate(as_json: JsonOpt = False) -> None:
    """Bring the database schema to the latest migration (idempotent)."""
    settings = settings_from_env()
    url = database_url(settings)
    migrations.upgrade(url)
    revision = migrations.current_revision(url)
    if as_json:
        print_json({"revision": revision, "head": migrations.head_revision()})
    else:
        console.print(f"schema at revision [bold]{revision}[/bold]")


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Bind address (TDS_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (TDS_API_PORT).")] = None,
    processes: Annotated[
        int | None, typer.Option(help="API processes on one port (TDS_API_PROCESSES).")
    ] = None,
) -> None:
    """Run the HTTP API (webhooks, health)."""
    settings = settings_from_env()
    url = database_url(settings)
    composition.check_secrets(settings, url, unreachable_ok=True)  # a wrong key: exit 2 before serving
    _serve(
        settings,
        url,
        host or settings.api_host,
        port or settings.api_port,
        processes or settings.api_processes,
    )


def _exit_on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(0)


def _serve(settings: Settings, url: str, host: str, port: int, processes: int = 1) -> None:
    """Serve the API until SIGINT/SIGTERM. uvicorn shuts down gracefully, then re-raises the signal
    with the handler that was there before it: for SIGTERM that is this one, so the process exits
    through ``SystemExit`` — ``finally`` blocks and ``atexit`` run (``tds up`` stops its children,
    and the embedded PostgreSQL is stopped) instead of dying by the signal's default action."""
    import uvicorn

    signal.signal(signal.SIGTERM, _exit_on_sigterm)

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "log_level": "warning",
        "access_log": False,
    }
    if processes > 1:
        # uvicorn's supervisor spawns the processes; each builds its app from the environment.
        os.environ["TDS_DATABASE_URL"] = url
        uvicorn.run("tds_core.app:api_from_environment", factory=True, workers=processes, **options)
        return
    uvicorn.Server(uvicorn.Config(composition.build_api(settings, url), lifespan="on", **options)).run()


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Concurrent batch loops (TDS_WORKER_CONCURRENCY).")
    ] = None,
) -> None:
    """Run a worker process: claims batches from the queue and applies them."""
    settings = settings_from_env()
    url = database_url(settings)
    import uvloop

    uvloop.run(composition.run_worker(settings, url, concurrency or settings.worker_concurrency))


@app.command()
def scheduler() -> None:
    """Run the scheduler (retention clean-up; an advisory lock elects one among many)."""
    settings = settings_from_env()
    url = database_url(settings)
    import uvloop

    uvloop.run(composition.run_scheduler(settings, url))


SIMULATOR_KEY_NAME = "built-in simulator"


async def _simulator_key(connection: Any) -> str:
    """A fresh key for the simulator's webhook traffic; the previous one is revoked."""
    for row in await connection.fetch(QUERIES.api_keys_list):
        if row["name"] == SIMULATOR_KEY_NAME and row["revoked_at"] is None:
            await connection.fetch(QUERIES.api_keys_revoke, str(row["id"]), "tds up")
    return (await api_keys.create(connection, SIMULATOR_KEY_NAME, created_by="tds up")).key


@app.command()
def up(
    host: Annotated[str | None, typer.Option(help="Bind address (TDS_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (TDS_API_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (TDS_WORKERS).")] = None,
    processes: Annotated[int | None, typer.Option(help="API processes (TDS_API_PROCESSES).")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Batch loops per worker.")] = None,
) -> None:
    """All in one: migrate, then the API and supervised worker processes."""
    settings = settings_from_env()
    url = database_url(settings)
    composition.run_migrations(url)
    settings = composition.check_secrets(settings, url).settings  # + stored Zoho credentials
    env = {**os.environ, "TDS_DATABASE_URL": url}
    count = settings.workers if workers is None else workers
    args = [
        sys.executable,
        "-m",
        "tds_core",
        "worker",
        "--concurrency",
        str(concurrency or settings.worker_concurrency),
    ]
    commands = [args] * count + [[sys.executable, "-m", "tds_core", "scheduler"]]
    bind_host, bind_port = host or settings.api_host, port or settings.api_port
    if settings.env == "development":
        password = with_connection(settings, access.bootstrap_admin)
        if password:
            kept = settings.home / "admin-password"
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.touch(mode=0o600)
            kept.write_text(password + "\n")
            console.print(
                f"Created the first user: [bold]admin[/bold] / [bold]{password}[/bold] "
                f"(kept in {settings.home / 'admin-password'}; change it with `tds users password admin`)"
            )
    if settings.uses_simulator:
        # No Zoho credentials: run the built-in simulator as the source, with live webhook traffic.
        key = with_connection(settings, _simulator_key)
        commands.append(
            [
                sys.executable,
                "-m",
                "tds_core",
                "simulate",
                "--webhook-url",
                f"http://127.0.0.1:{bind_port}",
                "--webhook-key",
                key,
            ]
        )
        console.print(
            f"No Zoho credentials: the source is the built-in Zoho Books simulator on "
            f"http://127.0.0.1:{settings.simulator_port} (1 change/s sent as webhooks)"
        )
    children: list[subprocess.Popen[bytes]] = [subprocess.Popen(command, env=env) for command in commands]
    stopping = threading.Event()

    def supervise() -> None:
        while not stopping.wait(1.0):
            for index, child in enumerate(children):
                if child.poll() is not None and not stopping.is_set():
                    console.print(
                        f"[yellow]process {child.pid} exited ({child.returncode}); restarting[/yellow]"
                    )
                    children[index] = subprocess.Popen(commands[index], env=env)

    threading.Thread(target=supervise, daemon=True).start()
    console.print(
        f"TDS Core on http://{bind_host}:{bind_port} (docs at /docs), {count} worker process(es), scheduler"
    )
    try:
        _serve(settings, url, bind_host, bind_port, processes or settings.api_processes)
    finally:
        stopping.set()
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()


@app.command()
def simulate(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (TDS_SIMULATOR_PORT).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the generated organization.")] = 0,
    records: Annotated[int, typer.Option(help="Records per module.")] = 50,
    webhook_url: Annotated[
        str | None, typer.Option(help="TDS base URL to send webhook traffic to, e.g. http://127.0.0.1:8000.")
    ] = None,
    webhook_key: Annotated[str | None, typer.Option(help="TDS API key for that traffic.")] = None,
    rate: Annotated[float, typer.Option(help="Changes (webhooks) per second.")] = 1.0,
    duplicates: Annotated[float, typer.Option(help="Percent of webhooks sent twice.")] = 0.0,
    reorder: Annotated[float, typer.Option(help="Percent of webhooks delivered out of order.")] = 0.0,
    drop: Annotated[float, typer.Option(help="Percent of webhooks never sent.")] = 0.0,
) -> None:
    """Run the built-in Zoho Books simulator (API + OAuth), optionally sending webhook traffic."""
    from tds_core.simulator import serve

    settings = settings_from_env()
    serve(
        host,
        port or settings.simulator_port,
        seed,
        records,
        webhook_url=webhook_url,
        webhook_key=webhook_key,
        events_per_second=rate,
        duplicate_percent=duplicates,
        reorder_percent=reorder,
        drop_percent=drop,
        log_level="warning",
    )


@app.command()
def sync(
    entity: Annotated[str, typer.Argument(help="An entity (items, contacts, invoices, ...) or 'all'.")],
    full: Annotated[bool, typer.Option("--full", help="Ignore the watermark: a full resync.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Pull changes from Zoho now (the simulator when no credentials are set)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from tds_core.domain.entities import ENTITY_SLUGS

    entities = list(ENTITY_SLUGS) if entity == "all" else [entity]
    if any(e not in ENTITY_SLUGS for e in entities):
        raise typer.BadParameter(f"unknown entity {entity!r}: one of {', '.join(ENTITY_SLUGS)} or all")
    settings = settings_from_env()
    url = database_url(settings)
    settings = composition.check_secrets(settings, url).settings  # + stored Zoho credentials

    async def run() -> list[dict[str, Any]]:
        pool = await create_pool(url, min_size=1, max_size=4, application_name="tds-sync")
        results: list[dict[str, Any]] = []
        try:
            async with composition.zoho_source(settings, pool) as (puller, _reconciler):
                with Progress(
                    SpinnerColumn(),
                    TextColumn("{task.description}"),
                    TimeElapsedColumn(),
                    console=Console(stderr=True),
                    disable=as_json,
                ) as progress:
                    for name in entities:
                        task = progress.add_task(f"{name}: starting", total=None)

                        def show(result: Any, task: Any = task, name: str = name) -> None:
                            progress.update(
                                task,
                                description=f"{name}: {result.fetched} fetched, {result.queued} queued, "
                                f"{result.unchanged} unchanged, {result.failed} failed",
                            )

                        outcome = await puller.run_once(
                            name, full=full, triggered_by=who(None), progress=show
                        )
                        show(outcome)
                        results.append(
                            {
                                "entity": name,
                                "run_id": outcome.run_id,
                                "kind": outcome.kind,
                                "status": outcome.status,
                                "fetched": outcome.fetched,
                                "queued": outcome.queued,
                                "unchanged": outcome.unchanged,
                                "failed": outcome.failed,
                                "api_calls": outcome.api_calls,
                                "watermark": outcome.watermark.isoformat() if outcome.watermark else None,
                            }
                        )
        finally:
            await pool.close()
        return results

    results = asyncio.run(run())
    if as_json:
        print_json(results)


@app.command()
def reconcile(
    entity: Annotated[
        str, typer.Argument(help="An entity (items, contacts, invoices, ...) or 'all'.")
    ] = "all",
    heal: Annotated[
        bool, typer.Option("--heal/--dry-run", help="Heal the drift (default), or only report it.")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Compare every ERP record with Zoho now and heal the drift (exit 1 when drift was found)."""
    settings = settings_from_env()
    url = database_url(settings)
    settings = composition.check_secrets(settings, url).settings  # + stored Zoho credentials
    entities = composition.source_entities(settings) if entity == "all" else [entity]
    if entity != "all" and entity not in composition.source_entities(settings):
        raise typer.BadParameter(f"unknown or unavailable entity {entity!r}")

    async def run() -> list[dict[str, Any]]:
        pool = await create_pool(url, min_size=1, max_size=4, application_name="tds-reconcile")
        try:
            async with composition.zoho_source(settings, pool) as (_puller, reconciler):
                results = []
                for name in entities:
                    with console.status(f"reconciling {name}"):
                        outcome = await reconciler.run_once(name, heal=heal, triggered_by=who(None))
                    results.append(
                        {
                            "entity": name,
                            "run_id": outcome.run_id,
                            "status": outcome.status,
                            "checked": outcome.checked,
                            "drift": outcome.drift.report(),
                            "healed": outcome.healed,
                            "api_calls": outcome.api_calls,
                            "error": outcome.error,
                        }
                    )
                return results
        finally:
            await pool.close()

    results = asyncio.run(run())
    if as_json:
        print_json(results)
    else:
        table = Table("entity", "checked", "missing", "stale", "extra", "conflicts", "healed", "status")
        for r in results:
            counts = r["drift"]["counts"]
            table.add_row(
                r["entity"],
                str(r["checked"]),
                str(counts["missing"]),
                str(counts["stale"]),
                str(counts["extra"]),
                str(counts["conflicts"]),
                str(r["healed"]),
                r["status"],
            )
        console.print(table)
    if any(r["drift"]["counts"] and sum(r["drift"]["counts"].values()) for r in results) or any(
        r["status"] != "succeeded" for r in results
    ):
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- keys
@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="What the key is for, e.g. zoho-books-prod.")],
    as_json: JsonOpt = False,
) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    settings = settings_from_env()
    new = with_connection(settings, lambda c: access.create_key(c, name, cli_actor(None)))
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
    rows = with_connection(settings, lambda c: c.fetch(QUERIES.api_keys_list))
    data = [dict(r) for r in rows]
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
        row = with_connection(settings, lambda c: access.revoke_key(c, key_id, cli_actor(None)))
    except access.NotFound:
        if as_json:
            print_json({"revoked": []})
        else:
            console.print(f"[red]no active key {key_id!r}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        print_json({"revoked": [row]})
    else:
        console.print(f"revoked key {row['id']} ({row['name']})")


# ---------------------------------------------------------------------------- status
@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Events by state, DLQ size, oldest pending age, workers."""
    settings = settings_from_env()
    summary = with_connection(settings, lambda c: c.fetchval(QUERIES.status_health_summary, None))
    if as_json:
        print_json(summary)
        return
    table = Table("state", "events")
    for state, count in sorted(summary["queue"].items()):
        table.add_row(state, str(count))
    console.print(table)
    age = summary.get("oldest_pending_age_seconds")
    console.print(f"oldest pending: {age:.1f}s" if age is not None else "oldest pending: none")
    console.print(
        f"dead letters open: {summary['dlq_open']}   workers alive: {summary['workers_alive']}   "
        f"circuits not closed: {summary['circuit_open']}"
    )


def main() -> None:
    """The ``tds`` entry point: a configuration error (settings, ``TDS_SECRET_KEY``) is one line
    on stderr and exit code 2, not a traceback."""
    try:
        app()
    except ConfigurationError as exc:
        Console(stderr=True).print(
            f"tds: configuration error: {exc}", markup=False, style="red", soft_wrap=True
        )
        raise SystemExit(2) from None
