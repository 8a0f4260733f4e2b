"""Incremental pull: fetch changed records from Zoho and stage them like webhooks.

Per entity, the strategy the reference supports (``zoho-books-reference.md`` sections 3 and
10; the plans, and which entities need a GET per record, are in ``source/plans.py``):

- invoices, bills (Books): ``modified_filter``, ``last_modified_time`` >= watermark - overlap;
- contacts (Books): ``sorted_watermark``, sorted by ``last_modified_time`` descending, stopping
  below the watermark — only while the answer's ``page_context`` echoes that sort. When it
  echoes another (or none), the run logs it and falls back to scanning every page, comparing
  each row's version with the ERP's (no early stop), so nothing edited is missed;
- items: Books ``full_scan`` (``filter_by=Status.All``), or Inventory ``modified_filter`` when
  enabled;
- creditnotes (Books): ``full_scan``;
- stock (Inventory items with ``locations[]``): ``modified_filter``;
- pricebooks (Inventory): ``full_scan``.

Every page is staged in one transaction (inbox + queue rows, source ``pull``); duplicates of
what a webhook already delivered are absorbed by idempotency. The cursor in
``tds_sync_cursors`` moves only in the transaction that commits the last page, so a pull
killed half-way leaves the old watermark and the next run fetches the same window again —
never a gap. Each run is a ``tds_sync_runs`` row with its counts, API calls and duration.

Pacing (``source/pacing.py``): before each list page and each page's GETs the pull checks what
is left of the daily quota above the reserve (``sync.quota_reserve``). When it is spent (or Zoho
answers code 45) the run ends ``paused``, with the reason and the reset time in its details,
after committing what it fetched and without moving the cursor; the next run resumes, and
records the ERP already holds at their listed version need no GET.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from tds_core.db import cursors, sync_runs
from tds_core.db.connection import Executor, Pool, connected, transaction
from tds_core.db.erp import STATEMENTS
from tds_core.domain import exact_json
from tds_core.domain.entities import ENTITIES, ENTITY_SLUGS
from tds_core.domain.records import RecordError, extract_record, record_version
from tds_core.domain.states import Operation
from tds_core.queue.doorbell import wake_workers
from tds_core.source.pacing import Pause, QuotaBudget, configured_reserve
from tds_core.source.plans import PullPlan, plan_for
from tds_core.source.zoho.client import Page, ZohoClient
from tds_core.source.zoho.errors import NotFound, QuotaExhausted
from tds_core.source.zoho.rate_limit import Clock, RateLimiter, utc_now
from tds_core.staging.service import Envelope, Rejected, stage_event

__all__ = ["RUN_STATUSES", "PullConfig", "PullPlan", "PullResult", "Puller", "plan_for", "source_entities"]

log = structlog.get_logger("tds.pull")

RUN_STATUSES = ("running", "succeeded", "failed", "cancelled", "paused")
"""``tds_sync_runs.status`` (the CHECK of migration 0012): ``running`` while a pull or
reconciliation works; ``succeeded`` / ``failed`` when it ends; ``cancelled`` (a job stopped);
``paused``: a pull stopped at the quota reserve, cursor unmoved, resumed by the next run."""


@dataclass(frozen=True)
class PullConfig:
    overlap: timedelta = timedelta(minutes=5)
    use_inventory: bool = False
    quota_reserve: float | None = None
    """Share of the daily quota left to hints and reconciliation; None reads ``sync.quota_reserve``."""


@dataclass
class PullResult:
    run_id: int
    entity: str
    kind: str
    fetched: int = 0
    queued: int = 0
    unchanged: int = 0
    failed: int = 0
    api_calls: int = 0
    watermark: datetime | None = None
    status: str = "running"
    error: str | None = None
    details: dict[str, Any] | None = None
    """A paused run's reason and reset time; a sort the answer did not apply."""


Progress = Callable[[PullResult], None]


class Puller:
    def __init__(
        self,
        pool: Pool,
        client: ZohoClient,
        config: PullConfig = PullConfig(),
        *,
        limiter: RateLimiter | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.pool = pool
        self.client = client
        self.config = config
        self.limiter = limiter or client.limiter
        self.clock = clock

    async def run_once(
        self,
        entity: str,
        *,
        full: bool = False,
        triggered_by: str = "scheduler",
        progress: Progress | None = None,
    ) -> PullResult:
        """Pull one entity. ``full`` ignores the watermark (a full resync)."""
        plan = plan_for(entity, use_inventory=self.config.use_inventory)
        kind = "full" if full or plan.strategy == "full_scan" else "incremental"
        async with connected(self.pool) as connection:
            cursor = await cursors.get(connection, entity=entity)
            watermark: datetime | None = cursor["watermark"] if cursor else None
            reserve = self.config.quota_reserve
            if reserve is None:
                reserve = await configured_reserve(connection)
            run_id = await sync_runs.start(
                connection,
                entity=entity,
                kind=kind,
                triggered_by=triggered_by,
                cursor_from=watermark.isoformat() if watermark else None,
            )
        budget = QuotaBudget(self.limiter, reserve, clock=self.clock)
        result = PullResult(run_id=run_id, entity=entity, kind=kind, watermark=watermark)
        calls_before = self.client.calls_made
        threshold = watermark - self.config.overlap if watermark and not full else None
        params: dict[str, Any] = dict(plan.params)
        if threshold is not None and plan.strategy == "modified_filter":
            params["last_modified_time"] = threshold
        newest = watermark
        sorted_by_version = plan.strategy == "sorted_watermark"
        pause: Pause | None = None
        try:
            number = 1
            while True:
                if await budget.available() < 1:
                    pause = budget.pause()
                    break
                try:
                    page = await self.client.list_page(plan.module, number, **params)
                except QuotaExhausted as exc:
                    pause = Pause(str(exc), exc.retry_at)
                    break
                if sorted_by_version and not self._sort_applied(plan, page, result):
                    sorted_by_version = False
                rows = page.records
                if plan.detail:
                    try:
                        records = await self._complete(plan, rows, await budget.available())
                    except QuotaExhausted as exc:
                        records, pause = [], Pause(str(exc), exc.retry_at)
                    if len(records) < len(rows):
                        pause = pause or budget.pause()
                else:
                    records = list(rows)
                stop = False
                async with connected(self.pool) as connection, transaction(connection):
                    for row, record in zip(rows, records, strict=False):
                        staged_version = await self._stage(connection, plan, record, result)
                        version = staged_version or _list_version(ENTITIES[plan.entity], row)
                        if version is not None and (newest is None or version > newest):
                            newest = version
                        if sorted_by_version and threshold and version and version < threshold:
                            stop = True  # sorted newest first: the rest is older than the window
                    result.api_calls = self.client.calls_made - calls_before
                    more = page.has_more_page and bool(rows)
                    if page.has_more_page and not rows:
                        log.warning("zoho_empty_page_with_more", module=plan.module.name, page=number)
                    last = pause is None and (stop or not more)
                    if last:
                        full_scan = plan.strategy == "full_scan" or kind == "full" or not sorted_by_version
                        await self._finish(connection, result, plan, newest, full_scan)
                await wake_workers(self.pool)
                if progress:
                    progress(result)
                if last or pause is not None:
                    break
                number += 1
            if pause is not None:
                await self._pause(result, pause, calls_before)
        except Exception as exc:
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
            result.api_calls = self.client.calls_made - calls_before
            await self._record(result, "failed", None)
            log.warning("pull failed", entity=entity, run_id=run_id, error=result.error)
            raise
        log.info(
            "pull done" if pause is None else "pull paused",
            entity=entity,
            run_id=run_id,
            kind=kind,
            status=result.status,
            fetched=result.fetched,
            queued=result.queued,
            unchanged=result.unchanged,
            failed=result.failed,
            api_calls=result.api_calls,
        )
        return result

    def _sort_applied(self, plan: PullPlan, page: Page, result: PullResult) -> bool:
        """Whether the page says it is in the order asked for; if not, log asked vs echoed and
        note it in the run's details (the run then scans every page)."""
        asked = {name: plan.params[name] for name in ("sort_column", "sort_order") if name in plan.params}
        echoed = {name: page.context.get(name) for name in asked}
        if echoed == asked:
            return True
        log.warning(
            "zoho_sort_not_applied",
            entity=plan.entity,
            page=page.number,
            asked=asked,
            echoed=echoed,
            fallback="scan every page, comparing versions with the ERP",
        )
        result.details = {
            **(result.details or {}),
            "sort_not_applied": {"asked": asked, "echoed": echoed, "page": page.number},
        }
        return False

    async def _complete(
        self, plan: PullPlan, rows: list[dict[str, Any]], budget: int
    ) -> list[dict[str, Any] | None]:
        """Full records for list rows that are new or newer than the ERP's; None where the ERP
        already holds that version (counted as unchanged without an extra API call). At most
        ``budget`` GETs: the answer stops before the first row it could not fetch."""
        spec = ENTITIES[plan.entity]
        held = {
            r["zoho_id"]: r["source_version"]
            for r in await self.pool.fetch(
                STATEMENTS[plan.entity].versions, [str(row.get(spec.id_field)) for row in rows]
            )
        }
        complete: list[dict[str, Any] | None] = []
        for row in rows:
            record_id = str(row.get(spec.id_field))
            version = _list_version(spec, row)
            if record_id in held and version is not None and version <= held[record_id]:
                complete.append(None)
                continue
            if budget < 1:
                break
            budget -= 1
            try:
                complete.append(await self.client.get(plan.module, record_id))
            except NotFound:
                # listed, then deleted before we fetched it: nothing to stage now; the delete
                # arrives as a webhook or is found by reconciliation
                complete.append(None)
        return complete

    async def _stage(
        self, connection: Executor, plan: PullPlan, record: dict[str, Any] | None, result: PullResult
    ) -> datetime | None:
        result.fetched += 1
        if record is None:
            result.unchanged += 1  # the ERP already holds this version
            return None
        if plan.entity == "stock" and not (record.get("locations") or record.get("warehouses")):
            result.unchanged += 1  # a service or non-tracked item carries no stock to sync
            return None
        received = datetime.now(UTC)
        envelope = Envelope(
            entity=plan.entity,
            source="pull",
            received_at=received,
            body=exact_json.dumps(record),
            content_type="application/json",
            headers={"zoho_module": plan.module.name},
        )
        try:
            staged = await stage_event(connection, envelope, record, Operation.UPSERT)
        except Rejected as exc:
            result.failed += 1
            log.warning("pulled record rejected", entity=plan.entity, reasons=exc.reasons[:5])
            return None
        if staged.status == "queued":
            result.queued += 1
        else:
            result.unchanged += 1
        try:
            version = record_version(extract_record(ENTITIES[plan.entity], record), received, plan.entity)
        except RecordError:
            return None
        return version if version != received else None

    async def _finish(
        self,
        connection: Executor,
        result: PullResult,
        plan: PullPlan,
        newest: datetime | None,
        full_scan: bool,
    ) -> None:
        """The cursor and the run end in the same transaction as the last page's records."""
        result.status = "succeeded"
        result.watermark = newest
        await cursors.advance(
            connection,
            entity=plan.entity,
            strategy=plan.strategy,
            watermark=newest,
            run_id=result.run_id,
            full_scan=full_scan,
        )
        await self._record(result, "succeeded", newest, connection)

    async def _pause(self, result: PullResult, pause: Pause, calls_before: int) -> None:
        """Stop cleanly at the quota: what was fetched is committed, the cursor stays."""
        result.status = "paused"
        result.api_calls = self.client.calls_made - calls_before
        result.details = {**(result.details or {}), **pause.details()}
        await self._record(result, "paused", None)
        log.warning(
            "pull paused at the quota reserve",
            entity=result.entity,
            run_id=result.run_id,
            reason=pause.reason,
            resets_at=pause.resets_at.isoformat(),
        )

    async def _record(
        self, result: PullResult, status: str, newest: datetime | None, connection: Executor | None = None
    ) -> None:
        await sync_runs.finish(
            connection or self.pool,
            run_id=result.run_id,
            status=status,
            fetched=result.fetched,
            queued=result.queued,
            unchanged=result.unchanged,
            failed=result.failed,
            api_calls=result.api_calls,
            cursor_to=newest.isoformat() if newest else None,
            error=result.error,
            details=result.details,
        )


_NO_VERSION = datetime.min.replace(tzinfo=UTC)


def _list_version(spec: Any, row: dict[str, Any]) -> datetime | None:
    """The row's Zoho version, or None when it carries none (e.g. Books item rows)."""
    try:
        version = record_version(row, _NO_VERSION, spec.module_key)
    except RecordError:
        return None
    return None if version == _NO_VERSION else version


def source_entities(*, use_inventory: bool) -> list[str]:
    """Entities the source can serve: stock levels and price lists need Zoho Inventory (or the
    simulator, which serves both)."""
    return [e for e in ENTITY_SLUGS if use_inventory or e not in ("stock", "pricebooks")]
