"""Quota-aware pacing of pulls: what a pull may still spend of today's Zoho quota.

A pull leaves ``reserve_share`` of the daily quota (runtime key ``sync.quota_reserve``,
default 20 %) to webhook hints and reconciliation. Before each list page and before each
page's GETs it asks :meth:`QuotaBudget.available`; when nothing is left it stops cleanly
(``paused``) without moving the cursor, and the next run after the quota resets resumes: the
records the ERP already holds at their listed version cost no GET again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tds_core.config.runtime import RuntimeConfig
from tds_core.db import configuration as configuration_db
from tds_core.db.connection import Executor
from tds_core.source.zoho.rate_limit import RateLimiter, utc_now

RESERVE_KEY = "sync.quota_reserve"


async def configured_reserve(connection: Executor) -> float:
    """``sync.quota_reserve`` as configured (only that key is read: no secrets are opened)."""
    rows = await configuration_db.current(connection)
    mine = [row for row in rows if row["key"] == RESERVE_KEY]
    return RuntimeConfig.from_rows(mine).sync__quota_reserve


@dataclass(frozen=True)
class Pause:
    """Why a pull stopped before its end, and when it can go on."""

    reason: str
    resets_at: datetime

    def details(self) -> dict[str, Any]:
        return {"paused": {"reason": self.reason, "resets_at": self.resets_at.isoformat()}}


class QuotaBudget:
    """Calls a pull may still make today: the limiter's remaining quota minus the reserve."""

    def __init__(
        self, limiter: RateLimiter, reserve_share: float, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        if not 0 <= reserve_share < 1:
            raise ValueError("reserve_share must be in [0, 1)")
        self.limiter = limiter
        self.reserve_share = reserve_share
        self._clock = clock

    @property
    def reserve(self) -> int:
        """Calls kept back for webhook hints and reconciliation."""
        return math.ceil(self.reserve_share * self.limiter.daily_quota)

    async def available(self) -> int:
        return max(0, await self.limiter.remaining_today() - self.reserve)

    def resets_at(self) -> datetime:
        """When the quota is whole again: the end of a code-45 block, else the end of the day
        the limiter counts (the organization's, from Zoho's ``x-rate-limit-reset``), else the
        next UTC midnight."""
        now = self._clock()
        blocked = self.limiter.blocked_until
        if blocked is not None and blocked > now:
            return blocked
        counted = self.limiter.next_reset  # the organization's midnight once Zoho said it
        if counted is not None and counted > now:
            return counted
        utc = now.astimezone(UTC)
        return utc.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)

    def pause(self) -> Pause:
        return Pause(
            f"the pull stopped at the reserve of {self.reserve} calls "
            f"({self.reserve_share:.0%} of the daily quota of {self.limiter.daily_quota}) kept for "
            "webhook hints and reconciliation; it resumes when the quota resets",
            self.resets_at(),
        )
