"""The alert engine: one evaluation turns the firing conditions into alert rows and queued
notifications, in one transaction.

Each ``run_once``:

1. reads a snapshot and evaluates the rules;
2. opens an alert per new fingerprint, or bumps the live one (occurrences, last seen, the
   latest figures) — a condition that holds for an hour is one alert, not 720;
3. applies the silences in force (muted alerts are neither notified nor escalated; when a
   silence ends the alert is live again);
4. resolves the live alerts of evaluated rules whose condition cleared;
5. queues the notifications: ``opened``/``reopened`` once per alert to level 0,
   ``escalated`` to the next level when an open alert stayed unacknowledged for
   ``alerts.escalate_after_minutes``, ``resolved`` to every level told so far.

Sending is the :class:`~tds_core.alerts.delivery.DeliveryRunner`'s job: deliveries are rows,
so a notification survives a crash between deciding and sending, and is retried.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import orjson
import structlog

from tds_core.alerts import oncall, snapshot
from tds_core.alerts.rules import RULES_BY_NAME, Condition, evaluate
from tds_core.alerts.states import DeliveryReason
from tds_core.config.runtime import RuntimeConfig
from tds_core.config.runtime import load as load_config
from tds_core.db import alerts as stored
from tds_core.db.connection import Executor, Pool, connected, transaction

log = structlog.get_logger("tds.alerts")


@dataclass
class EvaluationResult:
    """What one evaluation changed."""

    firing: int = 0
    opened: int = 0
    updated: int = 0
    resolved: int = 0
    silenced: int = 0
    notified: int = 0
    escalated: int = 0
    deliveries: int = 0

    def __bool__(self) -> bool:
        """True when something changed (the scheduler logs quiet runs at debug level)."""
        return bool(self.opened or self.resolved or self.silenced or self.escalated or self.deliveries)


@dataclass(frozen=True)
class Planned:
    alert_id: int
    reason: DeliveryReason
    level: int
    channel: str
    channel_type: str
    recipient: str | None


def plan(
    config: RuntimeConfig, alert_id: int, reason: DeliveryReason, levels: Iterable[int], at: datetime
) -> list[Planned]:
    """One delivery per channel (and on-call member) of the given levels; a channel shared by
    levels with the same member is told once."""
    planned: dict[tuple[str, str | None], Planned] = {}
    for level in levels:
        for channel, member in oncall.targets(config, level, at):
            name = member.name if member else None
            planned.setdefault(
                (channel.name, name), Planned(alert_id, reason, level, channel.name, channel.type, name)
            )
    return list(planned.values())


def _unique(conditions: Iterable[Condition]) -> list[Condition]:
    """One condition per fingerprint (the first): an upsert may touch each row once."""
    seen: dict[str, Condition] = {}
    for condition in conditions:
        seen.setdefault(condition.fingerprint, condition)
    return list(seen.values())


class AlertEngine:
    def __init__(
        self,
        pool: Pool,
        *,
        daily_quota: int,
        organization_id: str | None,
        host_probe: snapshot.HostProbe | None = None,
    ) -> None:
        self.pool = pool
        self.daily_quota = daily_quota
        self.organization_id = organization_id
        self.host_probe = host_probe

    async def run_once(
        self, now: datetime | None = None, config: RuntimeConfig | None = None
    ) -> EvaluationResult:
        """Evaluate the rules at ``now`` (the database's clock when None) and queue notifications."""
        async with connected(self.pool) as connection, transaction(connection):
            await stored.engine_lock(connection)
            if config is None:
                config = await load_config(connection)
            numbers = await snapshot.read(
                connection,
                config,
                now=now,
                organization_id=self.organization_id,
                daily_quota=self.daily_quota,
                host_probe=self.host_probe,
            )
            at: datetime = numbers.at
            evaluation = evaluate(numbers, config)
            firing = await self._without_finished_events(connection, _unique(evaluation.conditions))
            result = EvaluationResult(firing=len(firing))
            if firing:
                rows = await stored.upsert_firing(
                    connection,
                    now=at,
                    firing=[
                        stored.Firing(
                            rule=c.rule,
                            fingerprint=c.fingerprint,
                            severity=c.severity.value,
                            title=c.title[:500],
                            message=c.message[:4000],
                            details=orjson.dumps(c.stored_details()).decode(),
                        )
                        for c in firing
                    ],
                )
                result.opened = sum(1 for r in rows if r["inserted"])
                result.updated = len(rows) - result.opened
            silences = await stored.apply_silences(connection, now=at)
            result.silenced = sum(1 for r in silences if r["status"] == "silenced")
            resolved = await stored.resolve_cleared(
                connection, now=at, rules=sorted(evaluation.evaluated), firing=[c.fingerprint for c in firing]
            )
            result.resolved = len(resolved)
            planned: list[Planned] = []
            for row in resolved:
                if row["notified"]:
                    levels = range(row["escalation_level"] + 1)
                    planned += plan(config, row["id"], DeliveryReason.RESOLVED, levels, at)
            for notified in await stored.mark_notified(connection, now=at):
                reason = DeliveryReason.REOPENED if notified["reopened"] else DeliveryReason.OPENED
                planned += plan(config, notified["id"], reason, [0], at)
                result.notified += 1
            escalated = await stored.escalate(
                connection,
                now=at,
                after_seconds=config.alerts__escalate_after_minutes * 60.0,
                top_level=oncall.top_level(config),
            )
            for up in escalated:
                planned += plan(config, up["id"], DeliveryReason.ESCALATED, [up["escalation_level"]], at)
            result.escalated = len(escalated)
            if planned:
                await stored.deliveries_insert(
                    connection,
                    now=at,
                    deliveries=[
                        stored.DeliveryPlanned(
                            alert_id=p.alert_id,
                            reason=p.reason.value,
                            level=p.level,
                            channel=p.channel,
                            channel_type=p.channel_type,
                            recipient=p.recipient,
                        )
                        for p in planned
                    ],
                )
            result.deliveries = len(planned)
        if result:
            log.info("alerts evaluated", **vars(result))
        return result

    async def _without_finished_events(
        self, connection: Executor, firing: list[Condition]
    ) -> list[Condition]:
        """Drop per-event conditions whose event already had its alert (resolved by an operator
        or superseded): one reconciliation run's drift is reported once."""
        per_event = [c.fingerprint for c in firing if RULES_BY_NAME[c.rule].per_event]
        if not per_event:
            return firing
        done = set(await stored.resolved_fingerprints(connection, fingerprints=per_event))
        return [c for c in firing if c.fingerprint not in done]
