"""Gathering a :class:`~tds_core.alerts.rules.Snapshot`: the database's numbers in one read, the
Zoho quota used today, and the host's CPU, memory and disk (psutil).

The host probe is a plain callable so the composition root measures the real machine while
tests hand in fixed figures (a busy CI host must not raise alerts a test did not ask for).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import structlog

from tds_core.alerts.numbers import HostUsage, PullState, QuotaUsage, ReconcileState, Snapshot, WorkerState
from tds_core.config.runtime import RuntimeConfig
from tds_core.db import alerts as stored
from tds_core.db import api_usage
from tds_core.db import conflicts as stored_conflicts
from tds_core.db.connection import Executor
from tds_core.domain.entities import ENTITY_SLUGS

log = structlog.get_logger("tds.alerts")

HostProbe = Callable[[], HostUsage | None]

#: A worker silent for longer than this is taken for gone: its heartbeat alert resolves.
WATCH_SILENT_WORKERS_SECONDS = 24 * 3600.0


def probe_host(home: Path) -> HostProbe:
    """A probe of this machine; disk use is that of the file system holding ``home``."""

    def probe() -> HostUsage:
        path = home.resolve()
        while not path.exists() and path != path.parent:
            path = path.parent
        return HostUsage(
            hostname=socket.gethostname(),
            # since the previous call (the evaluation interval); the very first call reads 0
            cpu_percent=float(psutil.cpu_percent(interval=None)),
            memory_percent=float(psutil.virtual_memory().percent),
            disk_percent=float(psutil.disk_usage(str(path)).percent),
            disk_path=str(path),
        )

    return probe


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _required_time(value: Any) -> datetime:
    moment = _time(value)
    if moment is None:
        raise ValueError(f"expected a timestamp, got {value!r}")
    return moment


async def read(
    connection: Executor,
    config: RuntimeConfig,
    *,
    now: datetime | None,
    organization_id: str | None,
    daily_quota: int,
    host_probe: HostProbe | None,
) -> Snapshot:
    """The snapshot at ``now`` (the database's clock when None)."""
    row = await stored.snapshot(
        connection,
        now=now,
        failure_window_seconds=config.alerts__failure_window_seconds,
        dlq_growth_window_seconds=config.alerts__dlq_growth_window_seconds,
        dlq_growth=config.alerts__dlq_growth,
        dlq_max_age_seconds=config.alerts__dlq_max_age_hours * 3600.0,
        watch_workers_seconds=WATCH_SILENT_WORKERS_SECONDS,
        entities=list(ENTITY_SLUGS),
    )
    conflicts = await stored_conflicts.open_summary(connection)
    quota = None
    if organization_id:
        usage = await api_usage.today(
            connection, organization_id=organization_id, now=row["at"], daily_quota=daily_quota
        )
        # the plan's quota once a Zoho answer named it (x-rate-limit-limit), else the configured one
        quota = QuotaUsage(organization_id, int(usage["calls"]), int(usage["daily_quota"]))
    host = None
    if host_probe is not None:
        try:
            host = host_probe()
        except Exception as exc:  # a failed probe leaves the host rules unevaluated, nothing more
            log.warning("host probe failed; host rules skipped", error=str(exc)[:300])
    return Snapshot(
        at=row["at"],
        attempts_finished=int(row["attempts_finished"]),
        attempts_failed=int(row["attempts_failed"]),
        backlog=int(row["backlog"]),
        oldest_waiting_at=row["oldest_waiting_at"],
        dlq_new=int(row["dlq_new"]),
        dlq_threshold_reached_at=row["dlq_threshold_reached_at"],
        dlq_open=int(row["dlq_open"]),
        dlq_oldest_open_at=row["dlq_oldest_open_at"],
        dlq_over_age=int(row["dlq_over_age"]),
        conflicts_open=int(conflicts["open"]),
        conflicts_oldest_at=conflicts["oldest_at"],
        pulls=tuple(
            PullState(
                entity=p["entity"],
                first_run_at=_required_time(p["first_run_at"]),
                last_success_at=_time(p["last_success_at"]),
                running_since=_time(p["running_since"]),
                last_status=p["last_status"],
                last_error=p["last_error"],
            )
            for p in row["pulls"]
        ),
        workers=tuple(
            WorkerState(
                worker_id=w["worker_id"],
                hostname=w["hostname"],
                heartbeat_at=_required_time(w["heartbeat_at"]),
                circuit_state=w["circuit_state"],
                circuit_changed_at=_time(w["circuit_changed_at"]),
            )
            for w in row["workers"]
        ),
        reconciles=tuple(
            ReconcileState(
                entity=r["entity"],
                run_id=int(r["run_id"]),
                finished_at=_required_time(r["finished_at"]),
                drift=int(r["drift"]),
                counts={k: int(v) for k, v in (r["counts"] or {}).items() if isinstance(v, int)},
            )
            for r in row["reconciles"]
        ),
        db_connections=int(row["db_connections"]),
        db_max_connections=int(row["db_max_connections"]),
        quota=quota,
        host=host,
    )
