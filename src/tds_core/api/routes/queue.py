"""Admin API: the sync queue, the trace of one event, and the history of one entity instance.

Read-only, for every role (viewer and up). The read models and their rules (what a trace
contains, how a change is diffed) are documented in :mod:`tds_core.operations.inspection`
and :mod:`tds_core.operations.history`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from tds_core.api.auth import Viewer
from tds_core.api.context import Db
from tds_core.api.schemas import EntitySlug, ErrorBody
from tds_core.domain.states import QueueState
from tds_core.operations import history, inspection
from tds_core.operations.history import EntityHistory
from tds_core.operations.inspection import EventTrace, QueuePage, QueueSummary

router = APIRouter(prefix="/api/v1", tags=["queue"])

# The entity slugs (tests check this stays equal to tds_core.domain.entities.ENTITY_SLUGS).
BIGINT_MAX = 2**63 - 1
NO_NUL = r"^[^\x00]*$"
Id = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
NotFound: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such event, queue row or entity"}
}
Invalid: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "Invalid parameters; reasons name them"}
}


@router.get(
    "/queue",
    response_model=QueuePage,
    responses=Invalid,
    summary="Queue rows, newest first, filtered and paged",
    description=(
        "Filters combine: `state`, `entity`, exact `zoho_id`, and `search` (case-insensitive text "
        "in the Zoho id or an error, including errors of earlier attempts). Page with `before_id` = "
        "the `next_before_id` of the previous page."
    ),
)
async def list_queue(
    principal: Viewer,
    db: Db,
    state: Annotated[QueueState | None, Query(description="Queue state")] = None,
    entity: Annotated[EntitySlug | None, Query(description="Entity type")] = None,
    zoho_id: Annotated[str | None, Query(min_length=1, max_length=200, pattern=NO_NUL)] = None,
    search: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> QueuePage:
    return await inspection.queue_page(
        db,
        state=state.value if state else None,
        entity=entity,
        zoho_id=zoho_id,
        search=search,
        before_id=before_id,
        limit=limit,
    )


@router.get("/queue/summary", response_model=QueueSummary, summary="Queue rows counted by state and entity")
async def queue_summary(principal: Viewer, db: Db) -> QueueSummary:
    return await inspection.queue_summary(db)


@router.get(
    "/queue/{queue_id}",
    response_model=EventTrace,
    responses={**NotFound, **Invalid},
    summary="The trace of the event behind one queue row",
)
async def trace_queue_row(queue_id: Id, principal: Viewer, db: Db) -> EventTrace:
    trace = await inspection.trace_queue_row(db, queue_id)
    if trace is None:
        raise HTTPException(404, f"no queue row {queue_id}")
    return trace


@router.get(
    "/events/{inbox_event_id}",
    response_model=EventTrace,
    responses={**NotFound, **Invalid},
    summary="The trace of one event: inbox → queue and attempts → logs → audit → ERP row or DLQ",
    description=(
        "The `event_id` a webhook was answered with. The inbox body is cut to 64 KiB and shown "
        "without credential headers."
    ),
)
async def trace_event(inbox_event_id: Id, principal: Viewer, db: Db) -> EventTrace:
    trace = await inspection.trace_event(db, inbox_event_id)
    if trace is None:
        raise HTTPException(404, f"no event {inbox_event_id}")
    return trace


@router.get(
    "/entities/{entity}/{zoho_id}",
    response_model=EntityHistory,
    responses={**NotFound, **Invalid},
    summary="One entity instance: its ERP row now (tombstone included) and its audit history",
    description=(
        "History is newest first, each change with a field-by-field diff: typed columns and "
        "`source_version`/`deleted_at` by value, then source fields no column mirrors as "
        "`data.<field>`, and line items by line id as `data.line_items[<id>]` (the whole line before "
        "and after). For `stock` the Zoho id is the item's; each location is its own row."
    ),
)
async def entity_history(
    entity: Annotated[str, Path(description="Entity type, e.g. invoices")],
    zoho_id: Annotated[str, Path(min_length=1, max_length=200, pattern=NO_NUL)],
    principal: Viewer,
    db: Db,
    before_id: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EntityHistory:
    try:
        found = await history.entity_history(db, entity, zoho_id, before_id=before_id, limit=limit)
    except history.UnknownEntity as exc:
        raise HTTPException(404, str(exc)) from exc
    if found is None:
        raise HTTPException(404, f"no {entity} record {zoho_id!r}: no ERP row and no audit history")
    return found
