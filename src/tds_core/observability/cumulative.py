"""Cumulative counts since TDS was installed, for the whole cluster: totals + the rows after them.

A counter is ``tds_metric_totals`` (everything the roll-up folded before its watermark, plus
what processes added for things no row records) **plus** the rows of ``tds_v_metric_events``
and ``tds_v_metric_samples`` at or after the watermark. Read in one snapshot, that sum does
not change when the roll-up folds a minute (the minute moves from "live" to "totals" in one
commit), and it never goes down when retention deletes old rows (they were folded long
before). The live part is a few minutes of rows, read by index whatever the tables' size.
That holds while the roll-up runs at least once within the shortest retention of a counted
table (Zoho usage rows: 2 days; inbox and finished queue rows: 7 days): rows deleted before
they were folded would drop out of a counter once.

This module owns the keys of ``tds_metric_totals`` (:func:`event_key`, :func:`sample_key`):
the roll-up writes with them and the scrape reads with them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tds_core.db import metrics
from tds_core.db.connection import Executor
from tds_core.observability.histogram import BOUNDS_MS, Histogram

Labels = tuple[tuple[str, str], ...]
"""Label pairs sorted by name: hashable, and equal for equal label sets."""

WEBHOOK_REFUSALS = "webhook_refusals"
ZOHO_THROTTLED = "zoho_throttled"
ZOHO_CALLS = "zoho_calls"


def labels_of(mapping: dict[str, Any]) -> Labels:
    return tuple(sorted((str(k), str(v)) for k, v in mapping.items()))


def event_key(stream: str, entity: str, kind: str, origin: str) -> tuple[str, Labels]:
    """The totals key of one row of ``metrics_events_by_minute``."""
    if stream == ZOHO_CALLS:
        return stream, labels_of({"organization": origin})
    labels = {"entity": entity, "kind": kind}
    if origin:
        labels["origin"] = origin
    return stream, labels_of(labels)


def sample_key(name: str, entity: str) -> tuple[str, Labels]:
    """The totals key of one histogram (``metrics_samples_by_minute``'s name and entity)."""
    return name, labels_of({"entity": entity})


@dataclass
class Cumulative:
    """Counters and histograms as of one snapshot."""

    counters: dict[str, dict[Labels, float]] = field(default_factory=lambda: defaultdict(dict))
    histograms: dict[str, dict[Labels, Histogram]] = field(default_factory=lambda: defaultdict(dict))
    rolled_through: datetime | None = None

    def add_counter(self, name: str, labels: Labels, value: float) -> None:
        series = self.counters[name]
        series[labels] = series.get(labels, 0.0) + value

    def histogram(self, name: str, labels: Labels) -> Histogram:
        series = self.histograms[name]
        if labels not in series:
            series[labels] = Histogram()
        return series[labels]


async def read(connection: Executor) -> Cumulative:
    """Totals plus live rows. Run it inside a repeatable-read transaction: every statement
    must see the same snapshot, or a roll-up committing in between would count a minute twice
    (or not at all)."""
    result = Cumulative()
    result.rolled_through = await metrics.rollup_state(connection)
    for row in await metrics.totals(connection):
        labels = labels_of(row["labels"])
        if row["counts"] is not None:
            result.histogram(row["name"], labels).merge(Histogram.from_array(row["counts"], row["value"]))
        else:
            result.add_counter(row["name"], labels, float(row["value"]))
    since = result.rolled_through
    for event in await metrics.events_by_minute(connection, since=since, until=None):
        name, labels = event_key(event["stream"], event["entity"], event["kind"], event["origin"])
        result.add_counter(name, labels, float(event["n"]))
    for sample in await metrics.samples_by_minute(
        connection, since=since, until=None, bounds=list(BOUNDS_MS), names=None
    ):
        name, labels = sample_key(sample["name"], sample["entity"])
        result.histogram(name, labels).add(sample["bucket"], int(sample["n"]), float(sample["total"]))
    return result
