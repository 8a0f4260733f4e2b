"""Webhook as a hint: complete partial webhooks by fetching the record from Zoho.

With ``TDS_WEBHOOK_COMPLETE_PARTIAL`` set, a webhook whose body is partial (little more than
the id, a document without its line items, stock without locations) is answered 202 as soon as
it is stored in the inbox with status ``hint``. This completer then fetches the full record by
id and stages it through the usual path (a new inbox event that names the hint), and marks the
hint ``fetched`` — in one transaction, so a hint is completed exactly once. A record Zoho no
longer has was deleted there: a delete is staged instead. If Zoho is unavailable or the quota
is spent, the remaining hints simply wait for the next pass.
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog

from tds_core.db.queries import QUERIES
from tds_core.domain.entities import ENTITIES
from tds_core.domain.states import Operation
from tds_core.errors import RetryableError
from tds_core.source.pull import plan_for
from tds_core.source.zoho.client import ZohoClient
from tds_core.source.zoho.errors import NotFound
from tds_core.staging.service import Envelope, Rejected, stage_event

log = structlog.get_logger("tds.hints")


class HintCompleter:
    def __init__(
        self, pool: Any, client: ZohoClient, *, batch: int = 20, use_inventory: bool = False
    ) -> None:
        self.pool = pool
        self.client = client
        self.batch = batch
        self.use_inventory = use_inventory

    async def run_once(self) -> int:
        """Complete up to ``batch`` waiting hints; returns how many were completed."""
        completed = 0
        async with self.pool.acquire() as connection, connection.transaction():
            for hint in await connection.fetch(QUERIES.inbox_claim_hints, self.batch):
                spec = ENTITIES[hint["entity"]]
                module = plan_for(hint["entity"], use_inventory=self.use_inventory).module
                try:
                    record = await self.client.get(module, hint["zoho_id"])
                    operation = Operation(hint["operation"])
                except NotFound:
                    record, operation = {spec.id_field: hint["zoho_id"]}, Operation.DELETED
                except RetryableError as exc:
                    log.info("hints wait for Zoho", error=str(exc)[:300])
                    break
                envelope = Envelope(
                    entity=spec.slug,
                    source="webhook",
                    received_at=hint["received_at"],  # latency counts from the original delivery
                    body=orjson.dumps(record),
                    content_type="application/json",
                    headers={"hint_of": str(hint["id"])},
                    correlation_id=hint["correlation_id"],
                )
                try:
                    staged_id = (await stage_event(connection, envelope, record, operation)).event_id
                except Rejected as exc:
                    staged_id = exc.event_id or 0
                await connection.execute(QUERIES.inbox_mark_fetched, hint["id"], staged_id)
                completed += 1
        if completed:
            await self.pool.execute(QUERIES.queue_notify)
            log.info("completed webhook hints", count=completed)
        return completed
