"""Admin API: the dead letter queue. Viewers read; operators replay and discard (recorded with who).

A bulk replay by filter is a background job (202 with the job; follow it at ``/api/v1/jobs/{id}``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from tds_core.api.auth import Operator, Viewer
from tds_core.api.context import Ctx, Db
from tds_core.api.inputs import RequestBody
from tds_core.api.schemas import MAX_ID, JobOut, job_out
from tds_core.db.connection import connected
from tds_core.db.errors import translated
from tds_core.domain.entities import ENTITY_SLUGS
from tds_core.jobs import dlq_replay
from tds_core.operations import dead_letters
from tds_core.operations.dead_letters import DeadLetterFilter
from tds_core.operations.inspection import DeadLetter, DeadLetterSummary

router = APIRouter(prefix="/api/v1/dlq", tags=["dead letters"])
ENTITY_PATTERN = f"^({'|'.join(ENTITY_SLUGS)})$"
TEXT = dead_letters.TEXT_PATTERN
LetterId = Annotated[int, Path(ge=1, le=MAX_ID)]
ErrorClass = Literal["retryable", "permanent", "unknown"]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such dead letter"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The dead letter is not open (already replayed or discarded)"}
}


class ReplayOne(RequestBody):
    note: str | None = Field(
        default=None, max_length=1000, pattern=dead_letters.NOTE_PATTERN, description="Why (optional)"
    )


class DiscardOne(RequestBody):
    note: str = Field(
        min_length=1, max_length=1000, pattern=TEXT, description="Why the event is discarded (required)"
    )


# A bulk action names what it acts on: one selector (not null), or "all": true.
SELECTORS: dict[str, Any] = {
    "anyOf": [
        {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
        for name in ("ids", "entity", "zoho_id", "error", "error_class")
    ]
    + [{"required": ["all"], "properties": {"all": {"const": True}}}]
}


class BulkSelection(RequestBody):
    """Open dead letters to act on: by ids, by filter, or ``all``; parts combine (and)."""

    model_config = ConfigDict(json_schema_extra=SELECTORS)

    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(default=None, max_length=10_000)
    entity: str | None = Field(default=None, pattern=ENTITY_PATTERN)
    zoho_id: str | None = Field(default=None, min_length=1, max_length=200, pattern=TEXT)
    error: str | None = Field(default=None, min_length=1, max_length=200, pattern=TEXT)
    error_class: ErrorClass | None = None
    all: StrictBool = Field(default=False, description="Every open dead letter (when nothing else selects)")
    limit: int | None = Field(default=None, ge=1, le=1_000_000, description="At most this many, oldest first")

    def selection(self) -> DeadLetterFilter:
        selection = DeadLetterFilter(
            entity=self.entity,
            zoho_id=self.zoho_id,
            error=self.error,
            error_class=self.error_class,
            ids=tuple(self.ids) if self.ids is not None else None,
            limit=self.limit,
        )
        if not (self.all or selection.selects):
            raise HTTPException(422, "name dead letter ids, a filter (entity, zoho_id, error, ...) or all")
        return selection


class BulkReplay(BulkSelection):
    note: str | None = Field(
        default=None, max_length=1000, pattern=dead_letters.NOTE_PATTERN, description="Why (optional)"
    )


class BulkDiscard(BulkSelection):
    note: str = Field(
        min_length=1, max_length=1000, pattern=TEXT, description="Why the events are discarded (required)"
    )


class BulkDiscarded(BaseModel):
    discarded: int = Field(description="Dead letters discarded now")


@router.get("", response_model=list[DeadLetterSummary], summary="Dead letters, newest first")
async def list_letters(
    principal: Viewer,
    db: Db,
    status: Annotated[Literal["open", "replayed", "discarded"] | None, Query()] = None,
    entity: Annotated[str | None, Query(pattern=ENTITY_PATTERN)] = None,
    zoho_id: Annotated[str | None, Query(min_length=1, max_length=200, pattern=TEXT)] = None,
    error: Annotated[
        str | None, Query(min_length=1, max_length=200, pattern=TEXT, description="Error text contains")
    ] = None,
    error_class: Annotated[ErrorClass | None, Query()] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Page: ids below this")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    selection = DeadLetterFilter(
        status=status, entity=entity, zoho_id=zoho_id, error=error, error_class=error_class
    )
    return await dead_letters.list_letters(db, selection, before_id=before_id, limit=limit)


@router.get(
    "/{letter_id:int}",  # so /dlq/discard and /dlq/replay are not letter ids (405, not 422)
    response_model=DeadLetter,
    summary="One dead letter with payload, error and attempts",
    responses=NOT_FOUND,
)
async def show_letter(letter_id: LetterId, principal: Viewer, db: Db) -> dict[str, Any]:
    return await dead_letters.get_letter(db, letter_id)


@router.post(
    "/{letter_id}/replay",
    response_model=DeadLetter,
    summary="Re-queue one dead letter with attempts reset",
    responses={**NOT_FOUND, **CONFLICT},
)
async def replay_letter(
    letter_id: LetterId, principal: Operator, db: Db, body: ReplayOne | None = None
) -> dict[str, Any]:
    return await dead_letters.replay_one(db, letter_id, principal.actor, body.note if body else None)


@router.post(
    "/{letter_id}/discard",
    response_model=DeadLetter,
    summary="Discard one dead letter with a note (the event stays dead)",
    responses={**NOT_FOUND, **CONFLICT},
)
async def discard_letter(
    letter_id: LetterId, body: DiscardOne, principal: Operator, db: Db
) -> dict[str, Any]:
    return await dead_letters.discard_one(db, letter_id, principal.actor, body.note)


@router.post(
    "/replay",
    response_model=JobOut,
    status_code=202,
    summary="Replay open dead letters in bulk (by ids or filter) as a cancellable background job",
)
async def replay_bulk(body: BulkReplay, principal: Operator, ctx: Ctx) -> JobOut:
    selection = body.selection()  # refused (422) before a connection is borrowed
    async with connected(ctx.pool) as connection:
        job = await dlq_replay.start_bulk_replay(connection, selection, principal.actor, body.note)
    return job_out(job)


@router.post(
    "/discard",
    response_model=BulkDiscarded,
    summary="Discard open dead letters in bulk (by ids or filter) with a note",
)
async def discard_bulk(body: BulkDiscard, principal: Operator, ctx: Ctx) -> BulkDiscarded:
    selection = body.selection()
    with translated():
        discarded = await dead_letters.discard_matching(ctx.pool, selection, principal.actor, body.note)
    return BulkDiscarded(discarded=discarded)
