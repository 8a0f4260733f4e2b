"""The ``tds`` command. Every reporting command takes ``--json``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tds_core import app as composition
from tds_core.access.actions import Actor
from tds_core.cli import instance
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
from tds_core.operations import access, initial_sync
from tds_core.settings import Settings
from tds_core.source.pacing import configured_reserve

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
    unlocked = composition.check_secrets(settings, url, unreachable_ok=True)  # a wrong key: exit 2
    if unlocked.reached:  # with the stored secrets known: the source must be complete
        composition.require_source(unlocked.settings)
    _serve(
        settings,
        url,
        host or settings.api_host,
        port or settings.api_port,
        processes or settings.api_processes,
    )


def _exit_on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(0)


def server_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """uvicorn's options for the API. ``X-Forwarded-For`` is believed only from the configured
    proxies (``TDS_TRUSTED_PROXIES``, none by default): a client must not choose the address its
    rate limits are counted under. A request's headers must arrive within
    ``TDS_HTTP_HEADER_TIMEOUT`` (:mod:`tds_core.api.header_deadline`)."""
    from tds_core.api import header_deadline  # uvicorn's protocol: loaded only to serve

    return {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": header_deadline.protocol(settings.http_header_timeout),  # httptools + a header deadline
        "log_level": "warning",
        "access_log": False,
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": ",".join(settings.trusted_proxies),
    }


def _serve(settings: Settings, url: str, host: str, port: int, processes: int = 1) -> None:
    """Serve the API until SIGINT/SIGTERM. uvicorn shuts down gracefully, then re-raises the signal
    with the handler that was there before it: for SIGTERM that is this one, so the process exits
    through ``SystemExit`` — ``finally`` blocks and ``atexit`` run (``tds up`` stops its children,
    and the embedded PostgreSQL is stopped) instead of dying by the signal's default action."""
    import uvicorn

    signal.signal(signal.SIGTERM, _exit_on_sigterm)

    options = server_options(settings, host, port)
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


def _initial_sync(settings: Settings) -> None:
    """Queue the full pull of every entity never pulled, and say how to follow it."""
    available = composition.source_entities(settings)

    async def ensure(connection: Any) -> int | None:
        return await initial_sync.ensure(connection, available, Actor(name="tds up", via="cli"))

    job_id = with_connection(settings, ensure)
    if job_id is not None:
        console.print(
            f"First start: a full pull of the entities never pulled runs now as job {job_id} "
            f"(follow it with `tds jobs show {job_id} --watch`, or on the dashboard's Sync page)"
        )


SIMULATOR_KEY_NAME = "built-in simulator"
SIMULATOR_KEY_ENV = "TDS_SIMULATOR_WEBHOOK_KEY"


def simulator_key_name(port: int) -> str:
    """The simulator key of the ``tds up`` serving ``port``: one per port, so a run never
    revokes the key of another one still running."""
    return f"{SIMULATOR_KEY_NAME} :{port}"


def _simulator_key(port: int) -> Callable[[Any], Awaitable[str]]:
    async def issue(connection: Any) -> str:
        """A fresh key for the simulator's webhook traffic. The port was free (checked first),
        so an earlier key for it belongs to a run that has ended: it is revoked."""
        for row in await connection.fetch(QUERIES.api_keys_list):
            if row["name"] == simulator_key_name(port) and row["revoked_at"] is None:
                await connection.fetch(QUERIES.api_keys_revoke, str(row["id"]), "tds up")
        return (await api_keys.create(connection, simulator_key_name(port), created_by="tds up")).key

    return issue


def _revoke_key(prefix: str) -> Callable[[Any], Awaitable[None]]:
    async def revoke(connection: Any) -> None:
        await connection.fetch(QUERIES.api_keys_revoke, prefix, "tds up (stopped)")

    return revoke


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
    bind_host, bind_port = host or settings.api_host, port or settings.api_port
    simulator_port = settings.simulator_port if settings.uses_simulator else None
    # before anything is touched: a second `tds up` leaves a running one alone (a taken port is a
    # ConfigurationError: one line on stderr and exit 2, from main())
    with instance.claim(settings.home, bind_host, bind_port, simulator_port):
        _up(settings, bind_host, bind_port, workers, processes, concurrency)


def _up(
    settings: Settings,
    bind_host: str,
    bind_port: int,
    workers: int | None,
    processes: int | None,
    concurrency: int | None,
) -> None:
    url = database_url(settings)
    composition.run_migrations(url)
    # + stored Zoho credentials; production never falls back to the simulator
    settings = composition.require_source(composition.check_secrets(settings, url).settings)
    env = {**os.environ, "TDS_DATABASE_URL": url}
    _initial_sync(settings)
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
    envs = [env] * len(commands)
    own_key: str | None = None
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
        # Chosen (TDS_SOURCE=simulator or the development default): the simulator and its traffic.
        key = with_connection(settings, _simulator_key(bind_port))
        own_key = api_keys.split_prefix(key)
        # the key goes in the environment, never on a command line (visible in `ps`)
        commands.append(
            [sys.executable, "-m", "tds_core", "simulate", "--webhook-url", f"http://127.0.0.1:{bind_port}"]
        )
        envs.append({**env, SIMULATOR_KEY_ENV: key})
        console.print(
            f"The source is the built-in Zoho Books simulator ({composition.source_description(settings)}) "
            f"on http://127.0.0.1:{settings.simulator_port} (1 change/s sent as webhooks)"
        )
    children: list[subprocess.Popen[bytes]] = [
        subprocess.Popen(command, env=child_env) for command, child_env in zip(commands, envs, strict=True)
    ]
    stopping = threading.Event()

    def supervise() -> None:
        while not stopping.wait(1.0):
            for index, child in enumerate(children):
                if child.poll() is not None and not stopping.is_set():
                    console.print(
                        f"[yellow]process {child.pid} exited ({child.returncode}); restarting[/yellow]"
                    )
                    children[index] = subprocess.Popen(commands[index], env=envs[index])

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
        if own_key is not None:
            with contextlib.suppress(Exception):  # the database may be gone already
                with_connection(settings, _revoke_key(own_key))


@app.command()
def simulate(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (TDS_SIMULATOR_PORT).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the generated organization.")] = 0,
    records: Annotated[int, typer.Option(help="Records per module.")] = 50,
    webhook_url: Annotated[
        str | None, typer.Option(help="TDS base URL to send webhook traffic to, e.g. http://127.0.0.1:8000.")
    ] = None,
    webhook_key: Annotated[
        str | None,
        typer.Option(
            help=f"TDS API key for that traffic (better: the {SIMULATOR_KEY_ENV} environment variable, "
            "which `ps` does not show).",
            envvar=SIMULATOR_KEY_ENV,
            show_envvar=False,
        ),
    ] = None,
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


def _shown(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _sync_plan(settings: Settings, url: str, entities: list[str], *, count: bool, as_json: bool) -> None:
    """``tds sync --plan``: what a full sync costs and how long it takes, at the configured quota
    and at Zoho's Standard and Premium quotas."""
    from tds_core.operations import sync_plan

    source = composition.zoho_config(settings)
    use_inventory = settings.zoho_use_inventory or settings.uses_simulator

    async def run() -> Any:
        pool = await create_pool(url, min_size=1, max_size=4, application_name="tds-sync-plan")
        try:
            async with pool.acquire() as connection:
                share = await configured_reserve(connection)
                counted = await sync_plan.counted_records(connection, entities)
            calls = 0
            if count:
                async with composition.zoho_source(settings, pool) as (puller, _reconciler):
                    listed, calls = await sync_plan.count_by_listing(
                        puller.client, entities, use_inventory=use_inventory
                    )
                counted = {**counted, **listed}
            return sync_plan.sync_plan(
                counted,
                daily_quota=source.daily_quota,
                reserve_share=share,
                use_inventory=use_inventory,
                counting_calls=calls,
            )
        finally:
            await pool.close()

    result = asyncio.run(run())
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    table = Table(title="Full sync: API calls")
    for column in ("entity", "records", "counted from", "list calls", "GETs by id", "calls"):
        table.add_column(column, justify="left" if column in ("entity", "counted from") else "right")
    for row in result.entities:
        table.add_row(
            row.entity,
            _shown(row.records),
            row.source,
            _shown(row.list_calls),
            _shown(row.detail_calls),
            _shown(row.calls),
        )
    table.add_row("total", "", "", f"{result.list_calls:,}", f"{result.detail_calls:,}", f"{result.calls:,}")
    console.print(table)
    days = Table(title=f"How long, at {result.requests_per_minute} calls a minute and the reserve kept")
    for column in ("quota", "calls a day", "reserve", "sync may spend", "days", "spans (days)"):
        days.add_column(column, justify="left" if column == "quota" else "right")
    for d in result.durations:
        days.add_row(
            d.plan,
            f"{d.daily_quota:,}",
            f"{d.reserve:,}",
            f"{d.calls_per_day:,}",
            "never (the reserve takes it all)" if d.days is None else f"{d.days:,.2f}",
            "-" if d.calendar_days is None else str(d.calendar_days),
        )
    console.print(days)
    if not result.complete:
        console.print(
            "Some counts are unknown (never pulled): `tds sync all --plan --count` lists them to count."
        )
    if result.counting_calls:
        console.print(f"The counting scan made {result.counting_calls:,} calls.")


@app.command()
def sync(
    entity: Annotated[str, typer.Argument(help="An entity (items, contacts, invoices, ...) or 'all'.")],
    full: Annotated[bool, typer.Option("--full", help="Ignore the watermark: a full resync.")] = False,
    plan: Annotated[
        bool,
        typer.Option("--plan", help="Pull nothing: estimate a full sync's API calls and days at the quota."),
    ] = False,
    count: Annotated[
        bool,
        typer.Option("--count", help="With --plan: count the records by listing them (ceil(N/200) calls)."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Pull changes from Zoho now (the simulator when chosen); --plan estimates a full sync."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from tds_core.domain.entities import ENTITY_SLUGS

    entities = list(ENTITY_SLUGS) if entity == "all" else [entity]
    if any(e not in ENTITY_SLUGS for e in entities):
        raise typer.BadParameter(f"unknown entity {entity!r}: one of {', '.join(ENTITY_SLUGS)} or all")
    if count and not plan:
        raise typer.BadParameter("--count goes with --plan")
    settings = settings_from_env()
    url = database_url(settings)
    settings = composition.require_source(composition.check_secrets(settings, url).settings)
    if entity == "all":
        entities = composition.source_entities(settings)
    if plan:
        _sync_plan(settings, url, entities, count=count, as_json=as_json)
        return

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
    settings = composition.require_source(composition.check_secrets(settings, url).settings)
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
