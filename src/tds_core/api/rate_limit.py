"""Per-key token buckets for the login and webhook endpoints (429 with ``Retry-After``).

Limits are per API process: N processes admit up to N times the rate. That bounds brute force
and floods without a database round trip on the hot path; ``nginx``'s ``limit_req`` in front
gives a global bound (deploy/nginx).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate`` tokens per second per key, bursts up to ``burst``; the least recently used keys
    are forgotten beyond ``max_keys`` so garbage keys cannot grow memory without bound."""

    def __init__(self, *, max_keys: int = 10_000) -> None:
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def acquire(self, key: str, rate: float, burst: float, now: float | None = None) -> float:
        """0 when allowed (a token is taken), else the seconds until a token is available."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=burst, updated=now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
