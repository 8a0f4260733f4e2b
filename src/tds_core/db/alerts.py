"""``tds_alerts``, ``tds_alert_deliveries``, ``tds_alert_silences``: the numbers the rules judge,
the life of an alert (open, update, silence, escalate, resolve), its deliveries, and silences.

Time-dependent statements take ``now`` (None = the database's clock) so tests pin it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


# ---------------------------------------------------------------------------- snapshot
class PullJson(TypedDict):
    """One entity's pulls, as JSON (times are ISO text)."""

    entity: str
    first_run_at: str
    last_success_at: str | None
    running_since: str | None
    last_status: str
    last_error: str | None


class ReconcileJson(TypedDict):
    """One entity's latest reconciliation with a drift count, as JSON (times are ISO text)."""

    entity: str
    run_id: int
    finished_at: str
    drift: int
    counts: dict[str, Any]


class WorkerJson(TypedDict):
    """One watched worker, as JSON (times are ISO text)."""

    worker_id: str
    hostname: str
    heartbeat_at: str
    circuit_state: str
    circuit_changed_at: str | None


class Snapshot(TypedDict):
    at: datetime
    attempts_finished: int
    attempts_failed: int
    backlog: int
    oldest_waiting_at: datetime | None
    dlq_new: int
    dlq_threshold_reached_at: datetime | None
    dlq_open: int
    dlq_oldest_open_at: datetime | None
    dlq_over_age: int
    pulls: list[PullJson]
    reconciles: list[ReconcileJson]
    workers: list[WorkerJson]
    db_connections: int
    db_max_connections: int


# ---------------------------------------------------------------------------- engine
class Firing(TypedDict):
    """One firing condition to open or bump (``upsert_firing``)."""

    rule: str
    fingerprint: str
    severity: str
    title: str
    message: str
    details: str  # JSON text


class Upserted(TypedDict):
    id: int
    fingerprint: str
    inserted: bool


class SilenceApplied(TypedDict):
    id: int
    status: str


class Cleared(TypedDict):
    id: int
    fingerprint: str
    notified: bool
    escalation_level: int


class Notified(TypedDict):
    id: int
    fingerprint: str
    reopened: bool


class Escalated(TypedDict):
    id: int
    fingerprint: str
    escalation_level: int


class DeliveryPlanned(TypedDict):
    """One notification to queue (``deliveries_insert``)."""

    alert_id: int
    reason: str
    level: int
    channel: str
    channel_type: str
    recipient: str | None


class DeliveryClaimed(TypedDict):
    """A claimed delivery with its alert's fields (alert deliveries) or its report's (reports);
    the other side's columns are None."""

    id: int
    alert_id: int | None
    report_id: int | None
    reason: str
    level: int
    channel: str
    channel_type: str
    recipient: str | None
    attempts: int
    rule: str | None
    fingerprint: str | None
    severity: str | None
    status: str | None
    title: str | None
    message: str | None
    details: dict[str, Any] | None
    occurrences: int | None
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    acknowledged_by: str | None
    resolved_by: str | None
    escalation_level: int | None
    report_kind: str | None
    period_start: datetime | None
    period_end: datetime | None
    report_subject: str | None
    text_body: str | None
    chat_body: str | None
    report_data: dict[str, Any] | None


class DeliveryResult(TypedDict):
    """One sending result to record (``deliveries_record``)."""

    id: int
    attempts: int
    status: str
    error: str | None
    retry_seconds: float


class DeliveryRecorded(TypedDict):
    id: int
    status: str
    reason: str
    notify_seconds: float | None


# ---------------------------------------------------------------------------- operators
class Alert(TypedDict):
    id: int
    rule: str
    fingerprint: str
    severity: str
    status: str
    title: str
    message: str
    details: dict[str, Any]
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    silenced_until: datetime | None
    silenced_by: str | None
    notified_at: datetime | None
    escalation_level: int
    escalated_at: datetime | None
    note: str | None


class AlertDelivery(TypedDict):
    id: int
    reason: str
    level: int
    channel: str
    channel_type: str
    recipient: str | None
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None
    notify_seconds: float | None


class Silence(TypedDict):
    id: int
    rule: str | None
    fingerprint: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime


# ---------------------------------------------------------------------------- engine statements
@statement
async def engine_lock(db: Executor) -> None:
    """One evaluation at a time (a transaction lock: released at commit)."""
    await db.execute(QUERIES.alerts_engine_lock)


@statement
async def snapshot(
    db: Executor,
    *,
    now: datetime | None,
    failure_window_seconds: float,
    dlq_growth_window_seconds: float,
    dlq_growth: int,
    dlq_max_age_seconds: float,
    watch_workers_seconds: float,
    entities: list[str],
) -> Snapshot:
    """What the rules judge, in one read."""
    row = await db.fetchrow(
        QUERIES.alerts_snapshot,
        now,
        failure_window_seconds,
        dlq_growth_window_seconds,
        dlq_growth,
        dlq_max_age_seconds,
        watch_workers_seconds,
        entities,
    )
    assert row is not None  # a SELECT over one-row aggregates always returns its row
    return cast(Snapshot, dict(row))


@statement
async def upsert_firing(db: Executor, *, now: datetime | None, firing: list[Firing]) -> list[Upserted]:
    """Open an alert per firing fingerprint, or bump the live one."""
    rows = await db.fetch(
        QUERIES.alerts_upsert_firing,
        now,
        [f["rule"] for f in firing],
        [f["fingerprint"] for f in firing],
        [f["severity"] for f in firing],
        [f["title"] for f in firing],
        [f["message"] for f in firing],
        [f["details"] for f in firing],
    )
    return [cast(Upserted, dict(row)) for row in rows]


@statement
async def resolved_fingerprints(db: Executor, *, fingerprints: list[str]) -> list[str]:
    """Which of ``fingerprints`` already had an alert that ended."""
    rows = await db.fetch(QUERIES.alerts_resolved_fingerprints, fingerprints)
    return [row["fingerprint"] for row in rows]


@statement
async def apply_silences(db: Executor, *, now: datetime | None) -> list[SilenceApplied]:
    """Live alerts follow the silences in force at ``now``; the alerts changed."""
    return [cast(SilenceApplied, dict(row)) for row in await db.fetch(QUERIES.alerts_apply_silences, now)]


@statement
async def resolve_cleared(
    db: Executor, *, now: datetime | None, rules: list[str], firing: list[str]
) -> list[Cleared]:
    """Resolve live alerts of the evaluated ``rules`` whose fingerprint is not in ``firing``."""
    rows = await db.fetch(QUERIES.alerts_resolve_cleared, now, rules, firing)
    return [cast(Cleared, dict(row)) for row in rows]


@statement
async def mark_notified(db: Executor, *, now: datetime | None) -> list[Notified]:
    """Open alerts nobody was told about yet are told now."""
    return [cast(Notified, dict(row)) for row in await db.fetch(QUERIES.alerts_mark_notified, now)]


@statement
async def escalate(
    db: Executor, *, now: datetime | None, after_seconds: float, top_level: int
) -> list[Escalated]:
    """Open alerts unacknowledged for ``after_seconds`` since their last page go one level up."""
    rows = await db.fetch(QUERIES.alerts_escalate, now, after_seconds, top_level)
    return [cast(Escalated, dict(row)) for row in rows]


# ---------------------------------------------------------------------------- deliveries
@statement
async def deliveries_insert(
    db: Executor, *, now: datetime | None, deliveries: list[DeliveryPlanned]
) -> list[int]:
    """Queue notifications; their ids."""
    rows = await db.fetch(
        QUERIES.alert_deliveries_insert,
        now,
        [d["alert_id"] for d in deliveries],
        [d["reason"] for d in deliveries],
        [d["level"] for d in deliveries],
        [d["channel"] for d in deliveries],
        [d["channel_type"] for d in deliveries],
        [d["recipient"] for d in deliveries],
    )
    return [int(row["id"]) for row in rows]


@statement
async def deliveries_claim(
    db: Executor, *, now: datetime | None, limit: int, lease_seconds: float, report_id: int | None
) -> list[DeliveryClaimed]:
    """Take up to ``limit`` due deliveries (only ``report_id``'s when given), leased for
    ``lease_seconds``, with their alert or report."""
    rows = await db.fetch(QUERIES.alert_deliveries_claim, now, limit, lease_seconds, report_id)
    return [cast(DeliveryClaimed, dict(row)) for row in rows]


@statement
async def deliveries_record(
    db: Executor, *, now: datetime | None, results: list[DeliveryResult]
) -> list[DeliveryRecorded]:
    """Record sending results; a lost lease (other attempts) changes nothing."""
    rows = await db.fetch(
        QUERIES.alert_deliveries_record,
        now,
        [r["id"] for r in results],
        [r["attempts"] for r in results],
        [r["status"] for r in results],
        [r["error"] for r in results],
        [r["retry_seconds"] for r in results],
    )
    return [cast(DeliveryRecorded, dict(row)) for row in rows]


@statement
async def deliveries_of_alert(db: Executor, *, alert_id: int) -> list[AlertDelivery]:
    """One alert's deliveries in order."""
    rows = await db.fetch(QUERIES.alert_deliveries_of_alert, alert_id)
    return [cast(AlertDelivery, dict(row)) for row in rows]


# ---------------------------------------------------------------------------- operators
@statement
async def list_all(
    db: Executor, *, status: str | None, rule: str | None, before: int | None, limit: int
) -> list[Alert]:
    """Alerts newest first, optionally of one status or rule, ids below ``before``."""
    rows = await db.fetch(QUERIES.alerts_list, status, rule, before, limit)
    return [cast(Alert, dict(row)) for row in rows]


@statement
async def get(db: Executor, *, alert_id: int) -> Alert | None:
    row = await db.fetchrow(QUERIES.alerts_get, alert_id)
    return None if row is None else cast(Alert, dict(row))


@statement
async def acknowledge(
    db: Executor, *, alert_id: int, by: str, note: str | None, now: datetime | None
) -> int | None:
    """Acknowledge an open (or silenced) alert not acknowledged yet; its id, None when refused."""
    row = await db.fetchrow(QUERIES.alerts_acknowledge, alert_id, by, note, now)
    return None if row is None else int(row["id"])


@statement
async def resolve(
    db: Executor, *, alert_id: int, by: str, note: str | None, now: datetime | None
) -> int | None:
    """Resolve a live alert; its id, None when it was not live."""
    row = await db.fetchrow(QUERIES.alerts_resolve, alert_id, by, note, now)
    return None if row is None else int(row["id"])


# ---------------------------------------------------------------------------- silences
@statement
async def silences_insert(
    db: Executor,
    *,
    rule: str | None,
    fingerprint: str | None,
    starts_at: datetime | None,
    minutes: int,
    reason: str,
    created_by: str,
    now: datetime | None,
) -> Silence:
    row = await db.fetchrow(
        QUERIES.alert_silences_insert, rule, fingerprint, starts_at, minutes, reason, created_by, now
    )
    assert row is not None  # INSERT ... RETURNING always returns its row
    return cast(Silence, dict(row))


@statement
async def silences_list(
    db: Executor, *, include_expired: bool, now: datetime | None, limit: int
) -> list[Silence]:
    """Silences newest first: those not over yet at ``now``, or all with ``include_expired``."""
    rows = await db.fetch(QUERIES.alert_silences_list, include_expired, now, limit)
    return [cast(Silence, dict(row)) for row in rows]


@statement
async def silences_get(db: Executor, *, silence_id: int) -> Silence | None:
    row = await db.fetchrow(QUERIES.alert_silences_get, silence_id)
    return None if row is None else cast(Silence, dict(row))


@statement
async def silences_end(db: Executor, *, silence_id: int, now: datetime | None) -> Silence | None:
    """End a silence not over yet at ``now``; None when there is none such."""
    row = await db.fetchrow(QUERIES.alert_silences_end, silence_id, now)
    return None if row is None else cast(Silence, dict(row))
