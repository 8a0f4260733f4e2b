"""Incremental pull: fetch changed records from Zoho and stage them like webhooks.

Per entity, the strategy the reference supports (``zoho-books-reference.md`` section 3):

- invoices, bills (Books): ``modified_filter``, ``last_modified_time`` >= watermark - overlap;
- contacts (Books): ``sorted_watermark``, sorted by ``last_modified_time`` descending, stopping
  below the watermark;
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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import structlog

from tds_core.db.erp import STATEMENTS
from tds_core.db.queries import QUERIES
from tds_core.domain.entities import ENTITIES, ENTITY_SLUGS
from tds_core.domain.records import RecordError, extract_record, record_version
from tds_core.domain.states import Operation
from tds_core.source.zoho.client import ZohoClient
from tds_core.source.zoho.errors import NotFound
from tds_core.source.zoho.modules import (
    BILLS,
    BOOKS_ITEMS,
    CONTACTS,
    CREDIT_NOTES,
    INVENTORY_ITEMS,
    INVOICES,
    PRICEBOOKS,
    ZohoModule,
)
from tds_core.staging.service import Envelope, Rejected, stage_event

log = structlog.get_logger("tds.pull")


@dataclass(frozen=True)
class PullPlan:
    entity: str
    module: ZohoModule
    strategy: str  # modified_filter | sorted_watermark | full_scan
    params: dict[str, str] = field(default_factory=dict)
    # List rows are a subset of the record (no line items, no contact persons): fetch each new
    # or newer record by id, and never stage a list row over a fuller record.
    detail: bool = False


def plan_for(entity: str, *, use_inventory: bool = False) -> PullPlan:
    """How ``entity`` is pulled (see the table in the module docstring)."""
    plans = {
        "invoices": PullPlan("invoices", INVOICES, "modified_filter", detail=True),
        "bills": PullPlan("bills", BILLS, "modified_filter", detail=True),
        "contacts": PullPlan(
            "contacts",
            CONTACTS,
            "sorted_watermark",
            {"sort_column": "last_modified_time", "sort_order": "D"},
            detail=True,
        ),
        "items": (
            PullPlan("items", INVENTORY_ITEMS, "modified_filter", {"filter_by": "Status.All"})
            if use_inventory
            else PullPlan("items", BOOKS_ITEMS, "full_scan", {"filter_by": "Status.All"})
        ),
        "creditnotes": PullPlan("creditnotes", CREDIT_NOTES, "full_scan", detail=True),
        # Status.All: Zoho lists active items only by default, and an inactive item still has
        # stock (reconciliation would otherwise tombstone its locations as "extra").
        "stock": PullPlan("stock", INVENTORY_ITEMS, "modified_filter", {"filter_by": "Status.All"}),
        "pricebooks": PullPlan("pricebooks", PRICEBOOKS, "full_scan"),
    }
    if entity not in plans:
        raise ValueError(f"unknown entity {entity!r}: expected one of {', '.join(plans)}")
    return plans[entity]


@dataclass(frozen=True)
class PullConfig:
    overlap: timedelta = timedelta(minutes=5)
    use_inventory: bool = False


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


Progress = Callable[[PullResult], None]


class Puller:
    def __init__(self, pool: Any, client: ZohoClient, config: PullConfig = PullConfig()) -> None:
        self.pool = pool
        self.client = client
        self.config = config

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
        async with self.pool.acquire() as connection:
            cursor = await connection.fetchrow(QUERIES.cursor_get, entity)
            watermark: datetime | None = cursor["watermark"] if cursor else None
            run_id = await connection.fetchval(
                QUERIES.sync_run_start,
                entity,
                kind,
                triggered_by,
                watermark.isoformat() if watermark else None,
            )
        result = PullResult(run_id=run_id, entity=entity, kind=kind, watermark=watermark)
        calls_before = self.client.calls_made
        threshold = watermark - self.config.overlap if watermark and not full else None
        params: dict[str, Any] = dict(plan.params)
        if threshold is not None and plan.strategy == "modified_filter":
            params["last_modified_time"] = threshold
        newest = watermark
        try:
            async for page in self.client.iterate_pages(plan.module, **params):
                stop = False
                records = await self._complete(plan, page.records) if plan.detail else page.records
                async with self.pool.acquire() as connection, connection.transaction():
                    for row, record in zip(page.records, records, strict=True):
                        staged_version = await self._stage(connection, plan, record, result)
                        version = staged_version or _list_version(ENTITIES[plan.entity], row)
                        if version is not None and (newest is None or version > newest):
                            newest = version
                        if (
                            plan.strategy == "sorted_watermark"
                            and threshold
                            and version
                            and version < threshold
                        ):
                            stop = True  # sorted newest first: the rest is older than the window
                    result.api_calls = self.client.calls_made - calls_before
                    last = stop or not page.has_more_page
                    if last:
                        await self._finish(connection, result, plan, newest, "succeeded")
                await self.pool.execute(QUERIES.queue_notify)
                if progress:
                    progress(result)
                if last:
                    break
            if result.status == "running":  # an empty list: nothing was iterated
                async with self.pool.acquire() as connection, connection.transaction():
                    await self._finish(connection, result, plan, newest, "succeeded")
        except Exception as exc:
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
            result.api_calls = self.client.calls_made - calls_before
            async with self.pool.acquire() as connection:
                await connection.execute(
                    QUERIES.sync_run_finish,
                    run_id,
                    "failed",
                    result.fetched,
                    result.queued,
                    result.unchanged,
                    result.failed,
                    result.api_calls,
                    None,
                    result.error,
                )
            log.warning("pull failed", entity=entity, run_id=run_id, error=result.error)
            raise
        log.info(
            "pull done",
            entity=entity,
            run_id=run_id,
            kind=kind,
            fetched=result.fetched,
            queued=result.queued,
            unchanged=result.unchanged,
            failed=result.failed,
            api_calls=result.api_calls,
        )
        return result

    async def _complete(self, plan: PullPlan, rows: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
        """Full records for list rows that are new or newer than the ERP's; None where the ERP
        already holds that version (counted as unchanged without an extra API call)."""
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
            try:
                complete.append(await self.client.get(plan.module, record_id))
            except NotFound:
                # listed, then deleted before we fetched it: nothing to stage now; the delete
                # arrives as a webhook or is found by reconciliation
                complete.append(None)
        return complete

    async def _stage(
        self, connection: Any, plan: PullPlan, record: dict[str, Any] | None, result: PullResult
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
            body=orjson.dumps(record),
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
        self, connection: Any, result: PullResult, plan: PullPlan, newest: datetime | None, status: str
    ) -> None:
        """The cursor and the run end in the same transaction as the last page's records."""
        result.status = status
        result.watermark = newest
        await connection.execute(
            QUERIES.cursor_advance,
            plan.entity,
            plan.strategy,
            newest,
            result.run_id,
            plan.strategy == "full_scan" or result.kind == "full",
        )
        await connection.execute(
            QUERIES.sync_run_finish,
            result.run_id,
            status,
            result.fetched,
            result.queued,
            result.unchanged,
            result.failed,
            result.api_calls,
            newest.isoformat() if newest else None,
            None,
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
