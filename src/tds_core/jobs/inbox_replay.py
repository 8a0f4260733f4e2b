"""Replay from the inbox: re-stage stored raw events (by time received, optionally one entity)
and queue them again, with a dry run that counts first.

How a replay keeps "exactly once" and the trace:

- The raw body is parsed and validated again by the same code a webhook goes through
  (``ingest.bodies.parse`` and ``domain.records.stage``, with the event's own ``received_at``, so
  a record without ``last_modified_time`` gets the same version as the first time). A replay
  after a fix in extraction or validation therefore applies the corrected record.
- Each staged event becomes a **new** queue row of the **same** inbox event (``inbox_event_id``),
  marked as a replay in its attempt history and by a ``replayed`` sync-log row. The original
  queue row keeps its outcome and its audit rows; the inbox idempotency key is not touched.
  The worker applies the new row through the one apply path, where the version guard decides:
  content the ERP already holds ends ``skipped_unchanged`` (nothing written, no audit row),
  older content ``skipped_stale``. So a replay never applies a change twice.
- A rejected event that validates now is queued too, and its inbox row becomes ``queued``
  (its old reasons are kept). Hints are not replayable: their completion is its own event.
- The replay job walks the selected ids in bounded keyset batches; each batch's queue rows
  commit with the job's progress and checkpoint, so a cancelled job leaves exactly what it
  did, and a successor taking over from a dead runner continues after the last committed batch
  (no event is queued twice by one job).
- The dry run runs the same selection and re-staging without writing, so its ``would_queue``
  is what a real replay of the same inbox queues.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tds_core.access.actions import Actor
from tds_core.db import replay as replay_db
from tds_core.db.connection import Connection, Executor, Pool, connected
from tds_core.db.replay import Bounds, InboxEvent
from tds_core.domain.entities import ENTITIES, ENTITY_SLUGS
from tds_core.domain.records import RecordError, stage
from tds_core.domain.states import InboxStatus, Operation
from tds_core.errors import InvalidRequest
from tds_core.ingest.bodies import BodyError, parse
from tds_core.ingest.webhooks import WebhookError, parse_operation
from tds_core.jobs import runner as jobs
from tds_core.jobs.dlq_replay import replay_handler, ring_workers
from tds_core.jobs.runner import JobContext
from tds_core.operations.dead_letters import Ring

REPLAYABLE = (InboxStatus.QUEUED.value, InboxStatus.REJECTED.value)
SAMPLES = 20


@dataclass(frozen=True)
class InboxReplayConfig:
    batch_size: int = 500
    """Inbox events re-staged and queued per transaction."""
    max_json_depth: int = 64
    """As for webhooks (``TDS_MAX_JSON_DEPTH``)."""


@dataclass(frozen=True)
class InboxSelection:
    """Inbox events received in ``[start, end)`` (nothing when ``end <= start``), optionally of one
    entity, of ``statuses``."""

    start: datetime
    end: datetime
    entity: str | None = None
    statuses: tuple[str, ...] = (InboxStatus.QUEUED.value,)

    @classmethod
    def build(
        cls,
        start: datetime,
        end: datetime,
        entity: str | None = None,
        statuses: tuple[str, ...] | None = None,
    ) -> InboxSelection:
        """A checked selection; times without a zone are UTC. Raises :class:`InvalidRequest`."""
        return cls(utc(start), utc(end), entity, statuses or (InboxStatus.QUEUED.value,)).check()

    def check(self) -> InboxSelection:
        reasons: list[str] = []
        if self.start.tzinfo is None or self.end.tzinfo is None:
            reasons.append("from, to: give a time zone (e.g. 2026-01-15T10:00:00Z)")
        if self.entity is not None and self.entity not in ENTITY_SLUGS:
            reasons.append(f"entity: {self.entity!r} is not one of {', '.join(ENTITY_SLUGS)}")
        unknown = [s for s in self.statuses if s not in REPLAYABLE]
        if unknown or not self.statuses:
            reasons.append(f"statuses: replayable inbox statuses are {', '.join(REPLAYABLE)}")
        if reasons:
            raise InvalidRequest(reasons)
        return self

    def to_params(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "entity": self.entity,
            "statuses": list(self.statuses),
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> InboxSelection:
        return cls(
            start=datetime.fromisoformat(params["from"]),
            end=datetime.fromisoformat(params["to"]),
            entity=params.get("entity"),
            statuses=tuple(params.get("statuses") or (InboxStatus.QUEUED.value,)),
        )

    async def bounds(self, db: Executor) -> Bounds:
        """How many events match now, and their id range."""
        return await replay_db.inbox_bounds(
            db, received_from=self.start, received_until=self.end, entity=self.entity, statuses=self.statuses
        )

    async def batch(self, db: Executor, after: int, last: int, size: int) -> list[InboxEvent]:
        """The next ``size`` matching events after id ``after``, up to id ``last``."""
        return await replay_db.inbox_batch(
            db,
            received_from=self.start,
            received_until=self.end,
            entity=self.entity,
            statuses=self.statuses,
            after=after,
            last=last,
            limit=size,
        )


@dataclass
class ReplayCount:
    """What a replay of a selection does (the dry run's answer, and a job's result)."""

    matched: int = 0
    """Inbox events selected."""
    would_queue: int = 0
    """Events that re-stage and are (or would be) queued."""
    invalid: int = 0
    """Events that do not stage (still invalid); never queued."""
    by_entity: dict[str, int] = field(default_factory=dict)
    """Queued (or would be) per entity."""
    invalid_samples: list[dict[str, Any]] = field(default_factory=list)
    """The first few invalid events and why."""

    def add(self, plan: BatchPlan) -> None:
        self.matched += plan.matched
        self.would_queue += len(plan.queue)
        self.invalid += len(plan.invalid)
        for entity, count in Counter(row["entity"] for row in plan.queue).items():
            self.by_entity[entity] = self.by_entity.get(entity, 0) + count
        self.invalid_samples.extend(plan.invalid[: SAMPLES - len(self.invalid_samples)])

    def as_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "would_queue": self.would_queue,
            "invalid": self.invalid,
            "by_entity": dict(sorted(self.by_entity.items())),
            "invalid_samples": self.invalid_samples,
        }


@dataclass
class BatchPlan:
    matched: int = 0
    queue: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------------------- re-staging (pure)
def restage(event: Mapping[str, Any], max_json_depth: int) -> dict[str, Any]:
    """The queue row for one stored inbox event; raises :class:`RecordError` naming why not."""
    spec = ENTITIES.get(event["entity"])
    if spec is None:
        raise RecordError([f"entity: {event['entity']!r} is not synced"])
    operation = _operation(event)
    try:
        document = parse(bytes(event["body"]), event["content_type"], max_json_depth).document
    except BodyError as exc:
        raise RecordError([exc.message]) from exc
    staged = stage(spec, document, operation, event["received_at"])
    return {
        "inbox_event_id": event["id"],
        "entity": staged.entity,
        "zoho_id": staged.zoho_id,
        "operation": staged.operation.value,
        "source_version": staged.version,
        "content_hash": staged.content_hash,
        "payload": staged.record,
    }


def _operation(event: Mapping[str, Any]) -> Operation:
    if event["operation"] is not None:
        return Operation(event["operation"])
    # Rejected before its operation was read: read it again from what the request carried.
    headers = event["headers"] or {}
    query: dict[str, str] = {}
    for part in str(headers.get("query", "")).split("&"):
        name, _, value = part.partition("=")
        query.setdefault(name, value)
    try:
        return parse_operation(query.get("event") or headers.get("x-tds-event"))
    except WebhookError as exc:
        raise RecordError([exc.message]) from exc


def plan_batch(events: list[InboxEvent], max_json_depth: int) -> BatchPlan:
    plan = BatchPlan(matched=len(events))
    for event in events:
        try:
            plan.queue.append(restage(event, max_json_depth))
        except RecordError as exc:
            plan.invalid.append({"event_id": event["id"], "reasons": exc.reasons[:5]})
    return plan


# ---------------------------------------------------------------------------- dry run
async def count(
    pool: Pool, selection: InboxSelection, config: InboxReplayConfig = InboxReplayConfig()
) -> ReplayCount:
    """The dry run: what a replay of ``selection`` would queue now, from one consistent snapshot."""
    selection.check()
    counted = ReplayCount()
    async with (
        connected(pool) as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        bounds = await selection.bounds(connection)
        after, last = bounds["first_id"] - 1, bounds["last_id"]
        while True:
            events = await selection.batch(connection, after, last, config.batch_size)
            if not events:
                break
            counted.add(plan_batch(events, config.max_json_depth))
            after = events[-1]["id"]
    return counted


# ---------------------------------------------------------------------------- the replay job
async def start(connection: Connection, selection: InboxSelection, actor: Actor) -> jobs.Job:
    """Queue an ``inbox_replay`` job for the events matching ``selection`` now (its id range is
    fixed here: events stored later are not part of it)."""
    selection.check()
    bounds = await selection.bounds(connection)
    params = {**selection.to_params(), "first_id": bounds["first_id"], "last_id": bounds["last_id"]}
    return await jobs.create(connection, "inbox_replay", params, actor, total=bounds["matched"])


def handler(
    pool: Pool, ring: Ring | None = None, config: InboxReplayConfig = InboxReplayConfig()
) -> jobs.Handler:
    """The ``inbox_replay`` job: re-stage and queue the selected events in keyset batches; each
    batch commits with the job's progress and checkpoint; it stops between batches when cancelled."""

    async def handle(ctx: JobContext) -> dict[str, Any]:
        selection = InboxSelection.from_params(ctx.params)
        checkpoint = ctx.checkpoint or {}
        after = int(checkpoint.get("after", int(ctx.params["first_id"]) - 1))
        last = int(ctx.params["last_id"])
        totals = ReplayCount(
            matched=ctx.done,
            would_queue=ctx.done - ctx.skipped,
            invalid=ctx.skipped,
            by_entity=dict(checkpoint.get("by_entity", {})),
            invalid_samples=list(checkpoint.get("invalid_samples", [])),
        )
        while not await ctx.cancelled():
            async with ctx.step() as step:
                events = await selection.batch(step.connection, after, last, config.batch_size)
                if events:
                    plan = plan_batch(events, config.max_json_depth)
                    if plan.queue:
                        await replay_db.enqueue_batch(
                            step.connection, events=plan.queue, replayed_by=ctx.created_by, job_id=ctx.job_id
                        )
                    totals.add(plan)
                    after = events[-1]["id"]
                    step.progress(
                        totals.matched,
                        skipped=totals.invalid,
                        checkpoint={
                            "after": after,
                            "by_entity": totals.by_entity,
                            "invalid_samples": totals.invalid_samples,
                        },
                    )
            if not events:
                break
            if plan.queue:
                await ring_workers(pool, ring)
        result = totals.as_dict()
        result["queued"] = result.pop("would_queue")
        return result

    return handle


def replay_handlers(
    pool: Pool, ring: Ring | None = None, *, config: InboxReplayConfig = InboxReplayConfig()
) -> dict[str, jobs.Handler]:
    """The job handlers of both replays (``dlq_replay``, ``inbox_replay``), for a :class:`JobRunner`."""
    return {
        "dlq_replay": replay_handler(pool, ring, batch_size=config.batch_size),
        "inbox_replay": handler(pool, ring, config),
    }


def utc(moment: datetime) -> datetime:
    """In UTC; a time without a zone is taken as UTC (what the CLI and API document). A time whose
    UTC equivalent is beyond Python's range (year 1 at +14:00) is the earliest or latest there is."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if moment.year == datetime.min.year else datetime.max
        return edge.replace(tzinfo=UTC)
