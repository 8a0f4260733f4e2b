"""The metrics roll-up: fold finished minutes into ``tds_metrics`` and the cumulative totals.

``MetricsRollup(pool).run_once(now=None)`` is run by the scheduler every
``metrics.rollup_seconds`` (60). Each step is one transaction over a range of whole minutes
``[rolled_through, end)``:

1. lock the watermark row (``tds_metric_rollup``): two roll-ups never fold a minute twice;
2. count the range through ``tds_v_metric_events`` / ``tds_v_metric_samples``, by minute;
3. write the per-minute series of :mod:`.series` into ``tds_metrics`` (counts per entity,
   latency p50/p95/p99 per entity and for all) and the per-minute histograms into
   ``tds_metric_histograms`` (upserts: rewriting a minute gives the same rows);
4. add the range's counts to ``tds_metric_totals`` and move the watermark to ``end`` — in the
   same commit, so a scrape sees each minute either live or in the totals, never both.

A minute is folded once it ended ``settle_seconds`` ago (rows are stamped with their
transaction's start and commit a little later; a row committing later than that is not
counted). After downtime it catches up in steps of ``step_minutes``, at most ``max_steps`` per
run; minutes older than ``retention_days`` (which ``tds_metrics`` would not keep) go to the
totals only, a day per step. The first run starts at the oldest counted row.

Each run also samples the gauges into the current minute (queue depth, lag, dead letters,
workers, breakers, Zoho calls today) and deletes per-minute histograms past the retention
(``tds_metrics`` itself is cleaned by ``tds_retention_cleanup``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from tds_core.db import metrics
from tds_core.db.connection import Connection, Pool, connected, transaction
from tds_core.domain.entities import ENTITY_SLUGS
from tds_core.observability.cumulative import Labels, event_key, labels_of, sample_key
from tds_core.observability.histogram import BOUNDS_MS, Histogram
from tds_core.observability.series import PERCENTILE_SERIES, SERIES, count_series

log = structlog.get_logger("tds.metrics")

MINUTE = timedelta(minutes=1)
ALL: Labels = ()


@dataclass(frozen=True)
class RollupConfig:
    settle_seconds: float = 60.0
    """A minute is folded once it ended this long ago (time for transactions to commit)."""
    step_minutes: int = 60
    """Minutes folded per transaction."""
    max_steps: int = 24
    """Transactions per run: a run catches up at most a day of per-minute series."""
    retention_days: int = 30
    """Minutes older than this only go to the totals; older per-minute histograms are deleted."""
    delete_batch: int = 10_000


@dataclass
class RollupResult:
    steps: int = 0
    minutes: int = 0
    """Minutes written to tds_metrics (not counting those folded into the totals only)."""
    rolled_through: datetime | None = None
    caught_up: bool = False
    histograms_deleted: int = 0
    details: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.steps > 0 or self.histograms_deleted > 0


def floor_minute(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(second=0, microsecond=0)


class MetricsRollup:
    def __init__(self, pool: Pool, config: RollupConfig | None = None) -> None:
        self.pool = pool
        self.config = config or RollupConfig()

    async def run_once(self, now: datetime | None = None) -> RollupResult:
        async with connected(self.pool) as connection:
            return await self._run(connection, now)

    async def _run(self, connection: Connection, pinned: datetime | None) -> RollupResult:
        config = self.config
        now = await metrics.clock(connection, now=pinned)
        target = floor_minute(now - timedelta(seconds=config.settle_seconds))
        cutoff = floor_minute(now) - timedelta(days=config.retention_days)
        result = RollupResult()
        while result.steps < config.max_steps:
            async with transaction(connection):
                rolled = await metrics.rollup_lock(connection)
                if rolled is None:
                    # first run: start at the oldest counted row (nothing before it to count)
                    earliest = await metrics.earliest(connection)
                    start = min(floor_minute(earliest), target) if earliest is not None else target
                    await metrics.rollup_advance(connection, rolled_through=start)
                    log.info("metrics roll-up starts", rolled_through=start.isoformat())
                    continue
                if rolled >= target:
                    result.caught_up = True
                    result.rolled_through = rolled
                    break
                if rolled < cutoff:
                    end, minutes = min(rolled + timedelta(days=1), cutoff), False
                else:
                    end, minutes = min(rolled + config.step_minutes * MINUTE, target), True
                await self._fold(connection, rolled, end, minutes=minutes)
                await metrics.rollup_advance(connection, rolled_through=end)
            result.steps += 1
            result.rolled_through = end
            if minutes:
                result.minutes += int((end - rolled) / MINUTE)
        async with transaction(connection):
            await self._sample_gauges(connection, now)
        result.histograms_deleted = await metrics.histograms_delete_before(
            connection, before=cutoff, limit=config.delete_batch
        )
        if not result.caught_up:
            log.info(
                "metrics roll-up catching up", rolled_through=str(result.rolled_through), steps=result.steps
            )
        return result

    async def _fold(self, connection: Connection, start: datetime, end: datetime, *, minutes: bool) -> None:
        """Add ``[start, end)`` to the totals and, with ``minutes``, write its per-minute rows."""
        totals: dict[tuple[str, Labels], float] = defaultdict(float)
        series: dict[tuple[str, Labels, datetime], float] = defaultdict(float)
        for row in await metrics.events_by_minute(connection, since=start, until=end):
            totals[event_key(row["stream"], row["entity"], row["kind"], row["origin"])] += row["n"]
            for name in count_series(row["stream"], row["kind"]):
                labels = ALL if SERIES[name].scope == "total" else labels_of({"entity": row["entity"]})
                series[(name, labels, row["minute"])] += row["n"]
        histogram_totals: dict[tuple[str, Labels], Histogram] = defaultdict(Histogram)
        per_minute: dict[tuple[str, str, datetime], Histogram] = defaultdict(Histogram)
        for sample in await metrics.samples_by_minute(
            connection, since=start, until=end, bounds=list(BOUNDS_MS), names=None
        ):
            n, total = int(sample["n"]), float(sample["total"])
            histogram_totals[sample_key(sample["name"], sample["entity"])].add(sample["bucket"], n, total)
            per_minute[(sample["name"], sample["entity"], sample["minute"])].add(sample["bucket"], n, total)

        additions: list[metrics.TotalAddition] = [
            {"name": name, "labels": dict(labels), "value": value} for (name, labels), value in totals.items()
        ]
        additions += [
            {"name": name, "labels": dict(labels), "value": h.total_ms, "counts": h.counts}
            for (name, labels), h in histogram_totals.items()
        ]
        if additions:
            await metrics.totals_add(connection, additions=additions)
        if not minutes:
            return
        all_entities: dict[datetime, Histogram] = defaultdict(Histogram)
        for (name, entity, minute), histogram in per_minute.items():
            if name != "latency":
                continue
            all_entities[minute].merge(histogram)
            for q, series_name in PERCENTILE_SERIES.items():
                series[(series_name, labels_of({"entity": entity}), minute)] = histogram.quantile(q) or 0.0
        for minute, histogram in all_entities.items():
            for q, series_name in PERCENTILE_SERIES.items():
                series[(series_name, ALL, minute)] = histogram.quantile(q) or 0.0
        rows: list[metrics.MinuteValue] = [
            {"name": name, "labels": dict(labels), "bucket_start": minute.isoformat(), "value": value}
            for (name, labels, minute), value in series.items()
        ]
        if rows:
            await metrics.minutes_upsert(connection, minutes=rows)
        if per_minute:
            await metrics.histograms_upsert(
                connection,
                histograms=[
                    {
                        "name": name,
                        "entity": entity,
                        "bucket_start": minute.isoformat(),
                        "counts": h.counts,
                        "total": h.total_ms,
                    }
                    for (name, entity, minute), h in per_minute.items()
                ],
            )

    async def _sample_gauges(self, connection: Connection, now: datetime) -> None:
        """The current state into the current minute (the last sample of a minute wins)."""
        values = {name: 0.0 for name, s in SERIES.items() if s.kind == "gauge"}
        for row in await metrics.gauges(connection, now=now, entities=list(ENTITY_SLUGS)):
            name, labels, value = row["name"], row["labels"], float(row["value"])
            if name == "queue_depth":
                values[f"queue_{labels['state']}"] += value
            elif name in ("queue_ready", "dlq_open", "zoho_calls_today"):
                values[name] += value
            elif name in ("queue_oldest_ready_age_seconds", "dlq_oldest_age_seconds"):
                values[name] = max(values[name], value)
            elif name == "workers":
                values["workers_alive"] += value
                if labels["circuit_state"] != "closed":
                    values["breakers_open"] += value
        minute = floor_minute(now).isoformat()
        await metrics.minutes_upsert(
            connection,
            minutes=[
                {"name": name, "labels": {}, "bucket_start": minute, "value": value}
                for name, value in values.items()
            ],
        )
