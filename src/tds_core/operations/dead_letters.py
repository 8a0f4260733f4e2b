"""Dead letters as operator actions: list, show, replay, discard (one, by ids, or by filter).

Shared by the admin API and the CLI, so both behave alike. Every replay and discard records its
operator action in the same transaction as the change, and the workers are woken after the
commit. A replay puts the event's own queue row back to ``pending`` with attempts reset (the
row keeps its id and history, so the audit trail's one-row-per-event rule still holds: an event
is applied once). A bulk replay by filter is a background job (``dlq_replay``) that walks the
matching letters in bounded keyset batches; each batch's replays commit with the job's
progress, so a cancelled job leaves exactly what it did.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tds_core.access.actions import Actor, record
from tds_core.db import dead_letters as letters
from tds_core.db.connection import Connection, Executor, Pool, connected, transaction
from tds_core.domain.entities import ENTITY_SLUGS
from tds_core.domain.states import DlqStatus
from tds_core.errors import InvalidRequest, NotFound, WrongState
from tds_core.queue.doorbell import wake_workers

ERROR_CLASSES = ("retryable", "permanent", "unknown")
MAX_IDS = 10_000
MAX_NOTE = 1000
Ring = Callable[[], None]
TEXT_PATTERN = r"^[^\x00]*[^ \t\n\r\x00][^\x00]*$"
"""Some text: not only blanks, no NUL (PostgreSQL refuses NUL); the API's schema uses it too."""
NOTE_PATTERN = r"^[^\x00]*$"


def is_text(value: str) -> bool:
    return re.fullmatch(TEXT_PATTERN, value) is not None


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters: each part optional. ``status`` applies to listing only (replay and
    discard act on open letters); ``ids`` narrows to those letters; ``limit`` caps a bulk action."""

    status: str | None = None
    entity: str | None = None
    zoho_id: str | None = None
    error: str | None = None
    error_class: str | None = None
    ids: tuple[int, ...] | None = None
    limit: int | None = None

    @property
    def selects(self) -> bool:
        """Whether anything narrows the selection (a bulk action needs this or an explicit "all")."""
        return any(v is not None for v in (self.entity, self.zoho_id, self.error, self.error_class, self.ids))

    def check(self) -> DeadLetterFilter:
        reasons: list[str] = []
        if self.status is not None and self.status not in tuple(DlqStatus):
            reasons.append(f"status: {self.status!r} is not one of {', '.join(DlqStatus)}")
        if self.entity is not None and self.entity not in ENTITY_SLUGS:
            reasons.append(f"entity: {self.entity!r} is not one of {', '.join(ENTITY_SLUGS)}")
        if self.error_class is not None and self.error_class not in ERROR_CLASSES:
            reasons.append(f"error_class: {self.error_class!r} is not one of {', '.join(ERROR_CLASSES)}")
        for name in ("zoho_id", "error"):
            value = getattr(self, name)
            if value is not None and (not is_text(value) or len(value) > 200):
                reasons.append(f"{name}: 1-200 characters, not only blanks, no NUL")
        if self.ids is not None and (len(self.ids) > MAX_IDS or any(not 0 < i <= 2**62 for i in self.ids)):
            reasons.append(f"ids: at most {MAX_IDS} positive ids")
        if self.limit is not None and self.limit < 1:
            reasons.append("limit: must be at least 1")
        if reasons:
            raise InvalidRequest(reasons)
        return self

    def to_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "entity": self.entity,
            "zoho_id": self.zoho_id,
            "error": self.error,
            "error_class": self.error_class,
            "ids": list(self.ids) if self.ids is not None else None,
            "limit": self.limit,
        }
        return {k: v for k, v in params.items() if v is not None}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> DeadLetterFilter:
        ids = params.get("ids")
        return cls(
            entity=params.get("entity"),
            zoho_id=params.get("zoho_id"),
            error=params.get("error"),
            error_class=params.get("error_class"),
            ids=tuple(ids) if ids is not None else None,
            limit=params.get("limit"),
        )

    def _ids(self) -> list[int] | None:
        """``ids`` as the statements take them."""
        return list(self.ids) if self.ids is not None else None  # an empty list selects nothing, not all


@dataclass
class Resolution:
    """What a replay or discard of several letters did."""

    resolved: list[int] = field(default_factory=list)
    """Letters replayed (or discarded) now."""
    skipped: list[int] = field(default_factory=list)
    """Letters asked for that were not open (already resolved, or unknown)."""


def check_note(note: str | None, *, required: bool) -> str | None:
    if note is not None and ("\x00" in note or len(note) > MAX_NOTE):
        raise InvalidRequest([f"note: at most {MAX_NOTE} characters, no NUL"])
    if note is None or not is_text(note):
        if required:
            raise InvalidRequest(["note: required: say why the dead letters are discarded"])
        return None
    return note.strip(" \t\n\r")


# ---------------------------------------------------------------------------- reading
async def list_letters(
    connection: Executor, selection: DeadLetterFilter, *, before_id: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Dead letters matching ``selection``, newest first; ``before_id`` pages (keyset)."""
    selection.check()
    rows = await letters.page(
        connection,
        status=selection.status,
        entity=selection.entity,
        zoho_id=selection.zoho_id,
        error=selection.error,
        error_class=selection.error_class,
        before_id=before_id,
        limit=limit,
    )
    return [dict(r) for r in rows]


async def get_letter(connection: Executor, letter_id: int) -> dict[str, Any]:
    """One dead letter with its payload, error and attempt history; raises :class:`NotFound`."""
    row = await letters.get(connection, letter_id=letter_id)
    if row is None:
        raise NotFound(f"no dead letter {letter_id}")
    return dict(row)


# ---------------------------------------------------------------------------- one letter
async def replay_one(
    connection: Connection, letter_id: int, actor: Actor, note: str | None = None
) -> dict[str, Any]:
    """Re-queue one open letter; raises :class:`NotFound`, or :class:`WrongState` when it is not open."""
    note = check_note(note, required=False)
    async with transaction(connection):
        await _lock_open(connection, letter_id)
        rows = await letters.requeue(connection, letter_ids=[letter_id], by=actor.name, note=note)
        if not rows:
            raise WrongState(f"dead letter {letter_id} cannot be replayed: its queue row is not dead")
        await record(
            connection,
            actor,
            "dlq.replay",
            target=str(letter_id),
            details={"queue_id": rows[0]["queue_id"], "note": note},
        )
    await wake_workers(connection)
    return await get_letter(connection, letter_id)


async def discard_one(connection: Connection, letter_id: int, actor: Actor, note: str) -> dict[str, Any]:
    """Dismiss one open letter with a note; raises :class:`NotFound` or :class:`WrongState`."""
    checked = check_note(note, required=True)
    async with transaction(connection):
        await _lock_open(connection, letter_id)
        rows = await letters.discard_open(connection, letter_ids=[letter_id], by=actor.name, note=checked)
        await record(
            connection,
            actor,
            "dlq.discard",
            target=str(letter_id),
            details={"queue_id": rows[0]["queue_id"], "note": checked},
        )
    return await get_letter(connection, letter_id)


async def _lock_open(connection: Executor, letter_id: int) -> None:
    current = await letters.lock_one(connection, letter_id=letter_id)
    if current is None:
        raise NotFound(f"no dead letter {letter_id}")
    if current["status"] != DlqStatus.OPEN:
        raise WrongState(
            f"dead letter {letter_id} is already {current['status']} "
            f"(by {current['resolved_by']} at {current['resolved_at']:%Y-%m-%d %H:%M:%S %Z})"
        )


# ---------------------------------------------------------------------------- several letters
async def replay_ids(
    connection: Connection, ids: list[int], actor: Actor, note: str | None = None
) -> Resolution:
    """Re-queue the open letters among ``ids`` in one transaction (the others are skipped)."""
    DeadLetterFilter(ids=tuple(ids)).check()
    note = check_note(note, required=False)
    async with transaction(connection):
        outcome = await replay_batch(connection, sorted(set(ids)), actor.name, note)
        await record(
            connection,
            actor,
            "dlq.replay",
            details={"ids": outcome.resolved, "skipped": outcome.skipped, "note": note},
        )
    if outcome.resolved:
        await wake_workers(connection)
    return outcome


async def discard_ids(connection: Connection, ids: list[int], actor: Actor, note: str) -> Resolution:
    """Dismiss the open letters among ``ids`` with a note, in one transaction."""
    DeadLetterFilter(ids=tuple(ids)).check()
    checked = check_note(note, required=True)
    wanted = sorted(set(ids))
    async with transaction(connection):
        rows = await letters.discard_open(connection, letter_ids=wanted, by=actor.name, note=checked)
        outcome = _outcome(wanted, rows)
        await record(
            connection,
            actor,
            "dlq.discard",
            details={"ids": outcome.resolved, "skipped": outcome.skipped, "note": checked},
        )
    return outcome


async def discard_matching(
    pool: Pool,
    selection: DeadLetterFilter,
    actor: Actor,
    note: str,
    *,
    batch_size: int = 1000,
    on_batch: Callable[[int, int], None] | None = None,
) -> int:
    """Dismiss every open letter matching ``selection`` (up to its limit), in bounded keyset
    batches, each its own transaction with its own action record. Returns how many were discarded;
    ``on_batch(done, total)`` reports progress."""
    selection.check()
    checked = check_note(note, required=True)
    discarded = 0
    total, upto = await open_bounds(pool, selection)
    after = 0
    while True:
        async with connected(pool) as connection, transaction(connection):
            ids = await next_open_ids(connection, selection, after, upto, batch_size)
            if not ids:
                break
            rows = await letters.discard_open(connection, letter_ids=ids, by=actor.name, note=checked)
            outcome = _outcome(ids, rows)
            await record(
                connection,
                actor,
                "dlq.discard",
                details={"ids": outcome.resolved, "filter": selection.to_params(), "note": checked},
            )
        after = ids[-1]
        discarded += len(outcome.resolved)
        if on_batch is not None:
            on_batch(discarded, total)
    return discarded


async def replay_batch(connection: Executor, ids: list[int], by: str, note: str | None) -> Resolution:
    rows = await letters.requeue(connection, letter_ids=ids, by=by, note=note)
    return _outcome(ids, rows)


def _outcome(asked: list[int], rows: list[letters.Resolved]) -> Resolution:
    done = {r["id"] for r in rows}
    return Resolution(resolved=sorted(done), skipped=[i for i in asked if i not in done])


async def open_bounds(db: Executor, selection: DeadLetterFilter) -> tuple[int, int]:
    row = await letters.open_bounds(
        db,
        entity=selection.entity,
        zoho_id=selection.zoho_id,
        error=selection.error,
        error_class=selection.error_class,
        ids=selection._ids(),
        limit=selection.limit,
    )
    return int(row["total"]), int(row["upto"])


async def next_open_ids(
    db: Executor, selection: DeadLetterFilter, after: int, upto: int, size: int
) -> list[int]:
    return await letters.open_after(
        db,
        entity=selection.entity,
        zoho_id=selection.zoho_id,
        error=selection.error,
        error_class=selection.error_class,
        ids=selection._ids(),
        after=after,
        upto=upto,
        limit=size,
    )
