"""Who is on call: a daily or weekly rotation, one list of members per escalation level.

Shift ``n`` starts at ``starts_at + n * period`` (``n`` may be negative: the rotation runs
backwards before its start too); at level ``L`` member ``n mod len(members)`` holds it. Every
level hands over at the same moments. With no levels configured, level 0 is every enabled
channel and nobody in particular, so alerts still reach someone; there is nothing to escalate to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tds_core.config.runtime import Channel, OnCall, OnCallMember, RuntimeConfig

PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


@dataclass(frozen=True)
class Shift:
    level: int
    member: OnCallMember | None
    channels: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def shift(oncall: OnCall, level: int, at: datetime) -> Shift | None:
    """The shift of ``level`` that contains ``at``; None when there is no such level."""
    if not 0 <= level < len(oncall.levels):
        return None
    period = PERIODS[oncall.rotation]
    start = _aware(oncall.starts_at)
    number = (_aware(at) - start) // period
    members = oncall.levels[level].members
    return Shift(
        level=level,
        member=members[number % len(members)] if members else None,
        channels=tuple(oncall.levels[level].channels),
        starts_at=start + number * period,
        ends_at=start + (number + 1) * period,
    )


def shifts(oncall: OnCall, at: datetime) -> list[Shift]:
    """Every level's shift at ``at``, level 0 first."""
    return [s for level in range(len(oncall.levels)) if (s := shift(oncall, level, at)) is not None]


def top_level(config: RuntimeConfig) -> int:
    """The last level an alert can escalate to (0 when there is no rotation)."""
    return max(0, len(config.alerts__oncall.levels) - 1)


def targets(config: RuntimeConfig, level: int, at: datetime) -> list[tuple[Channel, OnCallMember | None]]:
    """The enabled channels to notify at ``level`` and who is on call there."""
    channels = {c.name: c for c in config.alerts__channels if c.enabled}
    if not config.alerts__oncall.levels:
        return [(c, None) for c in channels.values()] if level == 0 else []
    current = shift(config.alerts__oncall, level, at)
    if current is None:
        return []
    return [(channels[name], current.member) for name in current.channels if name in channels]


def find_member(oncall: OnCall, name: str | None) -> OnCallMember | None:
    """The member called ``name`` (deliveries keep the name; addresses are read when sending)."""
    if name is None:
        return None
    for level in oncall.levels:
        for member in level.members:
            if member.name == name:
                return member
    return None
