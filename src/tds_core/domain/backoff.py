"""Retry schedule: exponential backoff with full jitter and a cap.

The delay before attempt ``n + 1`` (after ``n`` failed attempts) is drawn uniformly from
``[0, min(cap, base * 2 ** (n - 1))]``. With the defaults (base 2 s, cap 300 s):

| failed attempts | upper bound of the wait |
|---|---|
| 1 | 2 s |
| 2 | 4 s |
| 3 | 8 s |
| 4 | 16 s |
| 5 | 32 s |
| 6 | 64 s |
| 7 | 128 s |
| 8 | 256 s |
| 9+ | 300 s (cap) |
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class BackoffPolicy:
    base_seconds: float = 2.0
    cap_seconds: float = 300.0

    def ceiling(self, failed_attempts: int) -> float:
        exponent = max(0, failed_attempts - 1)
        return float(min(self.cap_seconds, self.base_seconds * (2 ** min(exponent, 62))))

    def delay(self, failed_attempts: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform between zero and the ceiling."""
        return (rng or random).uniform(0.0, self.ceiling(failed_attempts))
