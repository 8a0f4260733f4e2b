"""Fixed-bucket histograms: the bounds, Prometheus's ``le`` rule, quantile estimates, export."""

from __future__ import annotations

import pytest

from tds_core.observability.histogram import (
    BOUNDS_MS,
    BUCKETS,
    EXPORTED_BOUNDS_MS,
    Histogram,
    bucket_index,
)


def test_bounds_are_sorted_and_exported_ones_are_a_subset() -> None:
    assert list(BOUNDS_MS) == sorted(set(BOUNDS_MS))
    assert BOUNDS_MS[0] == 1.0 and BOUNDS_MS[-1] == 10_000_000.0
    assert set(EXPORTED_BOUNDS_MS) <= set(BOUNDS_MS)
    assert EXPORTED_BOUNDS_MS[:4] == (1.0, 2.5, 5.0, 10.0)
    assert 12.0 in BOUNDS_MS and 7_500_000.0 in BOUNDS_MS  # no float noise (12.000000000000002)
    assert BUCKETS == len(BOUNDS_MS) + 1 == 72


@pytest.mark.parametrize(
    ("value", "bucket"),
    [(-5.0, 0), (0.0, 0), (1.0, 0), (1.0001, 1), (1.2, 1), (100.0, 20), (100.5, 21), (1e9, 71)],
)
def test_a_value_on_a_bound_counts_in_that_bounds_bucket(value: float, bucket: int) -> None:
    assert bucket_index(value) == bucket


def test_quantiles_interpolate_inside_the_bucket() -> None:
    histogram = Histogram.of([110.0] * 100)  # all in (100, 120]
    assert histogram.quantile(0.5) == pytest.approx(110.0)
    assert histogram.quantile(0.95) == pytest.approx(119.0)
    assert histogram.quantile(0.99) == pytest.approx(119.8)


def test_quantiles_across_buckets() -> None:
    # 90 fast (in (4, 5]) and 10 slow (in (2000, 2500]): the median is fast, p95 and p99 are slow
    histogram = Histogram.of([4.5] * 90 + [2400.0] * 10)
    assert histogram.quantile(0.5) == pytest.approx(4.0 + 1.0 * 50 / 90)
    assert histogram.quantile(0.95) == pytest.approx(2000.0 + 500.0 * 5 / 10)
    assert histogram.quantile(0.99) == pytest.approx(2000.0 + 500.0 * 9 / 10)
    assert histogram.count == 100
    assert histogram.total_ms == pytest.approx(90 * 4.5 + 10 * 2400.0)


def test_quantile_edges() -> None:
    assert Histogram().quantile(0.5) is None
    assert Histogram.of([0.5]).quantile(0.5) == pytest.approx(0.5)  # (0, 1]: from zero
    assert Histogram.of([5e10]).quantile(0.99) == BOUNDS_MS[-1]  # above every bound
    with pytest.raises(ValueError, match="between 0 and 1"):
        Histogram.of([1.0]).quantile(1.0)


def test_merge_adds_counts_and_sums() -> None:
    a, b = Histogram.of([3.0, 30.0]), Histogram.of([30.0, 300.0])
    a.merge(b)
    assert a.count == 4
    assert a.counts[bucket_index(30.0)] == 2
    assert a.total_ms == pytest.approx(363.0)


def test_cumulative_export_is_monotonic_and_exact_at_the_bounds() -> None:
    histogram = Histogram.of([1.0, 2.0, 2.5, 3.0, 5.0, 7.0, 1e9])
    exported = dict(histogram.cumulative())
    assert exported[1.0] == 1
    assert exported[2.5] == 3  # 1, 2, 2.5 (le)
    assert exported[5.0] == 5
    assert exported[10.0] == 6
    assert exported[10_000_000.0] == 6  # the 1e9 one is only in +Inf
    values = [n for _, n in histogram.cumulative()]
    assert values == sorted(values)


def test_stored_arrays_of_other_bounds_are_ignored() -> None:
    assert Histogram.from_array([1, 2, 3], 10.0).count == 0
    stored = Histogram.of([42.0])
    assert Histogram.from_array(stored.counts, stored.total_ms) == stored
