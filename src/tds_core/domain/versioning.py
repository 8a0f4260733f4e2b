"""The version guard: decide what one event does to the row the ERP holds.

Rules (DESIGN.md guarantee 3):
- a delete always applies to a live row (deletion in Zoho is final; the tombstone keeps the
  newer of the two versions);
- older than the row's version → ``skipped_stale``, the row is untouched;
- the row is a tombstone → any later upsert is ``skipped_stale`` (Zoho never reuses an id,
  so nothing may resurrect a deleted entity); a second delete is ``skipped_unchanged``, and a
  newer one gives the tombstone its version (the applier's plan; nothing else changes);
- same content hash as the row → ``skipped_unchanged``;
- otherwise the event applies (at an equal version with different content, the newest
  arrival wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Decision(StrEnum):
    APPLY = "apply"
    STALE = "skipped_stale"
    UNCHANGED = "skipped_unchanged"


@dataclass(frozen=True)
class RowVersion:
    """What the guard needs to know about the row the ERP holds now."""

    source_version: datetime
    content_hash: str | None
    deleted: bool


def decide(current: RowVersion | None, version: datetime, content_hash: str, is_delete: bool) -> Decision:
    if current is None:
        return Decision.APPLY
    if current.deleted:
        return Decision.UNCHANGED if is_delete else Decision.STALE
    if is_delete:
        return Decision.APPLY
    if version < current.source_version:
        return Decision.STALE
    if content_hash == current.content_hash:
        return Decision.UNCHANGED
    return Decision.APPLY
