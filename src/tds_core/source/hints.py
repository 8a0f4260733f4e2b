"""Webhook as a hint: complete partial webhooks by fetching the record from Zoho.

With ``TDS_WEBHOOK_COMPLETE_PARTIAL`` set, a webhook whose body is partial (little more than
the id, a document without its line items, stock without locations) is answered 202 as soon as
it is stored in the inbox with status ``hint``. This completer then fetches the full record by
id and stages it through the usual path (a new inbox event that names the hint), and marks the
hint ``fetched`` — in one transaction, so a hint is completed exactly once. A record Zoho no
longer has was deleted there: a delete is staged instead. If Zoho is unavailable or the quota
is spent, the remaining hints simply wait for the next pass.

A delete is staged only when Zoho says the *record* is missing. Code 1002 also means "Invalid
URL Passed" (a wrong API base or module path), and its message text must not be branched on,
so a by-id GET answering 1002 is confirmed with a one-row list call on the same module: if the
list is refused too, the URL is wrong, no delete is staged, the hints wait, and the
:class:`InvalidURL` configuration error is raised (after the hints completed so far are saved).
"""

from __future__ import annotations

import structlog

from tds_core.db import inbox
from tds_core.db.connection import Pool, connected, transaction
from tds_core.domain import exact_json
from tds_core.domain.entities import ENTITIES
from tds_core.domain.states import Operation
from tds_core.errors import RetryableError
from tds_core.queue.doorbell import wake_workers
from tds_core.source.pull import plan_for
from tds_core.source.zoho.client import ZohoClient
from tds_core.source.zoho.errors import InvalidURL, NotFound
from tds_core.staging.service import Envelope, Rejected, stage_event

log = structlog.get_logger("tds.hints")


class HintCompleter:
    def __init__(
        self, pool: Pool, client: ZohoClient, *, batch: int = 20, use_inventory: bool = False
    ) -> None:
        self.pool = pool
        self.client = client
        self.batch = batch
        self.use_inventory = use_inventory

    async def run_once(self) -> int:
        """Complete up to ``batch`` waiting hints; returns how many were completed."""
        completed = 0
        misconfigured: InvalidURL | None = None
        async with connected(self.pool) as connection, transaction(connection):
            for hint in await inbox.claim_hints(connection, limit=self.batch):
                spec = ENTITIES[hint["entity"]]
                module = plan_for(hint["entity"], use_inventory=self.use_inventory).module
                try:
                    try:
                        record = await self.client.get(module, hint["zoho_id"])
                        operation = Operation(hint["operation"])
                    except NotFound:
                        await self.client.list_page(module, 1, per_page=1)  # the URL itself is right?
                        record, operation = {spec.id_field: hint["zoho_id"]}, Operation.DELETED
                except InvalidURL as exc:
                    log.error("hints wait: Zoho does not know the URL", error=str(exc)[:300])
                    misconfigured = exc
                    break
                except NotFound as exc:  # the module's list itself is "not found": a wrong URL
                    log.error("hints wait: Zoho does not know the URL", error=str(exc)[:300])
                    misconfigured = InvalidURL(str(exc), status=exc.status, code=exc.code)
                    break
                except RetryableError as exc:
                    log.info("hints wait for Zoho", error=str(exc)[:300])
                    break
                envelope = Envelope(
                    entity=spec.slug,
                    source="webhook",
                    received_at=hint["received_at"],  # latency counts from the original delivery
                    body=exact_json.dumps(record),
                    content_type="application/json",
                    headers={"hint_of": str(hint["id"])},
                    correlation_id=hint["correlation_id"],
                )
                try:
                    staged_id = (await stage_event(connection, envelope, record, operation)).event_id
                except Rejected as exc:
                    staged_id = exc.event_id or 0
                await inbox.mark_fetched(connection, hint_id=hint["id"], event_id=staged_id)
                completed += 1
        if completed:
            await wake_workers(self.pool)
            log.info("completed webhook hints", count=completed)
        if misconfigured is not None:
            raise misconfigured
        return completed
