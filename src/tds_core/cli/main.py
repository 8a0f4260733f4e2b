"""The ``tds`` command. Every reporting command takes ``--json``."""

from __future__ import annotations

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
from tds_core.access import admin, api_keys
from tds_core.access.actions import Actor
from tds_core.cli import instance
from tds_core.cli.alerts import alerts_app
from tds_core.cli.config import config_app
from tds_core.cli.conflicts import conflicts_app
from tds_core.cli.dlq import dlq_app
from tds_core.cli.environment import (
    JsonOpt,
    console,
    database_url,
    print_json,
    settings_from_env,
    with_connection,
)
from tds_core.cli.jobs import jobs_app
from tds_core.cli.keys import keys_app
from tds_core.cli.replay import replay
from tds_core.cli.reports import reports_app
from tds_core.cli.secrets import secrets_app
from tds_core.cli.sync import reconcile, sync
from tds_core.cli.users import users_app
from tds_core.db import api_keys as stored_keys
from tds_core.db import migrate as migrations
from tds_core.db import status as stored_status
from tds_core.db.connection import Connection, Executor
from tds_core.errors import ConfigurationError
from tds_core.operations import initial_sync
from tds_core.settings import Settings

app = typer.Typer(help="TDS Core: keeps an ERP's PostgreSQL in step with Zoho Books.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.command()(sync)
app.command()(reconcile)
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

    async def ensure(connection: Connection) -> int | None:
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


def _simulator_key(port: int) -> Callable[[Executor], Awaitable[str]]:
    async def issue(connection: Executor) -> str:
        """A fresh key for the simulator's webhook traffic. The port was free (checked first),
        so an earlier key for it belongs to a run that has ended: it is revoked."""
        for row in await stored_keys.list_all(connection):
            if row["name"] == simulator_key_name(port) and row["revoked_at"] is None:
                await stored_keys.revoke(connection, key=str(row["id"]), revoked_by="tds up")
        return (await api_keys.create(connection, simulator_key_name(port), created_by="tds up")).key

    return issue


def _revoke_key(prefix: str) -> Callable[[Executor], Awaitable[None]]:
    async def revoke(connection: Executor) -> None:
        await stored_keys.revoke(connection, key=prefix, revoked_by="tds up (stopped)")

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
        password = with_connection(settings, admin.bootstrap_admin)
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


# ---------------------------------------------------------------------------- status
@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Events by state, DLQ size, oldest pending age, workers."""
    settings = settings_from_env()
    summary = with_connection(settings, lambda c: stored_status.health_summary(c, now=None))
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
