"""Counts no table row records, added to ``tds_metric_totals`` by the process that sees them.

- :class:`WebhookOutcomes` (API processes): webhook answers that store no new inbox row —
  a duplicate, or a refusal before anything was stored (401, 404, 413, 429, 503, ...). The
  webhook path only bumps a dict entry (no I/O, no lock: one event loop per process); a
  background task adds the counts to the totals every few seconds, so every API process's
  answers reach ``/metrics`` whichever process is scraped. A process killed with SIGKILL
  loses at most its last interval.
- :class:`ZohoThrottles` (any process with a Zoho client): each Zoho answer refusing a call
  for a limit (HTTP 429) is added at once — they are rare, and each costs a wait anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import structlog

from tds_core.db import metrics
from tds_core.db.connection import Executor
from tds_core.domain.entities import ENTITIES
from tds_core.observability.cumulative import WEBHOOK_REFUSALS, ZOHO_THROTTLED

log = structlog.get_logger("tds.metrics")

REFUSALS = {
    400: "malformed",
    401: "unauthorized",
    403: "forbidden",
    404: "unknown_entity",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


class WebhookOutcomes:
    """``duplicate(entity)`` / ``refused(entity, status)`` on the webhook path; ``run(pool)`` as
    a background task of the API process (it flushes once more when cancelled)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()

    def duplicate(self, entity: str) -> None:
        self._counts[(self._entity(entity), "duplicate")] += 1

    def refused(self, entity: str, status: int) -> None:
        """An answer with ``status`` that stored nothing (not for a stored, rejected event)."""
        self._counts[(self._entity(entity), REFUSALS.get(status, f"http_{status}"))] += 1

    @staticmethod
    def _entity(entity: str) -> str:
        return entity if entity in ENTITIES else "unknown"  # no label per made-up entity

    @property
    def pending(self) -> int:
        return sum(self._counts.values())

    async def flush(self, pool: Executor) -> int:
        """Add the counts so far to the totals; returns how many answers were added. On a
        database error the counts are kept for the next flush."""
        counts, self._counts = self._counts, Counter()
        if not counts:
            return 0
        rows: list[metrics.TotalAddition] = [
            {"name": WEBHOOK_REFUSALS, "labels": {"entity": entity, "outcome": outcome}, "value": n}
            for (entity, outcome), n in counts.items()
        ]
        try:
            await metrics.totals_add(pool, additions=rows)
        except Exception:
            self._counts.update(counts)
            raise
        return sum(counts.values())

    async def run(self, pool: Executor, every: float = 5.0) -> None:
        try:
            while True:
                await asyncio.sleep(every)
                try:
                    await self.flush(pool)
                except Exception as exc:
                    log.warning("webhook outcome counts not saved yet", error=str(exc)[:300])
        finally:
            with contextlib.suppress(Exception):
                await self.flush(pool)


class ZohoThrottles:
    """The ``on_throttled`` hook of :class:`tds_core.source.zoho.client.ZohoClient`."""

    def __init__(self, pool: Executor, organization_id: str) -> None:
        self.pool = pool
        self.organization_id = organization_id

    async def __call__(self, reason: str) -> None:
        row: metrics.TotalAddition = {
            "name": ZOHO_THROTTLED,
            "labels": {"organization": self.organization_id, "reason": reason},
            "value": 1,
        }
        try:
            await metrics.totals_add(self.pool, additions=[row])
        except Exception as exc:  # a metric must never fail a Zoho call
            log.warning("zoho 429 not counted", error=str(exc)[:300])
