"""Zoho's API limits per organization (``zoho-books-reference.md`` section 4).

- 100 requests a minute (HTTP 429, code 44): counted in calendar minutes of the clock, so a
  client that is refused can wait for the next minute, as the reference advises.
- A daily quota (HTTP 429, code 45): counted per calendar day in the organization's zone; it
  resets at the organization's midnight. Every API answer tells the client where it stands
  (reference section 10): ``x-rate-limit-limit`` (the daily quota), ``x-rate-limit-remaining``
  and ``x-rate-limit-reset`` (seconds until that midnight), see :meth:`Limits.headers`.
- 10 requests in flight at once (HTTP 429, code 1070).

Only calls that get past authentication are counted; a refused call counts toward nothing.
Zoho sends no ``Retry-After`` header with any of these (third-party observation), and
neither does the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from tds_core.simulator.clock import Clock, seconds_until_midnight
from tds_core.simulator.config import SimulatorConfig

PER_MINUTE_CODE = 44
PER_MINUTE_MESSAGE = (
    "For security reasons your organization has been blocked as it have exceeded the maximum number of"
    " requests per minute that can originate from an organization."
)
DAILY_CODE = 45
CONCURRENCY_CODE = 1070
CONCURRENCY_MESSAGE = (
    "You have reached the maximum number of in process requests allowed. Kindly try again after some time."
)


def daily_message(limit: int) -> str:
    return f"The API call for this organization has exceeded the maximum call rate limit of {limit}."


@dataclass(frozen=True)
class Refusal:
    code: int
    message: str


class Limits:
    """Counts calls per organization against the per-minute, daily and in-flight limits."""

    def __init__(self, config: SimulatorConfig, clock: Clock, zone: tzinfo) -> None:
        self._config = config
        self._clock = clock
        self._zone = zone
        self._in_flight: dict[str, int] = {}
        self._minute: dict[str, tuple[int, int]] = {}
        self._day: dict[str, tuple[str, int]] = {}

    def enter(self, organization_id: str) -> Refusal | None:
        """Start a call; a refusal means it was not admitted (and must not be left)."""
        current = self._in_flight.get(organization_id, 0)
        if current >= self._config.max_concurrent_requests:
            return Refusal(CONCURRENCY_CODE, CONCURRENCY_MESSAGE)
        self._in_flight[organization_id] = current + 1
        return None

    def leave(self, organization_id: str) -> None:
        self._in_flight[organization_id] = max(self._in_flight.get(organization_id, 0) - 1, 0)

    def in_flight(self, organization_id: str) -> int:
        return self._in_flight.get(organization_id, 0)

    def charge(self, organization_id: str) -> Refusal | None:
        """Count one call against the daily and per-minute limits, unless it is refused."""
        now = self._clock()
        minute = int(now.timestamp() // 60)
        day = now.astimezone(self._zone).date().isoformat()
        day_key, day_count = self._day.get(organization_id, (day, 0))
        if day_key != day:
            day_count = 0
        minute_key, minute_count = self._minute.get(organization_id, (minute, 0))
        if minute_key != minute:
            minute_count = 0
        if day_count >= self._config.daily_request_limit:
            return Refusal(DAILY_CODE, daily_message(self._config.daily_request_limit))
        if minute_count >= self._config.requests_per_minute:
            return Refusal(PER_MINUTE_CODE, PER_MINUTE_MESSAGE)
        self._day[organization_id] = (day, day_count + 1)
        self._minute[organization_id] = (minute, minute_count + 1)
        return None

    def used_today(self, organization_id: str) -> int:
        now = self._clock().astimezone(self._zone).date().isoformat()
        day, count = self._day.get(organization_id, (now, 0))
        return count if day == now else 0

    def headers(self, organization_id: str) -> dict[str, str]:
        """The ``x-rate-limit-*`` headers of an answer to ``organization_id``."""
        limit = self._config.daily_request_limit
        remaining = max(limit - self.used_today(organization_id), 0)
        reset = seconds_until_midnight(self._clock(), self._zone)
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(reset),
        }
