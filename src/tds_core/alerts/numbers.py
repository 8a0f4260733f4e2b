"""What the alert rules judge: a :class:`Snapshot` of the service's numbers at one moment,
read by :mod:`tds_core.alerts.snapshot` and judged by :mod:`tds_core.alerts.rules` (both kept
apart so the rules stay pure and are tested without a database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class PullState:
    """One entity's pulls (incremental, full, manual)."""

    entity: str
    first_run_at: datetime
    last_success_at: datetime | None = None
    running_since: datetime | None = None
    last_status: str | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class WorkerState:
    worker_id: str
    hostname: str
    heartbeat_at: datetime
    circuit_state: str = "closed"
    circuit_changed_at: datetime | None = None


@dataclass(frozen=True)
class ReconcileState:
    """The latest finished reconciliation of one entity."""

    entity: str
    run_id: int
    finished_at: datetime
    drift: int
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class QuotaUsage:
    organization_id: str
    used: int
    daily_quota: int


@dataclass(frozen=True)
class HostUsage:
    hostname: str
    cpu_percent: float
    memory_percent: float
    disk_percent: float
    disk_path: str


@dataclass(frozen=True)
class Snapshot:
    """What the rules judge, read at one moment (``at``)."""

    at: datetime
    attempts_finished: int = 0
    attempts_failed: int = 0
    backlog: int = 0
    oldest_waiting_at: datetime | None = None
    dlq_new: int = 0
    dlq_threshold_reached_at: datetime | None = None
    dlq_open: int = 0
    dlq_oldest_open_at: datetime | None = None
    dlq_over_age: int = 0
    conflicts_open: int = 0
    """ERP conflicts held for an operator (policy hold)."""
    conflicts_oldest_at: datetime | None = None
    pulls: tuple[PullState, ...] = ()
    workers: tuple[WorkerState, ...] = ()
    reconciles: tuple[ReconcileState, ...] = ()
    db_connections: int = 0
    db_max_connections: int = 0
    quota: QuotaUsage | None = None
    host: HostUsage | None = None
