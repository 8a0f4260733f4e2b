"""The Prometheus exposition of ``GET /metrics``: the whole cluster, read from PostgreSQL.

TDS runs several API processes behind one port and worker processes with no HTTP server, and
a scrape lands on one API process. So nothing here comes from the answering process's
memory: every number is read from the database in one repeatable-read snapshot, and any API
process gives the same answer.

- **Counters** (``*_total``) and **histograms** are cumulative since TDS was installed:
  ``tds_metric_totals`` (folded by the roll-up, see :mod:`.rollup`) plus the rows after the
  roll-up's watermark (:mod:`.cumulative`). They never go down — not when the roll-up folds a
  minute, not when retention deletes old rows — so ``rate()`` and ``histogram_quantile()``
  work. Webhook answers that store no row (duplicates, 401, 404, 413, 429, 503) and Zoho 429s
  are added to the totals by the process that sees them (:mod:`.counters`); an API process
  killed with SIGKILL loses at most its last few seconds of those.
- **Gauges** are the current state: queue depth, the age of the oldest ready event (the lag),
  dead letters, open ERP conflicts, live workers by breaker state, pull lag and reconciliation
  drift per entity, Zoho calls today and the remaining daily quota.

Cost of a scrape: the totals (a few hundred rows), index range scans over the rows of the last
few minutes (the roll-up runs every minute and leaves ``settle_seconds`` for late commits), and
the gauges (partial indexes of pending/leased rows and open dead letters, one index probe per
entity for runs). Nothing scans the completed rows of the queue or the history of the logs.

``/metrics`` needs no token, as is usual for Prometheus; restrict it at the reverse proxy
(nginx ``location = /metrics { allow <prometheus>; deny all; }``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from tds_core.db import api_usage, metrics
from tds_core.db.connection import Pool, connected
from tds_core.domain.conflicts import Policy
from tds_core.domain.entities import ENTITY_SLUGS
from tds_core.domain.states import CircuitState
from tds_core.observability import cumulative
from tds_core.observability.cumulative import WEBHOOK_REFUSALS, ZOHO_CALLS, ZOHO_THROTTLED, Cumulative
from tds_core.observability.histogram import Histogram

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SYNC_OUTCOMES = ("completed", "skipped_stale", "skipped_unchanged", "retry", "dead")
HISTOGRAMS = {
    "latency": (
        "tds_event_latency_seconds",
        "End-to-end latency: received by TDS until applied (or skipped)",
    ),
    "apply_duration": ("tds_apply_duration_seconds", "Duration of the batch apply an event was part of"),
    "claim_wait": ("tds_claim_wait_seconds", "Wait from enqueue to the claim by the worker that finished it"),
}


async def collect(
    pool: Pool, *, daily_quotas: Mapping[str, int] | None = None, now: datetime | None = None
) -> list[Metric]:
    """Every metric family, from one snapshot of the database (``now`` pins the gauges' clock)."""
    async with (
        connected(pool) as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        counts = await cumulative.read(connection)
        gauges = await metrics.gauges(connection, now=now, entities=list(ENTITY_SLUGS))
        quotas: dict[str, tuple[int, int]] = {}
        for organization, configured in (daily_quotas or {}).items():
            # the organization's day and Zoho's quota once an answer named them
            usage = await api_usage.today(
                connection, organization_id=organization, now=now, daily_quota=configured
            )
            quotas[organization] = (int(usage["calls"]), int(usage["daily_quota"]))
    return [
        *counter_families(counts),
        *histogram_families(counts),
        *gauge_families([(r["name"], r["labels"], r["value"]) for r in gauges], quotas),
    ]


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def exposition(families: list[Metric]) -> bytes:
    """The Prometheus text format (version 0.0.4) of ``families``."""
    return generate_latest(_Families(families))


def counter_families(counts: Cumulative) -> list[Metric]:
    inbox = counts.counters.get("inbox", {})
    webhooks: dict[tuple[str, str], float] = {
        (e, o): 0.0 for e in ENTITY_SLUGS for o in ("queued", "rejected")
    }
    received: dict[tuple[str, str], float] = {(e, "webhook"): 0.0 for e in ENTITY_SLUGS}
    for labels, value in inbox.items():
        row = dict(labels)
        source = row.get("origin", "")
        received[(row["entity"], source)] = received.get((row["entity"], source), 0.0) + value
        if source == "webhook":
            key = (row["entity"], row["kind"])
            webhooks[key] = webhooks.get(key, 0.0) + value
    for labels, value in counts.counters.get(WEBHOOK_REFUSALS, {}).items():
        row = dict(labels)
        key = (row.get("entity", "unknown"), row.get("outcome", "unknown"))
        webhooks[key] = webhooks.get(key, 0.0) + value

    families: list[Metric] = []
    family = CounterMetricFamily(
        "tds_webhooks",
        "Webhooks answered, by entity and outcome: queued, hint, rejected (stored in the inbox); "
        "duplicate, unauthorized, unknown_entity, too_large, rate_limited, unavailable, ... (nothing stored)",
        labels=["entity", "outcome"],
    )
    for (entity, outcome), value in sorted(webhooks.items()):
        family.add_metric([entity, outcome], value)
    families.append(family)

    family = CounterMetricFamily(
        "tds_events_received",
        "Events received into the inbox, by entity and source (webhook, pull, reconcile, replay, manual)",
        labels=["entity", "source"],
    )
    for (entity, source), value in sorted(received.items()):
        family.add_metric([entity, source], value)
    families.append(family)

    outcomes: dict[tuple[str, str], float] = {(e, o): 0.0 for e in ENTITY_SLUGS for o in SYNC_OUTCOMES}
    for labels, value in counts.counters.get("sync", {}).items():
        row = dict(labels)
        outcomes[(row["entity"], row["kind"])] = outcomes.get((row["entity"], row["kind"]), 0.0) + value
    family = CounterMetricFamily(
        "tds_sync_outcomes",
        "Outcomes logged for queue events: completed, skipped_stale, skipped_unchanged, retry (a failed "
        "attempt that will be retried), dead, replayed, discarded",
        labels=["entity", "outcome"],
    )
    for (entity, outcome), value in sorted(outcomes.items()):
        family.add_metric([entity, outcome], value)
    families.append(family)

    families.append(
        _simple_counter(
            "tds_dead_lettered",
            "Events moved to the dead letter queue (by a worker or the lease rescuer), by error class",
            ["entity", "error_class"],
            {
                (dict(k)["entity"], dict(k)["kind"]): v
                for k, v in counts.counters.get("dead_letter", {}).items()
            },
        )
    )
    conflicts: dict[tuple[str, ...], float] = {(e, p): 0.0 for e in ENTITY_SLUGS for p in Policy}
    for labels, value in counts.counters.get("conflict", {}).items():
        row = dict(labels)
        conflicts[(row["entity"], row["kind"])] = conflicts.get((row["entity"], row["kind"]), 0.0) + value
    families.append(
        _simple_counter(
            "tds_conflicts",
            "ERP rows changed outside TDS that an event met, by entity and the policy applied "
            "(source_wins, preserve_columns, hold: a held instance counts once)",
            ["entity", "policy"],
            conflicts,
        )
    )
    families.append(
        _simple_counter(
            "tds_zoho_calls",
            "Zoho API calls made, per organization (the shared rate limiter's count)",
            ["organization"],
            {(dict(k)["organization"],): v for k, v in counts.counters.get(ZOHO_CALLS, {}).items()},
        )
    )
    families.append(
        _simple_counter(
            "tds_zoho_throttled",
            "Zoho answers refusing a call for a limit (HTTP 429): per_minute (code 44), daily (code 45), "
            "in_flight (code 1070)",
            ["organization", "reason"],
            {
                (dict(k).get("organization", ""), dict(k).get("reason", "")): v
                for k, v in counts.counters.get(ZOHO_THROTTLED, {}).items()
            },
        )
    )
    return families


def _simple_counter(
    name: str, documentation: str, labels: list[str], values: dict[tuple[str, ...], float]
) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def histogram_families(counts: Cumulative) -> list[Metric]:
    families: list[Metric] = []
    for source, (name, documentation) in HISTOGRAMS.items():
        by_entity: dict[str, Histogram] = {entity: Histogram() for entity in ENTITY_SLUGS}
        for labels, histogram in counts.histograms.get(source, {}).items():
            by_entity.setdefault(dict(labels)["entity"], Histogram()).merge(histogram)
        family = HistogramMetricFamily(name, documentation, labels=["entity"])
        for entity, histogram in sorted(by_entity.items()):
            buckets = [(str(round(le / 1000.0, 9)), float(n)) for le, n in histogram.cumulative()]
            buckets.append(("+Inf", float(histogram.count)))
            family.add_metric([entity], buckets, sum_value=histogram.total_ms / 1000.0)
        families.append(family)
    return families


ENTITY_LABEL = ["entity"]
GAUGES: dict[str, tuple[str, str, list[str]]] = {
    "queue_depth": (
        "tds_queue_depth",
        "Events in the queue by entity and state (pending: ready or in retry backoff; processing: leased)",
        ["entity", "state"],
    ),
    "queue_ready": ("tds_queue_ready", "Pending events that are ready to be claimed now", ENTITY_LABEL),
    "queue_oldest_ready_age_seconds": (
        "tds_queue_oldest_ready_age_seconds",
        "The lag: how long the oldest ready event has waited since it became ready (enqueued, or its "
        "retry backoff ended); 0 when none is ready",
        ENTITY_LABEL,
    ),
    "dlq_open": ("tds_dlq_open", "Open dead letters", ENTITY_LABEL),
    "conflicts_open": (
        "tds_conflicts_open",
        "ERP conflicts held for an operator (policy hold): resolve with apply_source or keep_local",
        ENTITY_LABEL,
    ),
    "dlq_oldest_age_seconds": (
        "tds_dlq_oldest_age_seconds",
        "Age of the oldest open dead letter; 0 when none",
        ENTITY_LABEL,
    ),
    "pull_lag_seconds": (
        "tds_pull_lag_seconds",
        "Seconds since the last successful pull of the entity (absent until one succeeded)",
        ENTITY_LABEL,
    ),
    "reconcile_drift": (
        "tds_reconcile_drift",
        "Records that differed from Zoho in the entity's last reconciliation",
        ENTITY_LABEL,
    ),
    "reconcile_age_seconds": (
        "tds_reconcile_age_seconds",
        "Seconds since the entity's last reconciliation finished",
        ENTITY_LABEL,
    ),
    "zoho_calls_today": ("tds_zoho_calls_today", "Zoho API calls used today (UTC day)", ["organization"]),
    "rollup_lag_seconds": (
        "tds_metrics_rollup_lag_seconds",
        "How far behind the metrics roll-up is (grows while the scheduler is down)",
        [],
    ),
}
# Known label sets reported as 0 when the database has no row for them.
ZERO_FILLED = {
    "queue_depth": [{"entity": e, "state": s} for e in ENTITY_SLUGS for s in ("pending", "processing")],
    "queue_ready": [{"entity": e} for e in ENTITY_SLUGS],
    "queue_oldest_ready_age_seconds": [{"entity": e} for e in ENTITY_SLUGS],
    "dlq_open": [{"entity": e} for e in ENTITY_SLUGS],
    "dlq_oldest_age_seconds": [{"entity": e} for e in ENTITY_SLUGS],
    "conflicts_open": [{"entity": e} for e in ENTITY_SLUGS],
}


def gauge_families(
    rows: list[tuple[str, dict[str, Any], float]], quotas: Mapping[str, tuple[int, int]]
) -> list[Metric]:
    """Gauges from ``metrics_gauges`` rows; ``quotas`` (organization → calls used today and the
    daily quota, both as the rate limiter counts them) adds the quota and what is left of it."""
    values: dict[str, dict[tuple[str, ...], float]] = {key: {} for key in GAUGES}
    for key, label_sets in ZERO_FILLED.items():
        for labels in label_sets:
            values[key][tuple(labels[n] for n in GAUGES[key][2])] = 0.0
    workers = {state.value: 0.0 for state in CircuitState}
    for name, labels, value in rows:
        if name == "workers":
            workers[labels["circuit_state"]] = workers.get(labels["circuit_state"], 0.0) + value
            continue
        values[name][tuple(str(labels[n]) for n in GAUGES[name][2])] = value
    families: list[Metric] = []
    for key, (name, documentation, label_names) in GAUGES.items():
        family = GaugeMetricFamily(name, documentation, labels=label_names)
        for label_values, value in sorted(values[key].items()):
            family.add_metric(list(label_values), value)
        families.append(family)
    alive = GaugeMetricFamily("tds_workers_alive", "Worker processes with a heartbeat in the last 30 s")
    alive.add_metric([], sum(workers.values()))
    breakers = GaugeMetricFamily(
        "tds_circuit_breakers",
        "Live workers by the state of their circuit breaker (closed, open, half_open)",
        labels=["state"],
    )
    for state, count in sorted(workers.items()):
        breakers.add_metric([state], count)
    quota = GaugeMetricFamily(
        "tds_zoho_daily_quota", "The Zoho plan's daily API calls", labels=["organization"]
    )
    remaining = GaugeMetricFamily(
        "tds_zoho_quota_remaining",
        "Zoho API calls left today (the organization's day, Zoho's count once an answer gave it)",
        labels=["organization"],
    )
    for organization, (used, daily) in sorted(quotas.items()):
        quota.add_metric([organization], float(daily))
        remaining.add_metric([organization], float(max(0, daily - used)))
    return [*families, alive, breakers, quota, remaining]
