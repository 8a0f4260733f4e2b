"""The three roles, each allowed everything the one before it may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"
    """Reads everything an operator sees (stats, queue, DLQ, runs, alerts, configuration)."""
    operator = "operator"
    """Also acts: replay, discard, sync, reconcile, acknowledge and silence alerts."""
    admin = "admin"
    """Also changes configuration, API keys and users."""

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.viewer: 0, Role.operator: 1, Role.admin: 2}
