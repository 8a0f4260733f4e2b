"""Admin API: ERP conflicts (rows changed outside TDS that an event met). Viewers read;
operators resolve a held conflict with ``apply_source`` or ``keep_local`` (recorded with who).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from tds_core.api.auth import Operator, Viewer
from tds_core.api.context import Db
from tds_core.api.inputs import RequestBody
from tds_core.api.schemas import MAX_ID
from tds_core.domain.entities import ENTITY_SLUGS
from tds_core.operations import conflicts, dead_letters
from tds_core.operations.conflicts import ConflictFilter

router = APIRouter(prefix="/api/v1/conflicts", tags=["conflicts"])
ENTITY_PATTERN = f"^({'|'.join(ENTITY_SLUGS)})$"
ConflictId = Annotated[int, Path(ge=1, le=MAX_ID)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such conflict"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"description": "The conflict is already resolved"}}


class ConflictSummary(BaseModel):
    id: int
    entity: str
    zoho_id: str
    erp_table: str
    row_key: str = Field(description="The ERP row: the zoho id, or item/location for stock")
    policy: str = Field(description="source_wins, preserve_columns or hold")
    status: str = Field(description="open (held for an operator) or resolved")
    resolution: str | None = Field(
        default=None, description="source_wins, preserve_columns (automatic), apply_source or keep_local"
    )
    queue_id: int = Field(description="The event (for a held instance: the newest held event)")
    inbox_event_id: int | None = None
    held_events: int = Field(description="Queue events held in this conflict")
    operation: str
    source_version: datetime
    changed_columns: list[str] = Field(description="Columns changed outside TDS since TDS last wrote the row")
    detected_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    note: str | None = None


class DiffRow(BaseModel):
    column: str
    local: Any = Field(description="The ERP row's value when the conflict was detected")
    source: Any = Field(description="The value the event writes")
    written: Any = Field(description="The value TDS last wrote")
    changed_locally: bool
    differs: bool = Field(description="Local and source values differ")
    preserved: bool


class Conflict(ConflictSummary):
    held_queue_ids: list[int]
    content_hash: str
    payload: Any = Field(description="The event's record")
    source_row: dict[str, Any] | None = Field(
        description="The business columns the event writes (null: a delete)"
    )
    local_row: dict[str, Any] | None = Field(description="The ERP row as found")
    written: dict[str, Any] | None = Field(description="The business columns as TDS last wrote them")
    diff: list[DiffRow] = Field(description="Column by column: local against source")


class ResolveBody(RequestBody):
    resolution: Literal["apply_source", "keep_local"] = Field(
        description="apply_source: apply the held events over the local change (the version guard still "
        "decides); keep_local: discard them and accept the ERP row as it is"
    )
    note: str | None = Field(
        default=None, max_length=1000, pattern=dead_letters.NOTE_PATTERN, description="Why (optional)"
    )


@router.get("", response_model=list[ConflictSummary], summary="ERP conflicts, newest first")
async def list_conflicts(
    principal: Viewer,
    db: Db,
    status: Annotated[Literal["open", "resolved"] | None, Query()] = None,
    entity: Annotated[str | None, Query(pattern=ENTITY_PATTERN)] = None,
    zoho_id: Annotated[
        str | None, Query(min_length=1, max_length=200, pattern=dead_letters.TEXT_PATTERN)
    ] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Page: ids below this")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    selection = ConflictFilter(status=status, entity=entity, zoho_id=zoho_id)
    return await conflicts.list_conflicts(db, selection, before_id=before_id, limit=limit)


@router.get(
    "/{conflict_id}",
    response_model=Conflict,
    summary="One conflict with the event, the rows compared and a column-by-column diff",
    responses=NOT_FOUND,
)
async def show_conflict(conflict_id: ConflictId, principal: Viewer, db: Db) -> dict[str, Any]:
    return await conflicts.get_conflict(db, conflict_id)


@router.post(
    "/{conflict_id}/resolve",
    response_model=Conflict,
    summary="Resolve a held conflict: apply_source or keep_local",
    responses={**NOT_FOUND, **CONFLICT},
)
async def resolve_conflict(
    conflict_id: ConflictId, body: ResolveBody, principal: Operator, db: Db
) -> dict[str, Any]:
    return await conflicts.resolve(db, conflict_id, body.resolution, principal.actor, body.note)
