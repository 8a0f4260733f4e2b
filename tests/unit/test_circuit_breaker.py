"""domain.circuit_breaker: closed → open → half_open → closed/open, on an injected clock."""

from __future__ import annotations

from tds_core.domain.circuit_breaker import BreakerConfig, CircuitBreaker
from tds_core.domain.states import CircuitState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **overrides: float) -> CircuitBreaker:
    values = {"window_seconds": 60.0, "min_calls": 4, "failure_rate": 0.5, "open_seconds": 15.0}
    values.update(overrides)
    return CircuitBreaker(BreakerConfig(**values), clock=clock)  # type: ignore[arg-type]


def open_it(b: CircuitBreaker) -> None:
    for _ in range(4):
        b.record(False)
    assert b.state is CircuitState.OPEN


def test_starts_closed_and_allows() -> None:
    b = breaker(Clock())
    assert b.state is CircuitState.CLOSED
    assert b.allow()
    assert not b.probing


def test_stays_closed_below_min_calls() -> None:
    b = breaker(Clock())
    for _ in range(3):
        b.record(False)
    assert b.state is CircuitState.CLOSED


def test_stays_closed_below_failure_rate() -> None:
    b = breaker(Clock())
    for ok in (True, True, True, False, True, False):
        b.record(ok)
    assert b.state is CircuitState.CLOSED  # 2 of 6 failed


def test_opens_at_the_failure_rate() -> None:
    b = breaker(Clock())
    for ok in (True, False, True, False):
        b.record(ok)
    assert b.state is CircuitState.OPEN  # 2 of 4 = 0.5
    assert not b.allow()


def test_old_calls_leave_the_window() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.record(False)
    clock.now += 61
    b.record(False)  # the three old failures slid out: one call in the window
    assert b.state is CircuitState.CLOSED


def test_open_until_the_cool_down_ends_then_half_open() -> None:
    clock = Clock()
    b = breaker(clock)
    open_it(b)
    clock.now += 14.9
    assert b.state is CircuitState.OPEN
    assert not b.allow()
    clock.now += 0.1
    assert b.state is CircuitState.HALF_OPEN


def test_half_open_allows_one_probe_at_a_time() -> None:
    clock = Clock()
    b = breaker(clock)
    open_it(b)
    clock.now += 15
    assert b.allow()
    assert b.probing
    assert not b.allow()  # the probe is in flight


def test_probe_success_closes() -> None:
    clock = Clock()
    b = breaker(clock)
    open_it(b)
    clock.now += 15
    assert b.allow()
    b.record(True)
    assert b.state is CircuitState.CLOSED
    assert b.allow() and b.allow()
    # the window was reset: three failures are not enough to reopen
    for _ in range(3):
        b.record(False)
    assert b.state is CircuitState.CLOSED


def test_probe_failure_reopens_for_a_full_cool_down() -> None:
    clock = Clock()
    b = breaker(clock)
    open_it(b)
    clock.now += 15
    assert b.allow()
    b.record(False)
    assert b.state is CircuitState.OPEN
    assert not b.allow()
    clock.now += 14
    assert b.state is CircuitState.OPEN
    clock.now += 1
    assert b.state is CircuitState.HALF_OPEN
    assert b.allow()
    b.record(True)
    assert b.state is CircuitState.CLOSED


def test_config_can_be_swapped_at_run_time() -> None:
    clock = Clock()
    b = breaker(clock)
    b.config = BreakerConfig(window_seconds=60, min_calls=1, failure_rate=1.0, open_seconds=1)
    b.record(False)
    assert b.state is CircuitState.OPEN
    clock.now += 1
    assert b.state is CircuitState.HALF_OPEN
