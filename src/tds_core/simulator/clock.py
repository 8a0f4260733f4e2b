"""Time for the simulator: an injectable clock, and Zoho's timestamp format.

Zoho writes timestamps as ``2024-01-15T10:20:30+0530``: ISO 8601 with the organization's UTC
offset and no colon in it; business dates are plain ``yyyy-mm-dd``
(``zoho-books-reference.md`` section 4). Every part of the simulator that needs "now" (record
versions, token expiry, rate-limit windows) asks one :data:`Clock`, so tests pin and advance
time instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

Clock = Callable[[], datetime]
"""Returns the current time as an aware ``datetime``."""

ZOHO_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def system_clock() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: ``clock.advance(61)`` crosses a rate-limit minute."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2024, 1, 15, 4, 50, 30, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")

    def __call__(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = moment


def offset_zone(minutes: int) -> timezone:
    """The organization's time zone as a fixed UTC offset (``330`` is ``+0530``)."""
    return timezone(timedelta(minutes=minutes))


def seconds_until_midnight(moment: datetime, zone: tzinfo) -> int:
    """Whole seconds from ``moment`` to the next midnight in ``zone`` (the quota's reset)."""
    local = moment.astimezone(zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(), tzinfo=zone)
    # Subtract in UTC: aware datetimes sharing one tzinfo subtract as wall-clock times (DST).
    return max(int((midnight.astimezone(UTC) - moment.astimezone(UTC)).total_seconds()), 0)


def format_zoho_time(moment: datetime, zone: tzinfo) -> str:
    """``2024-01-15T10:20:30+0530``: whole seconds, offset without a colon."""
    return moment.astimezone(zone).strftime(ZOHO_TIME_FORMAT)


def parse_zoho_time(text: str) -> datetime:
    """Parse Zoho's timestamp; accepts ``+0530``, ``+05:30`` and ``Z``.

    A ``+`` that reached the server unencoded arrives as a space; that is refused
    (``ValueError``), as the Books docs warn the ``+`` must be sent as ``%2B``.
    """
    if " " in text:
        raise ValueError(f"not a Zoho timestamp (unencoded '+'?): {text!r}")
    return datetime.strptime(text, ZOHO_TIME_FORMAT)


def format_zoho_date(day: date) -> str:
    return day.isoformat()
