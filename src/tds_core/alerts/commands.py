"""What operators do with alerts — read, acknowledge, resolve, silence — shared by the HTTP API
and the ``tds alerts`` command so both behave the same.

Every change runs in one transaction together with its ``tds_operator_actions`` row: the log
of who did what can never miss an action that happened, nor record one that did not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tds_core.access import actions
from tds_core.access.actions import Actor
from tds_core.alerts.rules import RULES_BY_NAME
from tds_core.db import alerts as stored
from tds_core.db.connection import Connection, Executor, transaction
from tds_core.errors import InvalidRequest, NotFound, WrongState

#: The longest silence: a month. Longer than that, change the threshold or disable the channel.
MAX_SILENCE_MINUTES = 30 * 24 * 60


class AlertNotFound(NotFound):
    """No alert (or silence) with that id: the API answers 404."""


class AlertConflict(WrongState):
    """The alert (or silence) is not in a state that allows the action: the API answers 409."""


class InvalidSilence(InvalidRequest):
    """A silence that cannot be created as asked: the API answers 422."""


async def list_alerts(
    connection: Executor, *, status: str | None, rule: str | None, before: int | None, limit: int
) -> list[stored.Alert]:
    return await stored.list_all(connection, status=status, rule=rule, before=before, limit=limit)


async def show(connection: Executor, alert_id: int) -> dict[str, Any]:
    """One alert with its deliveries (each with its condition-to-notification seconds)."""
    row = await stored.get(connection, alert_id=alert_id)
    if row is None:
        raise AlertNotFound(f"no alert {alert_id}")
    deliveries = await stored.deliveries_of_alert(connection, alert_id=alert_id)
    return dict(row) | {"deliveries": [dict(d) for d in deliveries]}


async def _current(connection: Executor, alert_id: int) -> stored.Alert:
    row = await stored.get(connection, alert_id=alert_id)
    if row is None:
        raise AlertNotFound(f"no alert {alert_id}")
    return row


async def acknowledge(
    connection: Connection, alert_id: int, actor: Actor, note: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Someone is on it: escalation stops. Refused for a resolved or already acknowledged alert."""
    async with transaction(connection):
        acknowledged = await stored.acknowledge(
            connection, alert_id=alert_id, by=actor.name, note=note, now=now
        )
        if acknowledged is None:
            current = await _current(connection, alert_id)
            if current["status"] == "resolved":
                raise AlertConflict(f"alert {alert_id} is already resolved")
            at = current["acknowledged_at"]
            raise AlertConflict(
                f"alert {alert_id} was already acknowledged by {current['acknowledged_by']}"
                f" at {at.isoformat() if at is not None else None}"
            )
        await actions.record(connection, actor, "alert.ack", str(alert_id), {"note": note})
    return await show(connection, alert_id)


async def resolve(
    connection: Connection, alert_id: int, actor: Actor, note: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Close a live alert. If its condition still holds, the next evaluation opens a new one
    (reason ``reopened``): to stop hearing of a known condition, silence it instead."""
    async with transaction(connection):
        resolved = await stored.resolve(connection, alert_id=alert_id, by=actor.name, note=note, now=now)
        if resolved is None:
            current = await _current(connection, alert_id)
            at = current["resolved_at"]
            raise AlertConflict(
                f"alert {alert_id} is already resolved (by {current['resolved_by']}"
                f" at {at.isoformat() if at is not None else None})"
            )
        await actions.record(connection, actor, "alert.resolve", str(alert_id), {"note": note})
    return await show(connection, alert_id)


def _check_minutes(minutes: int) -> None:
    if not 1 <= minutes <= MAX_SILENCE_MINUTES:
        raise InvalidSilence(f"minutes must be between 1 and {MAX_SILENCE_MINUTES} (30 days), not {minutes}")


async def create_silence(
    connection: Connection,
    actor: Actor,
    *,
    rule: str | None,
    fingerprint: str | None,
    minutes: int,
    reason: str,
    starts_at: datetime | None = None,
    now: datetime | None = None,
    target: str | None = None,
) -> stored.Silence:
    """Mute alerts of a rule, of one fingerprint, or both, for ``minutes`` from ``starts_at``
    (default now). Live matching alerts are silenced at once, not at the next evaluation."""
    if rule is None and fingerprint is None:
        raise InvalidSilence("a silence needs a rule, a fingerprint, or both")
    if rule is not None and rule not in RULES_BY_NAME:
        raise InvalidSilence(f"unknown rule {rule!r}; rules: {', '.join(sorted(RULES_BY_NAME))}")
    _check_minutes(minutes)
    async with transaction(connection):
        silence = await stored.silences_insert(
            connection,
            rule=rule,
            fingerprint=fingerprint,
            starts_at=starts_at,
            minutes=minutes,
            reason=reason,
            created_by=actor.name,
            now=now,
        )
        await stored.apply_silences(connection, now=now)
        await actions.record(
            connection,
            actor,
            "alert.silence",
            target or f"silence:{silence['id']}",
            {
                "silence_id": silence["id"],
                "rule": rule,
                "fingerprint": fingerprint,
                "minutes": minutes,
                "reason": reason,
            },
        )
    return silence


async def silence_alert(
    connection: Connection,
    alert_id: int,
    actor: Actor,
    *,
    minutes: int,
    reason: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Silence one alert's fingerprint (so a recurrence stays quiet too) for ``minutes``."""
    _check_minutes(minutes)
    async with transaction(connection):
        current = await _current(connection, alert_id)
        if current["status"] == "resolved":
            raise AlertConflict(f"alert {alert_id} is resolved; silence its rule or fingerprint instead")
        await create_silence(
            connection,
            actor,
            rule=current["rule"],
            fingerprint=current["fingerprint"],
            minutes=minutes,
            reason=reason,
            now=now,
            target=str(alert_id),
        )
    return await show(connection, alert_id)


async def list_silences(
    connection: Executor, *, include_expired: bool, limit: int, now: datetime | None = None
) -> list[stored.Silence]:
    return await stored.silences_list(connection, include_expired=include_expired, now=now, limit=limit)


async def end_silence(
    connection: Connection, silence_id: int, actor: Actor, now: datetime | None = None
) -> stored.Silence:
    """Stop a silence now; the alerts it muted are live again (and notified if never told)."""
    async with transaction(connection):
        ended = await stored.silences_end(connection, silence_id=silence_id, now=now)
        if ended is None:
            existing = await stored.silences_get(connection, silence_id=silence_id)
            if existing is None:
                raise AlertNotFound(f"no silence {silence_id}")
            raise AlertConflict(f"silence {silence_id} already ended at {existing['ends_at'].isoformat()}")
        await stored.apply_silences(connection, now=now)
        await actions.record(connection, actor, "alert.unsilence", f"silence:{silence_id}", {})
    return ended
