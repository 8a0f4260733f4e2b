"""Fixed-bucket histograms of milliseconds: the bounds, bucketing, merging, quantiles. Pure.

Every histogram TDS keeps (end-to-end latency, apply duration, enqueue-to-claim wait) uses the
same bounds, ten per decade from 1 ms to 10,000 s (``1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5``
times a power of ten), so arrays from any minute, entity or process add up. Bucket ``i`` counts observations
in ``(BOUNDS_MS[i-1], BOUNDS_MS[i]]`` (Prometheus's ``le``: a value equal to a bound counts in
that bound's bucket); the last bucket is everything above the largest bound.

The bounds are part of the stored format (``tds_metric_histograms.counts``,
``tds_metric_totals.counts``): changing them needs a migration that resets those arrays.
Arrays of another length are ignored rather than misread.

Quantiles are estimated like Prometheus's ``histogram_quantile``: linear interpolation inside
the bucket holding the rank, so an estimate is off by at most the bucket's width (a fifth
to a third of the value with these bounds). Prometheus exports a coarser subset of the bounds
(``1, 2.5, 5`` times a power of ten ms, in seconds) to keep the number of series down.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

MANTISSAS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.5)
EXPORTED_MANTISSAS = (1.0, 2.5, 5.0)
BOUNDS_MS: tuple[float, ...] = (
    *(round(mantissa * 10**exponent, 6) for exponent in range(7) for mantissa in MANTISSAS),
    10_000_000.0,
)
EXPORTED_BOUNDS_MS: tuple[float, ...] = (
    *(round(mantissa * 10**exponent, 6) for exponent in range(7) for mantissa in EXPORTED_MANTISSAS),
    10_000_000.0,
)
BUCKETS = len(BOUNDS_MS) + 1
QUANTILES = (0.5, 0.95, 0.99)


def bucket_index(value_ms: float) -> int:
    """The bucket of one observation: how many bounds lie strictly below it."""
    return bisect.bisect_left(BOUNDS_MS, value_ms)


@dataclass
class Histogram:
    """Observations per bucket (not cumulative) and their sum, in milliseconds."""

    counts: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    total_ms: float = 0.0

    @classmethod
    def of(cls, values_ms: Iterable[float]) -> Histogram:
        histogram = cls()
        for value in values_ms:
            histogram.add(bucket_index(value), 1, value)
        return histogram

    @classmethod
    def from_array(cls, counts: Sequence[int] | None, total_ms: float) -> Histogram:
        """A stored array; one of another length (other bounds) counts as empty."""
        if counts is None or len(counts) != BUCKETS:
            return cls()
        return cls([int(c) for c in counts], float(total_ms))

    @property
    def count(self) -> int:
        return sum(self.counts)

    def add(self, bucket: int, count: int, total_ms: float) -> None:
        self.counts[bucket] += count
        self.total_ms += total_ms

    def merge(self, other: Histogram) -> None:
        for index, count in enumerate(other.counts):
            self.counts[index] += count
        self.total_ms += other.total_ms

    def quantile(self, q: float) -> float | None:
        """The estimated ``q`` quantile in ms (``None`` without observations)."""
        if not 0.0 < q < 1.0:
            raise ValueError("q must be between 0 and 1 (exclusive)")
        total = self.count
        if total == 0:
            return None
        rank = q * total
        below = 0
        for index, count in enumerate(self.counts):
            if count and below + count >= rank:
                if index == len(BOUNDS_MS):
                    return BOUNDS_MS[-1]  # above the largest bound: its bound, as Prometheus does
                lower = BOUNDS_MS[index - 1] if index > 0 else 0.0
                upper = BOUNDS_MS[index]
                return lower + (upper - lower) * (rank - below) / count
            below += count
        return BOUNDS_MS[-1]  # pragma: no cover - the loop always reaches the rank

    def cumulative(self, bounds_ms: Sequence[float] = EXPORTED_BOUNDS_MS) -> list[tuple[float, int]]:
        """``(le, observations <= le)`` at each of ``bounds_ms`` (a subset of the bounds)."""
        result: list[tuple[float, int]] = []
        running = 0
        index = 0
        for bound in bounds_ms:
            stop = BOUNDS_MS.index(bound) + 1
            while index < stop:
                running += self.counts[index]
                index += 1
            result.append((bound, running))
        return result
