"""The alert rules over hand-made snapshots: each fires past its threshold and not before, with a
stable fingerprint, and says when its condition began where the data tells."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tds_core.alerts.numbers import HostUsage, PullState, QuotaUsage, ReconcileState, Snapshot, WorkerState
from tds_core.alerts.rules import RULES, RULES_BY_NAME, duration, evaluate
from tds_core.alerts.states import Severity
from tds_core.config.runtime import RuntimeConfig

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CONFIG = RuntimeConfig()


def firing(snapshot: Snapshot, config: RuntimeConfig = CONFIG, **overrides: Any) -> dict[str, Any]:
    """Fingerprint -> condition of everything firing."""
    if overrides:
        config = config.model_copy(update=overrides)
    return {c.fingerprint: c for c in evaluate(snapshot, config).conditions}


def snap(**fields: Any) -> Snapshot:
    return Snapshot(at=NOW, **fields)


def test_a_quiet_system_fires_nothing() -> None:
    assert firing(snap(db_max_connections=100, db_connections=5)) == {}


def test_failure_rate_needs_the_minimum_count_and_more_than_the_share() -> None:
    # 5 of 100 is exactly 5%: not more than the limit
    assert firing(snap(attempts_finished=100, attempts_failed=5)) == {}
    # 6 of 19: a high rate, but fewer events than failure_min_events (20)
    assert firing(snap(attempts_finished=19, attempts_failed=6)) == {}
    fired = firing(snap(attempts_finished=100, attempts_failed=6))
    condition = fired["failure_rate"]
    assert condition.severity is Severity.CRITICAL
    assert condition.details == {"finished": 100, "failed": 6, "rate": 0.06}
    assert "6.0%" in condition.title


def test_backlog_fires_above_the_limit() -> None:
    assert firing(snap(backlog=1000)) == {}
    fired = firing(snap(backlog=1001, oldest_waiting_at=NOW - timedelta(minutes=3)))
    assert fired["backlog"].title == "1,001 events waiting in the sync queue"
    assert "3 min ago" in fired["backlog"].message


def test_queue_lag_fires_when_the_oldest_event_waited_long_enough() -> None:
    assert "sync_lag:queue" not in firing(snap(oldest_waiting_at=NOW - timedelta(minutes=14, seconds=59)))
    oldest = NOW - timedelta(minutes=20)
    condition = firing(snap(oldest_waiting_at=oldest))["sync_lag:queue"]
    assert condition.since == oldest + timedelta(minutes=15)
    assert condition.stored_details()["condition_since"] == (oldest + timedelta(minutes=15)).isoformat()


def test_pull_lag_counts_from_the_last_success_and_spares_a_pull_in_progress() -> None:
    last = NOW - timedelta(minutes=16)
    late = PullState(
        "items",
        first_run_at=NOW - timedelta(days=3),
        last_success_at=last,
        last_status="failed",
        last_error="Zoho answered 500",
    )
    condition = firing(snap(pulls=(late,)))["sync_lag:items"]
    assert condition.since == last + timedelta(minutes=15)
    assert "Zoho answered 500" in condition.message
    running = PullState(
        "items",
        first_run_at=NOW - timedelta(days=3),
        last_success_at=last,
        running_since=NOW - timedelta(seconds=30),
        last_status="running",
    )
    assert firing(snap(pulls=(running,))) == {}
    # a run stuck for longer than the limit does not hide the lag
    stuck = PullState(
        "items",
        first_run_at=NOW - timedelta(days=3),
        last_success_at=last,
        running_since=NOW - timedelta(minutes=15),
        last_status="running",
    )
    assert "sync_lag:items" in firing(snap(pulls=(stuck,)))
    fresh = PullState(
        "contacts", first_run_at=NOW - timedelta(days=3), last_success_at=NOW - timedelta(minutes=5)
    )
    assert firing(snap(pulls=(fresh,))) == {}


def test_an_entity_that_never_pulled_successfully_lags_from_its_first_run() -> None:
    never = PullState("bills", first_run_at=NOW - timedelta(minutes=40), last_status="failed")
    condition = firing(snap(pulls=(never,)))["sync_lag:bills"]
    assert "never pulled successfully" in condition.title
    assert condition.since == NOW - timedelta(minutes=25)


def test_dlq_growth_fires_at_the_threshold_and_starts_when_it_was_reached() -> None:
    assert firing(snap(dlq_new=9)) == {}
    reached = NOW - timedelta(minutes=2)
    condition = firing(snap(dlq_new=10, dlq_threshold_reached_at=reached, dlq_open=12))["dlq_growth"]
    assert condition.since == reached and condition.details == {"new": 10, "open": 12}


def test_dlq_age_fires_for_any_dead_letter_over_the_age() -> None:
    assert firing(snap(dlq_open=3, dlq_oldest_open_at=NOW - timedelta(hours=23), dlq_over_age=0)) == {}
    oldest = NOW - timedelta(hours=30)
    condition = firing(snap(dlq_open=3, dlq_oldest_open_at=oldest, dlq_over_age=2))["dlq_age"]
    assert condition.since == oldest + timedelta(hours=24)
    assert condition.title == "2 dead letters older than 24.0 h"


def test_heartbeat_and_circuit_rules_per_worker() -> None:
    beating = WorkerState("w-ok", "host-a", NOW - timedelta(seconds=10))
    silent = WorkerState("w-gone", "host-b", NOW - timedelta(seconds=90))
    tripped = WorkerState("w-trip", "host-a", NOW - timedelta(seconds=5), "open", NOW - timedelta(seconds=40))
    fired = firing(snap(workers=(beating, silent, tripped)))
    assert set(fired) == {"worker_heartbeat:w-gone", "circuit_open"}
    assert fired["worker_heartbeat:w-gone"].since == silent.heartbeat_at + timedelta(seconds=60)
    assert fired["circuit_open"].details == {"workers": {"w-trip": "open"}}
    assert fired["circuit_open"].since == tripped.circuit_changed_at
    # a silent worker's breaker state is stale: only its heartbeat alert speaks for it
    stale = WorkerState("w-old", "host-c", NOW - timedelta(minutes=5), "open", NOW - timedelta(minutes=6))
    assert set(firing(snap(workers=(stale,)))) == {"worker_heartbeat:w-old"}


def test_quota_warns_near_the_end_and_is_critical_when_spent() -> None:
    assert firing(snap(quota=QuotaUsage("org1", 900, 1000))) == {}
    near = firing(snap(quota=QuotaUsage("org1", 901, 1000)))["zoho_quota:org1"]
    assert near.severity is Severity.WARNING and near.details["left"] == 99
    spent = firing(snap(quota=QuotaUsage("org1", 1000, 1000)))["zoho_quota:org1"]
    assert spent.severity is Severity.CRITICAL and "spent" in spent.title


def test_reconcile_drift_is_one_alert_per_run() -> None:
    clean = ReconcileState("items", 7, NOW - timedelta(hours=1), 0)
    drifted = ReconcileState(
        "contacts", 8, NOW - timedelta(hours=1), 3, {"missing": 2, "stale": 1, "extra": 0}
    )
    fired = firing(snap(reconciles=(clean, drifted)))
    assert set(fired) == {"reconcile_drift:contacts:8"}
    assert "missing 2, stale 1." in fired["reconcile_drift:contacts:8"].message
    assert RULES_BY_NAME["reconcile_drift"].per_event


@pytest.mark.parametrize(
    ("rule", "field", "limit_key"),
    [
        ("host_cpu", "cpu_percent", "alerts__cpu_percent"),
        ("host_memory", "memory_percent", "alerts__memory_percent"),
        ("host_disk", "disk_percent", "alerts__disk_percent"),
    ],
)
def test_host_resources(rule: str, field: str, limit_key: str) -> None:
    figures = {"cpu_percent": 10.0, "memory_percent": 10.0, "disk_percent": 10.0}
    calm = HostUsage("box", disk_path="/srv/tds", **figures)
    assert firing(snap(host=calm)) == {}
    hot = HostUsage("box", disk_path="/srv/tds", **(figures | {field: 95.0}))
    assert set(firing(snap(host=hot))) == {f"{rule}:box"}
    assert firing(snap(host=hot), **{limit_key: 96.0}) == {}
    config = CONFIG.model_copy(update={limit_key: 42.0})
    assert RULES_BY_NAME[rule].thresholds(config) == {field: 42.0}
    assert rule not in evaluate(snap(), CONFIG).evaluated


def test_database_connections_against_max_connections() -> None:
    assert firing(snap(db_connections=79, db_max_connections=100)) == {}
    condition = firing(snap(db_connections=80, db_max_connections=100))["db_connections"]
    assert condition.details == {"used": 80, "max": 100, "percent": 80.0}


def test_rules_without_their_inputs_are_not_evaluated() -> None:
    """No Zoho organization, no host probe: those rules' open alerts must not be auto-resolved."""
    evaluated = evaluate(snap(), CONFIG).evaluated
    assert "zoho_quota" not in evaluated and "host_disk" not in evaluated
    everything = snap(quota=QuotaUsage("o", 0, 10), host=HostUsage("h", 0, 0, 0, "/"))
    assert evaluate(everything, CONFIG).evaluated == {rule.name for rule in RULES}


def test_thresholds_follow_the_configuration() -> None:
    config = CONFIG.model_copy(update={"alerts__backlog": 5})
    assert RULES_BY_NAME["backlog"].thresholds(config) == {"backlog": 5}
    assert "backlog" in firing(snap(backlog=6), config)


def test_durations_read_naturally() -> None:
    assert [duration(s) for s in (45, 1020, 12_600, 200_000)] == ["45 s", "17 min", "3.5 h", "2.3 d"]
