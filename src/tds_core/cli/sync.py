"""``tds sync`` and ``tds reconcile``: pull from Zoho now, or compare the ERP with it."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tds_core import app as composition
from tds_core.cli.environment import JsonOpt, console, database_url, print_json, settings_from_env, who
from tds_core.db.pool import create_pool
from tds_core.settings import Settings
from tds_core.source.pacing import configured_reserve


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
