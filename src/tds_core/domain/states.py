"""Queue, inbox and job states, defined once.

Each state names which component moves rows in and out of it. The PostgreSQL enum
``tds_queue_state`` mirrors :class:`QueueState`, and ``tds_jobs``' CHECK constraints mirror
:class:`JobKind` and :class:`JobState`; tests check that both sides agree.
"""

from __future__ import annotations

from enum import StrEnum


class QueueState(StrEnum):
    PENDING = "pending"
    """Ready, or waiting for ``next_attempt_at``. In: staging (enqueue), a retry, the lease
    rescuer, a DLQ replay. Out: a worker's batch claim."""

    PROCESSING = "processing"
    """Leased to one worker (``locked_by``, ``locked_until``). In: the claim. Out: the same
    worker's apply (guarded by the lease), a retry, or the lease rescuer when the lease expired."""

    COMPLETED = "completed"
    """Applied to the ERP tables, committed together with its audit row. Terminal."""

    SKIPPED_STALE = "skipped_stale"
    """Older than the version the ERP already holds (or the entity is deleted). Terminal."""

    SKIPPED_UNCHANGED = "skipped_unchanged"
    """Same content hash as the ERP row; nothing touched. Terminal."""

    DEAD = "dead"
    """Moved to the dead letter queue after a permanent error or ``max_attempts``.
    Out: a DLQ replay puts it back to ``pending`` with attempts reset."""

    HELD = "held"
    """Parked in an open ERP conflict (``tds_conflicts``, policy ``hold``): the ERP row was changed
    outside TDS, or its instance already has an open conflict. In: a worker's apply. Out: an
    operator's resolution: ``apply_source`` puts it back to ``pending`` (attempts reset; the version
    guard still decides), ``keep_local`` ends it ``skipped_unchanged`` (the row as it is now is
    accepted for this version). Never deleted by retention while held."""


TERMINAL_STATES = frozenset(
    {QueueState.COMPLETED, QueueState.SKIPPED_STALE, QueueState.SKIPPED_UNCHANGED, QueueState.DEAD}
)


class InboxStatus(StrEnum):
    QUEUED = "queued"
    """Valid: a queue row was inserted in the same transaction."""

    REJECTED = "rejected"
    """Invalid (malformed body, failed schema): kept with its reasons, never queued."""

    HINT = "hint"
    """A partial webhook kept as a change hint (``TDS_WEBHOOK_COMPLETE_PARTIAL``). Out: the
    hint completer fetches the full record, stages it, and marks the hint ``fetched``."""

    FETCHED = "fetched"
    """A hint whose full record was fetched and staged (as a new inbox event). Terminal."""


class DlqStatus(StrEnum):
    OPEN = "open"
    """Waiting for an operator. In: a worker dead-lettering an event."""

    REPLAYED = "replayed"
    """Re-queued by ``tds dlq replay`` (who and when recorded)."""

    DISCARDED = "discarded"
    """Dismissed by an operator with a note."""


class Operation(StrEnum):
    """What a webhook or pull asks for. created/updated/upsert all apply as an upsert."""

    UPSERT = "upsert"
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"

    @property
    def is_delete(self) -> bool:
        return self is Operation.DELETED


class CircuitState(StrEnum):
    CLOSED = "closed"
    """Claiming normally."""

    OPEN = "open"
    """Too many failures in the window: no claiming until the cool-down ends."""

    HALF_OPEN = "half_open"
    """Cool-down over: one small probe batch decides between closed and open."""


class JobKind(StrEnum):
    """What a background job (``tds_jobs``, run by ``jobs/runner.py``) does."""

    DLQ_REPLAY = "dlq_replay"
    """Put selected dead letters back in the queue."""

    INBOX_REPLAY = "inbox_replay"
    """Stage received webhooks again from the inbox (a time range, some statuses)."""

    SYNC = "sync"
    """Pull entities from Zoho now (incremental, or full)."""

    RECONCILE = "reconcile"
    """Compare the ERP with Zoho record by record, healing what differs."""


class JobState(StrEnum):
    QUEUED = "queued"
    """Created (API, CLI, scheduler), waiting for a runner. Out: a runner's claim."""

    RUNNING = "running"
    """Claimed by one runner, which heartbeats it; a lapsed heartbeat lets another take it over."""

    COMPLETED = "completed"
    """Done. Terminal."""

    CANCELLED = "cancelled"
    """Stopped at an operator's request, at the next step boundary. Terminal."""

    FAILED = "failed"
    """Ended by an error (kept in ``error``). Terminal."""


FINISHED_JOB_STATES = frozenset({JobState.COMPLETED, JobState.CANCELLED, JobState.FAILED})
