"""A circuit breaker over batch outcomes: failure rate in a sliding window with a minimum count.

closed ──(failure rate ≥ threshold over ≥ min_calls in the window)──> open
open ──(open_seconds elapsed)──> half_open: one small probe batch is allowed
half_open ──probe ok──> closed;  half_open ──probe fails──> open again
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tds_core.domain.states import CircuitState


@dataclass(frozen=True)
class BreakerConfig:
    window_seconds: float = 60.0
    min_calls: int = 10
    failure_rate: float = 0.5
    open_seconds: float = 5.0


class CircuitBreaker:
    def __init__(self, config: BreakerConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._calls: deque[tuple[float, bool]] = deque()
        self._state = CircuitState.CLOSED
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> CircuitState:
        if self._state is CircuitState.OPEN and self._clock() - self._opened_at >= self.config.open_seconds:
            self._state = CircuitState.HALF_OPEN
            self._probe_in_flight = False
        return self._state

    def allow(self) -> bool:
        """May the worker claim now? In half-open, only one probe at a time."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return True
        return False

    @property
    def probing(self) -> bool:
        return self._state is CircuitState.HALF_OPEN

    def record(self, ok: bool) -> None:
        now = self._clock()
        if self._state is CircuitState.HALF_OPEN:
            self._probe_in_flight = False
            if ok:
                self._state = CircuitState.CLOSED
                self._calls.clear()
            else:
                self._open(now)
            return
        self._calls.append((now, ok))
        horizon = now - self.config.window_seconds
        while self._calls and self._calls[0][0] < horizon:
            self._calls.popleft()
        failures = sum(1 for _, good in self._calls if not good)
        if (
            self._state is CircuitState.CLOSED
            and len(self._calls) >= self.config.min_calls
            and failures / len(self._calls) >= self.config.failure_rate
        ):
            self._open(now)

    def _open(self, now: float) -> None:
        self._state = CircuitState.OPEN
        self._opened_at = now
        self._calls.clear()
