"""The alert rules: pure functions from a :class:`Snapshot` of the numbers and the runtime
configuration to the conditions firing now.

A condition carries a fingerprint (the rule plus what it is about: ``sync_lag:items``,
``worker_heartbeat:host-1:42``): one live alert exists per fingerprint, so re-evaluating a
condition that still holds updates its alert instead of paging again. A rule whose inputs
were not available this time (no Zoho organization, the host probe failed) is left out of
``Evaluation.evaluated``, so its open alerts are not mistaken for cleared.

Where the moment a condition began can be read from the data (the dead letter that crossed
the age limit, the last heartbeat), the condition says so in ``since``; the delivery runner
measures "condition to notification" from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tds_core.alerts.numbers import Snapshot, WorkerState
from tds_core.alerts.states import Severity
from tds_core.config.runtime import RuntimeConfig


# ---------------------------------------------------------------------------- what fires
@dataclass(frozen=True)
class Condition:
    rule: str
    fingerprint: str
    severity: Severity
    title: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    since: datetime | None = None

    def stored_details(self) -> dict[str, Any]:
        """Details as kept on the alert, with the condition's start when known."""
        if self.since is None:
            return dict(self.details)
        return {**self.details, "condition_since": self.since.isoformat()}


Check = Callable[[Snapshot, RuntimeConfig], list[Condition]]


@dataclass(frozen=True)
class Rule:
    name: str
    severity: Severity
    description: str
    thresholds: Callable[[RuntimeConfig], dict[str, float | int]]
    check: Check
    available: Callable[[Snapshot], bool] = lambda snapshot: True
    #: One alert per event (the fingerprint names the event): once resolved it stays resolved.
    per_event: bool = False


@dataclass(frozen=True)
class Evaluation:
    conditions: tuple[Condition, ...]
    evaluated: frozenset[str]


def duration(seconds: float) -> str:
    """A short human duration: ``45 s``, ``17 min``, ``3.5 h``, ``2.0 d``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _age(snapshot: Snapshot, then: datetime) -> float:
    return (snapshot.at - then).total_seconds()


# ---------------------------------------------------------------------------- the rules
def _failure_rate(snapshot: Snapshot, config: RuntimeConfig) -> list[Condition]:
    finished, failed = snapshot.attempts_finished, snapshot.attempts_failed
    if finished < config.alerts__failure_min_events or finished == 0:
        return []
    rate = failed / finished
    if rate <= config.alerts__failure_rate:
        return []
    window = duration(config.alerts__failure_window_seconds)
    return [
        Condition(
            "failure_rate",
            "failure_rate",
            Severity.CRITICAL,
            f"{rate:.1%} of sync attempts failed in the last {window}",
            f"{failed} of {finished} attempts ended in a retry or the DLQ "
            f"(limit {config.alerts__failure_rate:.1%}).",
            {"finished": finished, "failed": failed, "rate": round(rate, 4)},
        )
    ]


def _backlog(snapshot: Snapshot, config: RuntimeConfig) -> list[Condition]:
    if snapshot.backlog <= config.alerts__backlog:
        return []
    oldest = snapshot.oldest_waiting_at
    return [
        Condition(
            "backlog",
            "backlog",
            Severity.WARNING,
            f"{snapshot.backlog:,} events waiting in the sync queue",
            f"More than {config.alerts__backlog:,} events are pending or processing"
            + (f"; the oldest arrived {duration(_age(snapshot, oldest))} ago." if oldest else "."),
            {"backlog": snapshot.backlog, "oldest_waiting_at": oldest.isoformat() if oldest else None},
        )
    ]


def _sync_lag(snapshot: Snapshot, config: RuntimeConfig) -> list[Condition]:
    limit = timedelta(minutes=config.alerts__sync_lag_minutes)
    found: list[Condition] = []
    oldest = snapshot.oldest_waiting_at
    if oldest is not None and snapshot.at - oldest >= limit:
        found.append(
            Condition(
                "sync_lag",
                "sync_lag:queue",
                Severity.WARNING,
                f"Events wait {duration(_age(snapshot, oldest))} to reach the ERP",
                f"The oldest event not yet applied arrived at {oldest.isoformat()}.",
                {"oldest_waiting_at": oldest.isoformat()},
                since=oldest + limit,
            )
        )
    for pull in snapshot.pulls:
        reference = pull.last_success_at or pull.first_run_at
        if snapshot.at - reference < limit:
            continue
        # a pull that started within the limit and is still running is not late (yet)
        if pull.running_since is not None and snapshot.at - pull.running_since < limit:
            continue
        what = "has not pulled successfully" if pull.last_success_at else "has never pulled successfully"
        last = pull.last_success_at.isoformat() if pull.last_success_at else "never"
        found.append(
            Condition(
                "sync_lag",
                f"sync_lag:{pull.entity}",
                Severity.WARNING,
                f"{pull.entity} {what} for {duration(_age(snapshot, reference))}",
                f"Last successful pull: {last}"
                f"; last run {pull.last_status or 'unknown'}"
                + (f": {pull.last_error[:300]}" if pull.last_error else "."),
                {
                    "entity": pull.entity,
                    "last_success_at": pull.last_success_at.isoformat() if pull.last_success_at else None,
                    "last_status": pull.last_status,
                },
                since=reference + limit,
            )
        )
    return found


def _dlq_growth(snapshot: Snapshot, config: RuntimeConfig) -> list[Condition]:
    if snapshot.dlq_new < config.alerts__dlq_growth:
        return []
    window = duration(config.alerts__dlq_growth_window_seconds)
    return [
        Condition(
            "dlq_growth",
            "dlq_growth",
            Severity.WARNING,
            f"{snapshot.dlq_new} events dead-lettered in the last {window}",
            f"The dead letter queue grows (limit {config.alerts__dlq_growth} in {window}); "
            f"{snapshot.dlq_open} dead letters are open.",
            {"new": snapshot.dlq_new, "open": snapshot.dlq_open},
            since=snapshot.dlq_threshold_reached_at,
        )
    ]


def _dlq_age(snapshot: Snapshot, config: RuntimeConfig) -> list[Condition]:
    oldest = snapshot.dlq_oldest_open_at
    if snapshot.dlq_over_age == 0 or oldest is None:
        return []
    limit = timedelta(hours=config.alerts__dlq_max_age_hours)
    return [
        Condition(
            "dlq_age",
            "dlq_age",
            Severity.WARNING,
            f"{snapshot.dlq_over_age} dead letters older than {duration(limit.total_seconds())}",
            f"The oldest open dead letter is {duration(_age(snapshot, oldest))} old: replay or discard it.",
            {"over_age": snapshot.dlq_over_age, "open": snapshot.dlq_open, "oldest_at": oldest.isoformat()},
            since=oldest + limit,
        )
    ]


def _conflicts_open(snapshot: Snapshot, config: RuntimeConfig) -> list[Condition]:
    if snapshot.conflicts_open < config.alerts__conflicts_open:
        return []
    oldest = snapshot.conflicts_oldest_at
    return [
        Condition(
            "conflicts_open",
            "conflicts_open",
            Severity.WARNING,
            f"{snapshot.conflicts_open} ERP conflicts held for an operator",
            "ERP rows changed outside TDS hold their Zoho changes (policy hold)"
            + (f"; the oldest since {duration(_age(snapshot, oldest))}." if oldest else ".")
            + " Resolve with apply_source or keep_local (tds conflicts, or the dashboard's Conflicts page).",
            {"open": snapshot.conflicts_open, "oldest_at": oldest.isoformat() if oldest else None},
            since=oldest,
        )
    ]


def _alive(snapshot: Snapshot, config: RuntimeConfig) -> list[WorkerState]:
    missing = timedelta(seconds=config.alerts__heartbeat_missing_seconds)
    return [w for w in snapshot.workers if snapshot.at - w.heartbeat_at < missing]


def _circuit_open(snapshot: Snapshot, config: RuntimeConfig) -> list[Condition]:
    tripped = [w for w in _alive(snapshot, config) if w.circuit_state != "closed"]
    if not tripped:
        return []
    changes = [w.circuit_changed_at for w in tripped if w.circuit_changed_at is not None]
    return [
        Condition(
            "circuit_open",
            "circuit_open",
            Severity.CRITICAL,
            f"Circuit breaker open on {len(tripped)} worker(s)",
            "Workers stopped claiming because the database or the target keeps failing: "
            + ", ".join(f"{w.worker_id} ({w.circuit_state})" for w in tripped),
            {"workers": {w.worker_id: w.circuit_state for w in tripped}},
            since=min(changes) if changes else None,
        )
    ]


def _zoho_quota(snapshot: Snapshot, config: RuntimeConfig) -> list[Condition]:
    quota = snapshot.quota
    if quota is None or quota.daily_quota <= 0:
        return []
    left = max(0, quota.daily_quota - quota.used)
    fraction = left / quota.daily_quota
    if fraction >= config.alerts__quota_remaining_fraction:
        return []
    return [
        Condition(
            "zoho_quota",
            f"zoho_quota:{quota.organization_id}",
            Severity.CRITICAL if left == 0 else Severity.WARNING,
            f"Zoho daily API quota {'spent' if left == 0 else 'nearly spent'}: {left:,} calls left",
            f"{quota.used:,} of {quota.daily_quota:,} calls used today (UTC) by organization "
            f"{quota.organization_id}; pulls stop when it runs out.",
            {"used": quota.used, "daily_quota": quota.daily_quota, "left": left},
        )
    ]


def _reconcile_drift(snapshot: Snapshot, config: RuntimeConfig) -> list[Condition]:
    return [
        Condition(
            "reconcile_drift",
            f"reconcile_drift:{run.entity}:{run.run_id}",
            Severity.WARNING,
            f"Reconciliation found {run.drift} drifted {run.entity} records",
            f"Run {run.run_id} finished {run.finished_at.isoformat()}: "
            + ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items()) if v)
            + ". Healing events were queued; a clean run clears this.",
            {"entity": run.entity, "run_id": run.run_id, "drift": run.drift, "counts": run.counts},
            since=run.finished_at,
        )
        for run in snapshot.reconciles
        if run.drift > 0
    ]


def _worker_heartbeat(snapshot: Snapshot, config: RuntimeConfig) -> list[Condition]:
    missing = timedelta(seconds=config.alerts__heartbeat_missing_seconds)
    return [
        Condition(
            "worker_heartbeat",
            f"worker_heartbeat:{w.worker_id}",
            Severity.CRITICAL,
            f"Worker {w.worker_id} has not reported for {duration(_age(snapshot, w.heartbeat_at))}",
            f"Last heartbeat {w.heartbeat_at.isoformat()} from {w.hostname}; it did not stop cleanly. "
            "Its leases are handed to other workers; check the process.",
            {"worker_id": w.worker_id, "hostname": w.hostname, "heartbeat_at": w.heartbeat_at.isoformat()},
            since=w.heartbeat_at + missing,
        )
        for w in snapshot.workers
        if snapshot.at - w.heartbeat_at >= missing
    ]


def _host_rule(name: str, label: str, description: str, limit_of: Callable[[RuntimeConfig], float]) -> Rule:
    """A rule on one figure of the host probe (``host_cpu`` reads ``HostUsage.cpu_percent`` against
    ``alerts.cpu_percent``), evaluated only when the probe answered."""
    figure = f"{name.removeprefix('host_')}_percent"

    def check(snapshot: Snapshot, config: RuntimeConfig) -> list[Condition]:
        host = snapshot.host
        if host is None:
            return []
        value = float(getattr(host, figure))
        limit = limit_of(config)
        if value < limit:
            return []
        where = f" ({host.disk_path})" if name == "host_disk" else ""
        return [
            Condition(
                name,
                f"{name}:{host.hostname}",
                Severity.WARNING,
                f"{label} at {value:.0f}% on {host.hostname}{where}",
                f"{label} use is {value:.1f}% (limit {limit:.0f}%).",
                {"hostname": host.hostname, "percent": round(value, 1), "limit": limit},
            )
        ]

    return Rule(
        name,
        Severity.WARNING,
        description,
        lambda c: {figure: limit_of(c)},
        check,
        available=lambda snapshot: snapshot.host is not None,
    )


def _db_connections(snapshot: Snapshot, config: RuntimeConfig) -> list[Condition]:
    if snapshot.db_max_connections <= 0:
        return []
    percent = 100.0 * snapshot.db_connections / snapshot.db_max_connections
    if percent < config.alerts__db_connections_percent:
        return []
    return [
        Condition(
            "db_connections",
            "db_connections",
            Severity.CRITICAL,
            f"Database connections at {percent:.0f}% of max_connections",
            f"{snapshot.db_connections} of {snapshot.db_max_connections} connections are in use "
            f"(limit {config.alerts__db_connections_percent:.0f}%); new connections will soon be refused.",
            {
                "used": snapshot.db_connections,
                "max": snapshot.db_max_connections,
                "percent": round(percent, 1),
            },
        )
    ]


RULES: tuple[Rule, ...] = (
    Rule(
        "failure_rate",
        Severity.CRITICAL,
        "Share of sync attempts ending in a retry or the DLQ, over a window, with a minimum count",
        lambda c: {
            "failure_rate": c.alerts__failure_rate,
            "failure_window_seconds": c.alerts__failure_window_seconds,
            "failure_min_events": c.alerts__failure_min_events,
        },
        _failure_rate,
    ),
    Rule(
        "backlog",
        Severity.WARNING,
        "Events pending or processing in the sync queue",
        lambda c: {"backlog": c.alerts__backlog},
        _backlog,
    ),
    Rule(
        "sync_lag",
        Severity.WARNING,
        "Oldest event not yet applied, and time since each entity's last successful pull",
        lambda c: {"sync_lag_minutes": c.alerts__sync_lag_minutes},
        _sync_lag,
    ),
    Rule(
        "dlq_growth",
        Severity.WARNING,
        "Events dead-lettered within a window",
        lambda c: {
            "dlq_growth": c.alerts__dlq_growth,
            "dlq_growth_window_seconds": c.alerts__dlq_growth_window_seconds,
        },
        _dlq_growth,
    ),
    Rule(
        "dlq_age",
        Severity.WARNING,
        "An open dead letter older than the allowed age",
        lambda c: {"dlq_max_age_hours": c.alerts__dlq_max_age_hours},
        _dlq_age,
    ),
    Rule(
        "conflicts_open",
        Severity.WARNING,
        "ERP conflicts held open for an operator (rows changed outside TDS, policy hold)",
        lambda c: {"conflicts_open": c.alerts__conflicts_open},
        _conflicts_open,
    ),
    Rule(
        "circuit_open",
        Severity.CRITICAL,
        "A live worker's circuit breaker is open or half-open",
        lambda c: {"heartbeat_missing_seconds": c.alerts__heartbeat_missing_seconds},
        _circuit_open,
    ),
    Rule(
        "zoho_quota",
        Severity.WARNING,
        "Share of the Zoho daily API quota left today (UTC)",
        lambda c: {"quota_remaining_fraction": c.alerts__quota_remaining_fraction},
        _zoho_quota,
        available=lambda snapshot: snapshot.quota is not None,
    ),
    Rule(
        "reconcile_drift",
        Severity.WARNING,
        "The latest reconciliation of an entity found drift (one alert per run)",
        lambda c: {},
        _reconcile_drift,
        per_event=True,
    ),
    Rule(
        "worker_heartbeat",
        Severity.CRITICAL,
        "A worker that did not stop cleanly has not sent a heartbeat",
        lambda c: {"heartbeat_missing_seconds": c.alerts__heartbeat_missing_seconds},
        _worker_heartbeat,
    ),
    _host_rule(
        "host_cpu", "CPU", "CPU use of the host running the scheduler", lambda c: c.alerts__cpu_percent
    ),
    _host_rule(
        "host_memory",
        "Memory",
        "Memory use of the host running the scheduler",
        lambda c: c.alerts__memory_percent,
    ),
    _host_rule(
        "host_disk", "Disk", "Disk use of the file system holding TDS_HOME", lambda c: c.alerts__disk_percent
    ),
    Rule(
        "db_connections",
        Severity.CRITICAL,
        "Database connections in use against max_connections",
        lambda c: {"db_connections_percent": c.alerts__db_connections_percent},
        _db_connections,
    ),
)

RULES_BY_NAME = {rule.name: rule for rule in RULES}


def evaluate(snapshot: Snapshot, config: RuntimeConfig) -> Evaluation:
    """Every rule whose inputs are available, over one snapshot."""
    conditions: list[Condition] = []
    evaluated: set[str] = set()
    for rule in RULES:
        if not rule.available(snapshot):
            continue
        evaluated.add(rule.name)
        conditions.extend(rule.check(snapshot, config))
    return Evaluation(tuple(conditions), frozenset(evaluated))
