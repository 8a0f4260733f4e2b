"""The composition root: the one place that wires settings, database, API and worker together."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from fastapi import FastAPI
from pydantic import SecretStr

from tds_core.access.actions import Actor
from tds_core.access.api_keys import KeyVerifier
from tds_core.access.sessions import CurrentUsers
from tds_core.access.tokens import TokenIssuer, development_secret
from tds_core.alerts.service import AlertService
from tds_core.api.app import create_app
from tds_core.api.context import ApiContext
from tds_core.config.encryption import Keyring, development_key
from tds_core.config.runtime import ConfigCache
from tds_core.config.runtime import load as load_runtime_config
from tds_core.db import embedded, migrate
from tds_core.db.connection import Connection, Pool
from tds_core.db.errors import translated
from tds_core.db.pool import connect, create_pool
from tds_core.db.urls import redact
from tds_core.errors import ConfigurationError, DatabaseUnavailable
from tds_core.ingest.webhooks import WebhookIntake
from tds_core.jobs.inbox_replay import InboxReplayConfig, replay_handlers
from tds_core.jobs.runner import JobRunner
from tds_core.jobs.source import handlers as source_job_handlers
from tds_core.observability.counters import ZohoThrottles
from tds_core.observability.logging import configure
from tds_core.observability.rollup import MetricsRollup
from tds_core.operations import initial_sync
from tds_core.operations import secrets as stored_secrets
from tds_core.processor.worker import Worker
from tds_core.queue import rescue
from tds_core.queue.doorbell import Doorbell
from tds_core.reconcile.service import Reconciler
from tds_core.reports.digests import Digests, ReportKind
from tds_core.scheduler import retention
from tds_core.scheduler.service import Job, Scheduler
from tds_core.settings import Settings
from tds_core.simulator.config import SimulatorConfig
from tds_core.source.hints import HintCompleter
from tds_core.source.pull import PullConfig, Puller
from tds_core.source.pull import source_entities as available_entities
from tds_core.source.zoho.client import ZohoClient
from tds_core.source.zoho.config import ZohoConfig
from tds_core.source.zoho.rate_limit import PostgresRateLimiter

log = structlog.get_logger("tds")


def database_url(settings: Settings, *, stop_embedded_on_exit: bool = True) -> str:
    """The external URL, or the embedded PostgreSQL under TDS_HOME (started if needed)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    url = embedded.start(settings.home, stop_on_exit=stop_embedded_on_exit)
    log.info("using the embedded PostgreSQL", home=str(settings.home), url=redact(url))
    return url


def run_migrations(url: str) -> None:
    migrate.upgrade(url)
    log.info("migrations current", revision=migrate.head_revision())


def build_api(settings: Settings, url: str) -> FastAPI:
    async def build() -> ApiContext:
        pool = await create_pool(
            url,
            min_size=0,
            max_size=settings.db_pool_max,
            timeout=settings.db_connect_timeout,
            command_timeout=settings.db_command_timeout,
            application_name="tds-api",
        )
        keyring = secret_keyring(settings)
        effective = settings
        try:
            with translated():
                async with pool.acquire() as connection:
                    effective = (await unlock_secrets(settings, connection, keyring)).settings
        except DatabaseUnavailable as exc:
            log.warning(
                "stored secrets not read: the database is unreachable; the environment's are used",
                error=str(exc)[:300],
            )
        secret = effective.zoho_webhook_secret.get_secret_value() if effective.zoho_webhook_secret else None
        intake = WebhookIntake(
            pool,
            KeyVerifier(settings.api_key_cache_seconds),
            max_body_bytes=settings.max_body_bytes,
            max_json_depth=settings.max_json_depth,
            webhook_secret=secret,
            complete_partial=settings.webhook_complete_partial,
        )
        return ApiContext(
            settings=effective,
            database_url=url,
            pool=pool,
            intake=intake,
            doorbell=Doorbell(pool),
            head_revision=migrate.head_revision(),
            tokens=TokenIssuer(jwt_secret(settings)),
            users=CurrentUsers(settings.user_cache_seconds),
            config=ConfigCache(keyring=keyring),
            keyring=keyring,
            environment_secrets=environment_secrets(settings),
            daily_quotas=daily_quotas(effective),
        )

    async def close(ctx: ApiContext) -> None:
        await ctx.doorbell.stop()
        await ctx.pool.close()

    return create_app(settings, build, close)


def jwt_secret(settings: Settings) -> str:
    """``TDS_JWT_SECRET``, or in development a random one shared through ``TDS_HOME``."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    return development_secret(settings.home)


def secret_keyring(settings: Settings) -> Keyring:
    """``TDS_SECRET_KEY``, or outside production (where Settings requires it) a random key kept
    in ``TDS_HOME/secret-key``, so ``make run`` needs no manual step."""
    if settings.secret_key is not None:
        return Keyring.parse(settings.secret_key.get_secret_value())
    return Keyring.parse(development_key(settings.home))


def environment_secrets(settings: Settings) -> frozenset[str]:
    """The storable secrets (``tds secrets``) that the environment sets: they win."""
    return frozenset(name for name in stored_secrets.SECRET_NAMES if getattr(settings, name) is not None)


@dataclass(frozen=True)
class Unlocked:
    """The start-up check's outcome: the settings with the stored secrets the environment does
    not set filled in, the keyring, and which secrets came from the database."""

    settings: Settings
    keyring: Keyring
    from_database: frozenset[str]
    reached: bool = True
    """False when the database could not be reached (``unreachable_ok``): no stored secret is known."""


def with_stored_secrets(settings: Settings, stored: dict[str, str]) -> tuple[Settings, frozenset[str]]:
    """``settings`` with each stored secret the environment leaves unset (the environment wins)."""
    taken = {name: SecretStr(value) for name, value in stored.items() if getattr(settings, name) is None}
    return (settings.model_copy(update=taken) if taken else settings), frozenset(taken)


async def unlock_secrets(
    settings: Settings, connection: Connection, keyring: Keyring | None = None
) -> Unlocked:
    """The check every process runs when it first reaches the database: ``TDS_SECRET_KEY`` must
    decrypt every stored secret (:class:`~tds_core.errors.SecretKeyError` otherwise, which the CLI
    turns into one line and exit code 2); then the stored secrets join the settings."""
    keyring = keyring or secret_keyring(settings)
    check = await stored_secrets.verify(connection, keyring)
    if check.encrypted:
        log.info("encrypted secrets stored in clear in tds_configuration", values=check.encrypted)
    if check.skipped:
        log.warning("tds_secrets does not exist yet (schema before 0008): run `tds migrate`")
    merged, taken = with_stored_secrets(settings, await stored_secrets.stored_values(connection, keyring))
    if taken:
        log.info("using secrets stored in the database", names=sorted(taken))
    return Unlocked(merged, keyring, taken)


def check_secrets(settings: Settings, url: str, *, unreachable_ok: bool = False) -> Unlocked:
    """:func:`unlock_secrets` on a connection of its own, for a command before it starts its
    processes; ``unreachable_ok``: an unreachable database is not an error (the API starts anyway
    and answers 503), the environment's secrets are used."""

    async def run() -> Unlocked:
        keyring = secret_keyring(settings)
        try:
            with translated():
                connection = await connect(url, application_name="tds-start")
        except DatabaseUnavailable:
            if not unreachable_ok:
                raise
            return Unlocked(settings, keyring, frozenset(), reached=False)
        try:
            return await unlock_secrets(settings, connection, keyring)
        finally:
            await connection.close()

    return asyncio.run(run())


def api_from_environment() -> FastAPI:
    """The app factory for multi-process serving (``tds api --processes N``)."""
    settings = Settings()
    configure(settings.log_level, settings.log_format)
    if settings.database_url is None:
        raise RuntimeError("TDS_DATABASE_URL must be set for a multi-process API")
    return build_api(settings, settings.database_url.get_secret_value())


def daily_quotas(settings: Settings) -> dict[str, int]:
    """The Zoho daily quota per organization: the configured plan's, or the simulator's."""
    if settings.uses_simulator:
        simulator = SimulatorConfig()
        return {simulator.organization_id: simulator.daily_request_limit}
    if settings.zoho_organization_id is None:
        return {}
    return {settings.zoho_organization_id: settings.zoho_daily_quota}


def simulator_zoho_config(base: str, simulator: SimulatorConfig | None = None, **limits: Any) -> ZohoConfig:
    """A client config for the built-in simulator at ``base`` (its credentials and quota)."""
    simulator = simulator or SimulatorConfig()
    limits.setdefault("daily_quota", simulator.daily_request_limit)
    return ZohoConfig(
        organization_id=simulator.organization_id,
        client_id=simulator.client_id,
        client_secret=simulator.client_secret,
        refresh_token=simulator.refresh_token,
        api_base=base,
        accounts_base=base,
        **limits,
    )


def require_source(settings: Settings) -> Settings:
    """``settings`` when their source can start (:meth:`Settings.source_problem`), else a
    :class:`ConfigurationError` naming what is missing (one line, exit code 2)."""
    problem = settings.source_problem()
    if problem:
        raise ConfigurationError(problem)
    return settings


def source_description(settings: Settings) -> str:
    """How the source was chosen, for the start-up log line."""
    if settings.source == "simulator":
        return "TDS_SOURCE=simulator"
    return f"TDS_ENV={settings.env} with no Zoho credentials (the development default)"


def zoho_config(settings: Settings) -> ZohoConfig:
    """The Zoho credentials from the settings, or the built-in simulator's when it was chosen
    (``TDS_SOURCE=simulator``, or the development default); never a fallback."""
    require_source(settings)
    if settings.uses_simulator:
        base = f"http://127.0.0.1:{settings.simulator_port}"
        log.info(
            "the source is the built-in Zoho Books simulator",
            url=base,
            chosen_by=source_description(settings),
        )
        limits: dict[str, Any] = {
            "requests_per_minute": settings.zoho_requests_per_minute,
            "max_concurrency": settings.zoho_max_concurrency,
        }
        if "zoho_daily_quota" in settings.model_fields_set:  # else the simulator's own quota
            limits["daily_quota"] = settings.zoho_daily_quota
        return simulator_zoho_config(base, **limits)
    assert settings.zoho_organization_id and settings.zoho_client_id
    assert settings.zoho_client_secret and settings.zoho_refresh_token
    return ZohoConfig(
        organization_id=settings.zoho_organization_id,
        client_id=settings.zoho_client_id,
        client_secret=settings.zoho_client_secret.get_secret_value(),
        refresh_token=settings.zoho_refresh_token.get_secret_value(),
        data_centre=settings.zoho_data_centre,
        api_base=settings.zoho_api_base,
        accounts_base=settings.zoho_accounts_base,
        requests_per_minute=settings.zoho_requests_per_minute,
        daily_quota=settings.zoho_daily_quota,
        max_concurrency=settings.zoho_max_concurrency,
    )


@contextlib.asynccontextmanager
async def zoho_source(settings: Settings, pool: Pool) -> AsyncIterator[tuple[Puller, Reconciler]]:
    """The puller and reconciler over one Zoho client (rate-limited through PostgreSQL)."""
    config = zoho_config(settings)
    async with ZohoClient(
        config,
        PostgresRateLimiter.for_config(pool, config),
        on_throttled=ZohoThrottles(pool, config.organization_id),
    ) as client:
        yield (
            Puller(pool, client, PullConfig(use_inventory=settings.zoho_use_inventory)),
            Reconciler(pool, client, use_inventory=settings.zoho_use_inventory),
        )


def source_entities(settings: Settings) -> list[str]:
    """Entities the source can serve: stock and price lists need Zoho Inventory (or the simulator)."""
    return available_entities(use_inventory=settings.zoho_use_inventory or settings.uses_simulator)


SCHEDULER_ACTOR = Actor("scheduler", None, "scheduler")


async def run_scheduler(settings: Settings, url: str) -> None:
    """Run the scheduler until SIGTERM/SIGINT; only the elected leader runs jobs."""
    pool = await _pool_when_reachable(settings, url, size=8, name="tds-scheduler")
    async with pool.acquire() as connection:
        unlocked = await unlock_secrets(settings, connection)
        settings, keyring = unlocked.settings, unlocked.keyring
        config = await load_runtime_config(connection, keyring)
    try:
        require_source(settings)  # no Zoho, no scheduler: refuse at start, not at the first pull
    except ConfigurationError:
        await pool.close()
        raise
    doorbell = Doorbell(pool)
    doorbell.start()
    source = zoho_config(settings)
    async with (
        zoho_source(settings, pool) as (pulls, reconciler),
        AlertService(
            pool,
            daily_quota=source.daily_quota,
            organization_id=source.organization_id,
            home=settings.home,
            keyring=keyring,
        ) as alerts,
    ):

        async def pull_all() -> dict[str, int]:
            done: dict[str, int] = {}
            for entity in source_entities(settings):
                try:
                    done[entity] = (await pulls.run_once(entity)).queued
                except Exception as exc:
                    log.warning("scheduled pull failed", entity=entity, error=str(exc)[:300])
            return done

        async def initial_pulls() -> int | None:
            """In step from the first start: a full pull of every entity never pulled."""
            async with pool.acquire() as connection:
                return await initial_sync.ensure(connection, source_entities(settings), SCHEDULER_ACTOR)

        async def reconcile_all() -> dict[str, int]:
            return {e: (await reconciler.run_once(e)).drift.total for e in source_entities(settings)}

        configuration = ConfigCache(max_age=1.0, keyring=keyring)

        async def rescue_leases() -> rescue.RescueResult:
            current = await configuration.current(pool)
            result = await rescue.run_once(pool, current.worker__max_attempts)
            if result.rescued:
                doorbell.ring()
            return result

        handlers = {
            **replay_handlers(
                pool, doorbell.ring, config=InboxReplayConfig(max_json_depth=settings.max_json_depth)
            ),
            **source_job_handlers(pulls, reconciler, source_entities(settings)),
        }
        # two runners: a long inbox replay or full sync does not hold up a DLQ replay behind it
        runners = [JobRunner(pool, handlers), JobRunner(pool, handlers)]
        rollup = MetricsRollup(pool)
        digests = Digests(pool, daily_quota=source.daily_quota, keyring=keyring)
        jobs = [
            Job("retention", config.schedule__retention_cron, lambda: retention.run_once(pool)),
            Job("initial_sync", None, initial_pulls, every=60.0),
            Job("incremental_pull", config.schedule__pull_cron, pull_all),
            Job("reconciliation", config.schedule__reconcile_cron, reconcile_all),
            Job(
                "dlq_digest",
                config.schedule__dlq_digest_cron,
                lambda: digests.run_once(ReportKind.DLQ_DIGEST),
            ),
            Job(
                "performance_report",
                config.schedule__performance_report_cron,
                lambda: digests.run_once(ReportKind.PERFORMANCE),
            ),
            Job("alerts", None, alerts.run_once, every=1.0),
            Job("lease_rescue", None, rescue_leases, every=10.0),
            Job("metrics_rollup", None, rollup.run_once, every=config.metrics__rollup_seconds),
            *(Job(f"jobs_{n}", None, runner.run_once, every=1.0) for n, runner in enumerate(runners, 1)),
        ]
        if settings.webhook_complete_partial:
            hints = HintCompleter(pool, pulls.client, use_inventory=settings.zoho_use_inventory)
            jobs.append(Job("webhook_hints", None, hints.run_once, every=2.0))
        for job in jobs:
            job.zone = ZoneInfo(config.schedule__timezone)
        scheduler = Scheduler(url, jobs)

        async def follow_configuration() -> bool:
            """Schedules live in tds_configuration: a change takes effect within seconds."""
            current = await configuration.current(pool)
            zone = current.schedule__timezone
            changed = [
                scheduler.reschedule("retention", cron=current.schedule__retention_cron, zone=zone),
                scheduler.reschedule("incremental_pull", cron=current.schedule__pull_cron, zone=zone),
                scheduler.reschedule("reconciliation", cron=current.schedule__reconcile_cron, zone=zone),
                scheduler.reschedule("dlq_digest", cron=current.schedule__dlq_digest_cron, zone=zone),
                scheduler.reschedule(
                    "performance_report", cron=current.schedule__performance_report_cron, zone=zone
                ),
                scheduler.reschedule("metrics_rollup", every=current.metrics__rollup_seconds),
            ]
            return any(changed)

        scheduler.jobs.append(Job("configuration", None, follow_configuration, every=5.0))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, scheduler.stop)
        try:
            await scheduler.run()
        finally:
            await doorbell.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), 10)


async def _pool_when_reachable(
    settings: Settings, url: str, *, size: int, name: str, command_timeout: float = 60.0
) -> Any:
    while True:
        try:
            return await create_pool(
                url,
                min_size=1,
                max_size=size,
                timeout=settings.db_connect_timeout,
                command_timeout=command_timeout,
                application_name=name,
            )
        except Exception as exc:
            log.warning("database not reachable yet; retrying", error=str(exc))
            await asyncio.sleep(1.0)


async def run_worker(settings: Settings, url: str, concurrency: int) -> None:
    """Run one worker process until SIGTERM/SIGINT; exits after in-flight batches finish."""
    # a hung server releases the worker's batch after the command timeout (its lease then lapses
    # and another worker, or this one once the server answers, takes it again)
    pool = await _pool_when_reachable(
        settings, url, size=concurrency + 3, name="tds-worker", command_timeout=settings.db_command_timeout
    )
    try:
        async with pool.acquire() as connection:
            keyring = (await unlock_secrets(settings, connection)).keyring
    except BaseException:
        await pool.close()
        raise
    worker = Worker(pool, url, concurrency=concurrency, keyring=keyring)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    try:
        await worker.run()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pool.close(), 10)
