"""The per-minute series the roll-up writes into ``tds_metrics`` (and the dashboard charts).

One place names every series, says what it measures and how minutes combine into a longer
step (``sum`` for counts, ``max`` for gauges and percentiles), and maps the counted events of
``tds_v_metric_events`` onto the count series. The roll-up (writing) and the stats API
(reading rolled minutes plus the live rows after them) both use :func:`count_series`, so a
window's numbers do not change when its minutes get rolled up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["entity", "entity_or_all", "total"]
"""``entity``: one row per entity (labels ``{"entity": ...}``), summed when no entity is asked
for; ``entity_or_all``: per entity plus one row for all entities (labels ``{}``); ``total``:
one row (labels ``{}``)."""


@dataclass(frozen=True)
class Series:
    name: str
    kind: Literal["count", "gauge", "percentile"]
    scope: Scope
    unit: str
    description: str

    @property
    def aggregate(self) -> Literal["sum", "max"]:
        """How the minutes of a longer step combine."""
        return "sum" if self.kind == "count" else "max"


SERIES: dict[str, Series] = {
    s.name: s
    for s in (
        Series("events_received", "count", "entity", "events", "Events received into the inbox (any source)"),
        Series(
            "events_rejected", "count", "entity", "events", "Events refused as invalid (kept as rejected)"
        ),
        Series("events_applied", "count", "entity", "events", "Events applied to the ERP tables"),
        Series("events_skipped", "count", "entity", "events", "Events skipped as stale or unchanged"),
        Series("events_retried", "count", "entity", "events", "Failed attempts that will be retried"),
        Series("events_dead_lettered", "count", "entity", "events", "Events moved to the dead letter queue"),
        Series("zoho_calls", "count", "total", "calls", "Zoho API calls made"),
        Series("latency_p50_ms", "percentile", "entity_or_all", "ms", "End-to-end latency, median"),
        Series("latency_p95_ms", "percentile", "entity_or_all", "ms", "End-to-end latency, 95th percentile"),
        Series("latency_p99_ms", "percentile", "entity_or_all", "ms", "End-to-end latency, 99th percentile"),
        Series("queue_pending", "gauge", "total", "events", "Events waiting (ready or in retry backoff)"),
        Series("queue_ready", "gauge", "total", "events", "Events ready to be claimed now"),
        Series("queue_processing", "gauge", "total", "events", "Events leased to a worker"),
        Series(
            "queue_oldest_ready_age_seconds",
            "gauge",
            "total",
            "s",
            "How long the oldest ready event has waited (the lag)",
        ),
        Series("dlq_open", "gauge", "total", "events", "Open dead letters"),
        Series("dlq_oldest_age_seconds", "gauge", "total", "s", "Age of the oldest open dead letter"),
        Series("workers_alive", "gauge", "total", "workers", "Workers with a recent heartbeat"),
        Series(
            "breakers_open", "gauge", "total", "workers", "Live workers whose circuit breaker is not closed"
        ),
        Series("zoho_calls_today", "gauge", "total", "calls", "Zoho API calls used today (UTC) of the quota"),
    )
}

PERCENTILE_SERIES = {0.5: "latency_p50_ms", 0.95: "latency_p95_ms", 0.99: "latency_p99_ms"}

SKIPPED = ("skipped_stale", "skipped_unchanged")


def count_series(stream: str, kind: str) -> tuple[str, ...]:
    """The count series one row of ``tds_v_metric_events`` (or of Zoho usage) adds to."""
    if stream == "inbox":
        return ("events_received", "events_rejected") if kind == "rejected" else ("events_received",)
    if stream == "sync":
        if kind == "completed":
            return ("events_applied",)
        if kind in SKIPPED:
            return ("events_skipped",)
        if kind == "retry":
            return ("events_retried",)
        return ()
    if stream == "dead_letter":
        return ("events_dead_lettered",)
    if stream == "zoho_calls":
        return ("zoho_calls",)
    return ()
