"""Alert, delivery and severity states, defined once.

The CHECK constraints on ``tds_alerts`` and ``tds_alert_deliveries`` mirror these sets; a test
checks that both agree.
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    INFO = "info"
    """Worth knowing; nobody needs to act now."""

    WARNING = "warning"
    """Degraded or heading for trouble: act within working hours."""

    CRITICAL = "critical"
    """Data is not flowing or is about to stop: act now."""


class AlertStatus(StrEnum):
    OPEN = "open"
    """Firing and nobody has taken it. In: the engine (a new condition, a silence ending).
    Out: an operator's ack or resolve, a silence, or the engine when the condition clears."""

    ACKNOWLEDGED = "acknowledged"
    """Firing, someone is on it: escalation stops. In: an operator's ack.
    Out: resolve (operator or engine), or a silence."""

    SILENCED = "silenced"
    """Firing but muted by a silence window: no notifications, no escalation. In: the engine
    or a new silence. Out: the silence ending (back to open or acknowledged), or a resolve."""

    RESOLVED = "resolved"
    """Over. In: the engine when the condition cleared (``resolved_by`` = ``tds``) or an
    operator's resolve. Terminal: the same condition firing again opens a new alert."""


LIVE_STATUSES = frozenset({AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.SILENCED})


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Waiting to be sent (or retried at ``next_attempt_at``). In: the engine. Out: the runner."""

    SENT = "sent"
    """The channel accepted it. Terminal."""

    FAILED = "failed"
    """Refused for good, or out of attempts; ``last_error`` says why. Terminal."""


class DeliveryReason(StrEnum):
    OPENED = "opened"
    """A new alert: the on-call of level 0 hears of it once."""

    REOPENED = "reopened"
    """A new alert for a fingerprint that fired and resolved before (a flapping condition)."""

    ESCALATED = "escalated"
    """Nobody acknowledged in time: the next level of the rotation is told."""

    RESOLVED = "resolved"
    """The alert is over: every level told so far hears it."""

    REPORT = "report"
    """Not an alert: a periodic report (weekly DLQ digest, monthly performance summary) for the
    channels of ``reports.channels``. In: :mod:`tds_core.reports.digests`."""


#: Who resolves an alert whose condition cleared.
ENGINE_ACTOR = "tds"
