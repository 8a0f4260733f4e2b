"""Reconciliation: prove, record by record, that the ERP matches Zoho, and heal the drift.

For one entity, a full scan of Zoho's list is compared with every ERP row:

- ``missing``: in Zoho, not in the ERP (a lost webhook, a record created before the rules);
- ``stale``: in both, Zoho's ``last_modified_time`` is newer than the ERP's version;
- ``extra``: live in the ERP before the scan began, not listed by the complete scan, and
  confirmed gone by a GET by id that Zoho answers "does not exist" (a delete nobody told us
  about; polling cannot see deletes);
- ``unconfirmed``: a delete candidate that is not deleted: the GET found it (a scan is not a
  snapshot: a record can move onto a page already read), it changed during the scan, or the
  GET failed for another reason. Reported with the reason, never tombstoned;
- ``conflicts``: in Zoho but tombstoned in the ERP; tombstones are final, so these are only
  reported, for an operator;
- for ``stock``: a location row whose quantities differ from Zoho's, or that Zoho no longer has.

Why the proof: tombstones are final (every later version of a tombstoned record ends
``skipped_stale``), so a wrong delete loses the record for good. The ERP's live ids are read
*before* the scan starts, so a record created in Zoho during the scan and delivered by webhook
is never a candidate; and a listing can leave a live record out (a record sorting onto a page
already read, a default filter), so every candidate is asked for by id before it is deleted.

Healing goes through the same staging and queue as every other change (source
``reconcile``): missing and stale records are fetched in full and staged, confirmed extra ones
are staged as deletes whose inbox event holds the proof (the run and Zoho's answer), and the
audit trail records them with actor ``reconcile``. The run is a ``tds_sync_runs`` row of kind
``reconcile`` with the drift count and the drifted ids in ``details``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import structlog

from tds_core.db import sync_runs
from tds_core.db.connection import Pool
from tds_core.db.erp import LIVE_VERSIONS, STATEMENTS
from tds_core.domain import exact_json
from tds_core.domain.entities import ENTITIES
from tds_core.domain.records import RecordError, normalize_id, record_version, stock_rows
from tds_core.domain.states import Operation
from tds_core.queue.doorbell import wake_workers
from tds_core.source.plans import plan_for
from tds_core.source.zoho.client import ZohoClient
from tds_core.source.zoho.errors import NotFound
from tds_core.staging.service import Envelope, Rejected, stage_event

log = structlog.get_logger("tds.reconcile")

MAX_IDS_IN_REPORT = 1000
STOCK_QUANTITIES = ("stock_on_hand", "available_stock", "actual_available_stock")


@dataclass
class Drift:
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    unconfirmed: dict[str, str] = field(default_factory=dict)
    """Delete candidates kept alive, with the reason (found by id, changed, GET failed)."""

    @property
    def total(self) -> int:
        return (
            len(self.missing)
            + len(self.stale)
            + len(self.extra)
            + len(self.conflicts)
            + len(self.unconfirmed)
        )

    def report(self) -> dict[str, Any]:
        return {
            name: sorted(ids)[:MAX_IDS_IN_REPORT]
            for name, ids in (
                ("missing", self.missing),
                ("stale", self.stale),
                ("extra", self.extra),
                ("conflicts", self.conflicts),
            )
        } | {
            "unconfirmed": dict(sorted(self.unconfirmed.items())[:MAX_IDS_IN_REPORT]),
            "counts": {
                "missing": len(self.missing),
                "stale": len(self.stale),
                "extra": len(self.extra),
                "conflicts": len(self.conflicts),
                "unconfirmed": len(self.unconfirmed),
            },
        }


@dataclass
class ReconcileResult:
    run_id: int
    entity: str
    checked: int = 0
    healed: int = 0
    api_calls: int = 0
    drift: Drift = field(default_factory=Drift)
    status: str = "running"
    error: str | None = None


class Reconciler:
    def __init__(self, pool: Pool, client: ZohoClient, *, use_inventory: bool = False) -> None:
        self.pool = pool
        self.client = client
        self.use_inventory = use_inventory
        self._proof: dict[str, str] = {}
        self._found: dict[str, dict[str, Any]] = {}

    async def run_once(
        self, entity: str, *, heal: bool = True, triggered_by: str = "scheduler"
    ) -> ReconcileResult:
        plan = plan_for(entity, use_inventory=self.use_inventory)
        self._proof, self._found = {}, {}
        run_id = await sync_runs.start(
            self.pool, entity=entity, kind="reconcile", triggered_by=triggered_by, cursor_from=None
        )
        result = ReconcileResult(run_id=run_id, entity=entity)
        calls_before = self.client.calls_made
        try:
            # Before the scan: what the ERP holds live. Only these can be delete candidates.
            before = await self._live_versions(entity)
            zoho: dict[str, dict[str, Any]] = {}
            async for record in self.client.iterate(plan.module, **plan.params):
                record_id = normalize_id(record.get(ENTITIES[entity].id_field))
                if record_id is not None:
                    zoho[record_id] = record
            result.checked = len(zoho)
            if entity == "stock":
                await self._compare_stock(zoho, result.drift)
            else:
                await self._compare(entity, zoho, result.drift)
            await self._confirm_deletes(entity, plan, before, result)
            if heal and result.drift.total:
                result.healed = await self._heal(entity, plan.detail, zoho, result.drift, run_id)
            result.status = "succeeded"
        except Exception as exc:
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("reconciliation failed", entity=entity, run_id=run_id, error=result.error)
        result.api_calls = self.client.calls_made - calls_before
        await sync_runs.finish_reconcile(
            self.pool,
            run_id=run_id,
            status=result.status,
            fetched=result.checked,
            queued=result.healed,
            api_calls=result.api_calls,
            drift=result.drift.total,
            details=result.drift.report(),
            error=result.error,
        )
        if result.drift.total:
            await wake_workers(self.pool)
        log.info(
            "reconciliation done",
            entity=entity,
            run_id=run_id,
            checked=result.checked,
            drift=result.drift.total,
            healed=result.healed,
            status=result.status,
        )
        return result

    async def _compare(self, entity: str, zoho: dict[str, dict[str, Any]], drift: Drift) -> None:
        spec = ENTITIES[entity]
        erp = {r["zoho_id"]: r for r in await self.pool.fetch(STATEMENTS[entity].all_versions)}
        for record_id, record in zoho.items():
            held = erp.get(record_id)
            if held is None:
                drift.missing.append(record_id)
            elif held["deleted"]:
                drift.conflicts.append(record_id)
            else:
                version = _version(record, spec.module_key)
                if version is not None and version > held["source_version"]:
                    drift.stale.append(record_id)
        drift.extra.extend(rid for rid, row in erp.items() if not row["deleted"] and rid not in zoho)

    async def _live_versions(self, entity: str) -> dict[str, datetime]:
        """The ERP's live records (stock: items) and their newest version, read before a scan."""
        return {str(r["zoho_id"]): r["source_version"] for r in await self.pool.fetch(LIVE_VERSIONS[entity])}

    async def _confirm_deletes(
        self, entity: str, plan: Any, before: dict[str, datetime], result: ReconcileResult
    ) -> None:
        """Keep as ``extra`` only what was live before the scan, is unchanged since, and Zoho
        says by id does not exist; everything else moves to ``unconfirmed`` with its reason."""
        drift = result.drift
        candidates, drift.extra = drift.extra, []
        now = await self._live_versions(entity)
        for record_id in candidates:
            if record_id not in before:
                continue  # created (and applied) during the scan: the listing simply missed it
            if record_id not in now:
                continue  # deleted in the ERP during the scan (a delete webhook): nothing to do
            if now[record_id] != before[record_id]:
                drift.unconfirmed[record_id] = "changed in the ERP during the scan"
                continue
            try:
                found = await self.client.get(plan.module, record_id)
            except NotFound as exc:
                drift.extra.append(record_id)
                self._proof[record_id] = str(exc)[:500]
                continue
            except Exception as exc:  # any other answer proves nothing: report, never delete
                drift.unconfirmed[record_id] = f"GET by id failed: {type(exc).__name__}: {exc}"[:500]
                continue
            drift.unconfirmed[record_id] = "listed nowhere in the scan, but Zoho returns it by id"
            version = _version(found, ENTITIES[entity].module_key)
            if entity != "stock" and version is not None and version > before[record_id]:
                self._found[record_id] = found  # newer than the ERP's copy: heal it as stale
        if drift.unconfirmed:
            log.warning(
                "reconciliation kept delete candidates",
                entity=entity,
                run_id=result.run_id,
                count=len(drift.unconfirmed),
                sample=dict(sorted(drift.unconfirmed.items())[:5]),
            )

    async def _compare_stock(self, zoho: dict[str, dict[str, Any]], drift: Drift) -> None:
        spec = ENTITIES["stock"]
        erp: dict[tuple[str, str], Any] = {
            (r["item_zoho_id"], r["location_id"]): r
            for r in await self.pool.fetch(STATEMENTS["stock"].all_versions)
        }
        seen: set[tuple[str, str]] = set()
        for item_id, record in zoho.items():
            if not (record.get("locations") or record.get("warehouses")):
                continue
            for row in stock_rows(spec, record):
                key = (item_id, str(row["location_id"]))
                seen.add(key)
                held = erp.get(key)
                if held is None:
                    drift.missing.append(item_id)
                elif held["deleted"]:
                    drift.conflicts.append(item_id)
                elif any(_decimal(held[q]) != _decimal(row[q]) for q in STOCK_QUANTITIES):
                    drift.stale.append(item_id)
        extra = {
            key[0] for key, row in erp.items() if key[1] != "*" and not row["deleted"] and key not in seen
        }
        for item_id in extra:
            if item_id in zoho:
                drift.stale.append(item_id)  # a location Zoho no longer lists: re-stage the item
            else:
                drift.extra.append(item_id)
        drift.missing[:] = sorted(set(drift.missing))
        drift.stale[:] = sorted(set(drift.stale) - set(drift.missing))
        drift.conflicts[:] = sorted(set(drift.conflicts))

    async def _heal(
        self, entity: str, detail: bool, zoho: dict[str, dict[str, Any]], drift: Drift, run_id: int
    ) -> int:
        healed = 0
        module = plan_for(entity, use_inventory=self.use_inventory).module
        for record_id in [*drift.missing, *drift.stale]:
            # list rows of documents lack their line items: heal with the full record
            record = await self.client.get(module, record_id) if detail else zoho[record_id]
            healed += await self._stage(entity, record, Operation.UPSERT)
        for record in self._found.values():
            healed += await self._stage(entity, record, Operation.UPSERT)
        spec = ENTITIES[entity]
        for record_id in drift.extra:
            # The proof travels with the delete: its inbox event names the run and Zoho's answer.
            proof = {"reconcile_run_id": str(run_id), "confirmed_by": self._proof.get(record_id, "")}
            healed += await self._stage(entity, {spec.id_field: record_id}, Operation.DELETED, proof)
        return healed

    async def _stage(
        self,
        entity: str,
        record: dict[str, Any],
        operation: Operation,
        headers: dict[str, str] | None = None,
    ) -> int:
        envelope = Envelope(
            entity=entity,
            source="reconcile",
            received_at=datetime.now(UTC),
            body=exact_json.dumps(record),
            content_type="application/json",
            headers=headers or {},
        )
        try:
            staged = await stage_event(self.pool, envelope, record, operation)
        except Rejected as exc:
            log.warning("reconciliation could not stage a record", entity=entity, reasons=exc.reasons[:5])
            return 0
        return 1 if staged.status == "queued" else 0


def _version(record: dict[str, Any], where: str) -> datetime | None:
    sentinel = datetime.min.replace(tzinfo=UTC)
    try:
        version = record_version(record, sentinel, where)
    except RecordError:
        return None
    return None if version == sentinel else version


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None
