"""Admin API: replay from the inbox by time received and entity, with a dry run that counts first.

A dry run (``"dry_run": true``) answers 200 with what a replay would queue now; a real one
answers 202 with an ``inbox_replay`` job (follow it at ``/api/v1/jobs/{id}``). Replayed events
go through staging and the one apply path again, so content the ERP already holds ends
``skipped_unchanged`` and changes nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from tds_core.api.auth import Operator
from tds_core.api.context import Ctx
from tds_core.api.inputs import Instant, RequestBody
from tds_core.api.schemas import JobOut, job_out
from tds_core.db.connection import connected
from tds_core.db.errors import translated
from tds_core.domain.entities import ENTITY_SLUGS
from tds_core.jobs import inbox_replay
from tds_core.jobs.inbox_replay import InboxReplayConfig, InboxSelection

router = APIRouter(prefix="/api/v1", tags=["replay"])
ENTITY_PATTERN = f"^({'|'.join(ENTITY_SLUGS)})$"


class ReplayRequest(RequestBody):
    model_config = ConfigDict(populate_by_name=True)

    start: Instant = Field(alias="from", description="Received at or after (a time without a zone is UTC)")
    end: Instant = Field(alias="to", description="Received before (to <= from selects nothing)")
    entity: str | None = Field(default=None, pattern=ENTITY_PATTERN, description="Only this entity")
    statuses: list[Literal["queued", "rejected"]] | None = Field(
        default=None,
        min_length=1,
        max_length=2,
        description="Inbox statuses to replay (default queued; rejected ones are validated again)",
    )
    dry_run: StrictBool = Field(description="true: only count what would be queued")


class ReplayCountOut(BaseModel):
    dry_run: bool = True
    matched: int = Field(description="Inbox events selected")
    would_queue: int = Field(description="Events a replay queues now")
    invalid: int = Field(description="Events that do not stage (never queued)")
    by_entity: dict[str, int]
    invalid_samples: list[dict[str, Any]] = Field(description="The first few invalid events and why")


@router.post(
    "/replay",
    response_model=ReplayCountOut,
    summary="Replay inbox events by time received (and entity): dry-run count, or a job (202)",
    responses={202: {"model": JobOut, "description": "The replay job, queued"}},
)
async def replay(body: ReplayRequest, principal: Operator, ctx: Ctx) -> Any:
    statuses = tuple(body.statuses) if body.statuses else None
    selection = InboxSelection.build(body.start, body.end, body.entity, statuses)
    if body.dry_run:  # counted on the pool; no connection is held for the route
        config = InboxReplayConfig(max_json_depth=ctx.settings.max_json_depth)
        with translated():
            counted = await inbox_replay.count(ctx.pool, selection, config)
        return ReplayCountOut(dry_run=True, **counted.as_dict())
    async with connected(ctx.pool) as connection:
        job = await inbox_replay.start(connection, selection, principal.actor)
    return JSONResponse(jsonable_encoder(job_out(job)), status_code=202)
