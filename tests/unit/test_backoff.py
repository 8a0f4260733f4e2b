"""domain.backoff: exponential backoff with full jitter and a cap."""

from __future__ import annotations

import random

import pytest

from tds_core.domain.backoff import BackoffPolicy

# The table in the module docstring (defaults: base 2 s, cap 300 s).
DOCSTRING_TABLE = [(1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 64), (7, 128), (8, 256), (9, 300), (10, 300)]


@pytest.mark.parametrize(("failed", "ceiling"), DOCSTRING_TABLE)
def test_ceiling_matches_the_docstring_table(failed: int, ceiling: float) -> None:
    assert BackoffPolicy().ceiling(failed) == ceiling


@pytest.mark.parametrize("failed", [0, -3])
def test_ceiling_before_any_failure_is_the_base(failed: int) -> None:
    assert BackoffPolicy().ceiling(failed) == 2.0


@pytest.mark.parametrize("failed", [60, 63, 64, 1000, 10**9])
def test_huge_attempt_counts_stay_at_the_cap(failed: int) -> None:
    assert BackoffPolicy().ceiling(failed) == 300.0
    assert 0.0 <= BackoffPolicy().delay(failed) <= 300.0


@pytest.mark.parametrize("failed", range(1, 12))
def test_full_jitter_stays_within_the_ceiling(failed: int) -> None:
    policy = BackoffPolicy(base_seconds=0.5, cap_seconds=60.0)
    rng = random.Random(failed)
    delays = [policy.delay(failed, rng) for _ in range(500)]
    ceiling = policy.ceiling(failed)
    assert all(0.0 <= d <= ceiling for d in delays)
    # full jitter: the draws spread over the whole range, not clustered at the ceiling
    assert min(delays) < ceiling * 0.1
    assert max(delays) > ceiling * 0.9


def test_delay_is_reproducible_with_a_seeded_rng() -> None:
    policy = BackoffPolicy()
    assert policy.delay(3, random.Random(7)) == policy.delay(3, random.Random(7))


def test_zero_base_means_retry_at_once() -> None:
    policy = BackoffPolicy(base_seconds=0.0, cap_seconds=300.0)
    assert policy.ceiling(5) == 0.0
    assert policy.delay(5) == 0.0


def test_cap_below_base() -> None:
    policy = BackoffPolicy(base_seconds=10.0, cap_seconds=3.0)
    assert policy.ceiling(1) == 3.0
