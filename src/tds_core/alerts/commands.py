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
from tds_core.db.errors import translated
from tds_core.db.queries import QUERIES
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
    connection: Any, *, status: str | None, rule: str | None, before: int | None, limit: int
) -> list[dict[str, Any]]:
    with translated():
        rows = await connection.fetch(QUERIES.alerts_list, status, rule, before, limit)
    return [dict(r) for r in rows]


async def show(connection: Any, alert_id: int) -> dict[str, Any]:
    """One alert with its deliveries (each with its condition-to-notification seconds)."""
    with translated():
        row = await connection.fetchrow(QUERIES.alerts_get, alert_id)
        if row is None:
            raise AlertNotFound(f"no alert {alert_id}")
        deliveries = await connection.fetch(QUERIES.alert_deliveries_of_alert, alert_id)
    return dict(row) | {"deliveries": [dict(d) for d in deliveries]}


async def _current(connection: Any, alert_id: int) -> Any:
    row = await connection.fetchrow(QUERIES.alerts_get, alert_id)
    if row is None:
        raise AlertNotFound(f"no alert {alert_id}")
    return row


async def acknowledge(
    connection: Any, alert_id: int, actor: Actor, note: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Someone is on it: escalation stops. Refused for a resolved or already acknowledged alert."""
    with translated():
        async with connection.transaction():
            row = await connection.fetchrow(QUERIES.alerts_acknowledge, alert_id, actor.name, note, now)
            if row is None:
                current = await _current(connection, alert_id)
                if current["status"] == "resolved":
                    raise AlertConflict(f"alert {alert_id} is already resolved")
                raise AlertConflict(
                    f"alert {alert_id} was already acknowledged by {current['acknowledged_by']}"
                    f" at {current['acknowledged_at'].isoformat()}"
                )
            await actions.record(connection, actor, "alert.ack", str(alert_id), {"note": note})
    return await show(connection, alert_id)


async def resolve(
    connection: Any, alert_id: int, actor: Actor, note: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Close a live alert. If its condition still holds, the next evaluation opens a new one
    (reason ``reopened``): to stop hearing of a known condition, silence it instead."""
    with translated():
        async with connection.transaction():
            row = await connection.fetchrow(QUERIES.alerts_resolve, alert_id, actor.name, note, now)
            if row is None:
                current = await _current(connection, alert_id)
                raise AlertConflict(
                    f"alert {alert_id} is already resolved (by {current['resolved_by']}"
                    f" at {current['resolved_at'].isoformat()})"
                )
            await actions.record(connection, actor, "alert.resolve", str(alert_id), {"note": note})
    return await show(connection, alert_id)


def _check_minutes(minutes: int) -> None:
    if not 1 <= minutes <= MAX_SILENCE_MINUTES:
        raise InvalidSilence(f"minutes must be between 1 and {MAX_SILENCE_MINUTES} (30 days), not {minutes}")


async def create_silence(
    connection: Any,
    actor: Actor,
    *,
    rule: str | None,
    fingerprint: str | None,
    minutes: int,
    reason: str,
    starts_at: datetime | None = None,
    now: datetime | None = None,
    target: str | None = None,
) -> dict[str, Any]:
    """Mute alerts of a rule, of one fingerprint, or both, for ``minutes`` from ``starts_at``
    (default now). Live matching alerts are silenced at once, not at the next evaluation."""
    if rule is None and fingerprint is None:
        raise InvalidSilence("a silence needs a rule, a fingerprint, or both")
    if rule is not None and rule not in RULES_BY_NAME:
        raise InvalidSilence(f"unknown rule {rule!r}; rules: {', '.join(sorted(RULES_BY_NAME))}")
    _check_minutes(minutes)
    with translated():
        async with connection.transaction():
            row = await connection.fetchrow(
                QUERIES.alert_silences_insert,
                rule,
                fingerprint,
                starts_at,
                minutes,
                reason,
                actor.name,
                now,
            )
            silence = dict(row)
            await connection.fetch(QUERIES.alerts_apply_silences, now)
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
    connection: Any, alert_id: int, actor: Actor, *, minutes: int, reason: str, now: datetime | None = None
) -> dict[str, Any]:
    """Silence one alert's fingerprint (so a recurrence stays quiet too) for ``minutes``."""
    _check_minutes(minutes)
    with translated():
        async with connection.transaction():
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
    connection: Any, *, include_expired: bool, limit: int, now: datetime | None = None
) -> list[dict[str, Any]]:
    with translated():
        rows = await connection.fetch(QUERIES.alert_silences_list, include_expired, now, limit)
    return [dict(r) for r in rows]


async def end_silence(
    connection: Any, silence_id: int, actor: Actor, now: datetime | None = None
) -> dict[str, Any]:
    """Stop a silence now; the alerts it muted are live again (and notified if never told)."""
    with translated():
        async with connection.transaction():
            row = await connection.fetchrow(QUERIES.alert_silences_end, silence_id, now)
            if row is None:
                existing = await connection.fetchrow(QUERIES.alert_silences_get, silence_id)
                if existing is None:
                    raise AlertNotFound(f"no silence {silence_id}")
                ended = existing["ends_at"].isoformat()
                raise AlertConflict(f"silence {silence_id} already ended at {ended}")
            await connection.fetch(QUERIES.alerts_apply_silences, now)
            await actions.record(connection, actor, "alert.unsilence", f"silence:{silence_id}", {})
    return dict(row)
