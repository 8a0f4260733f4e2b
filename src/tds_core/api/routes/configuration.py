"""Admin API: runtime configuration: read (secrets masked), validated change, version history.

A change is validated against the whole configuration, stored as a new version, recorded as an
operator action and announced with ``NOTIFY tds_config``: running workers and schedulers pick it
up within moments, without a restart (rules in :mod:`tds_core.operations.configuration`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tds_core.api.auth import Admin, Viewer
from tds_core.api.context import Ctx, Db, keyring
from tds_core.api.inputs import RequestBody
from tds_core.api.schemas import ErrorBody
from tds_core.operations import configuration
from tds_core.operations.configuration import MASK, Entry

router = APIRouter(prefix="/api/v1", tags=["configuration"])
Key = Annotated[str, Path(min_length=1, max_length=200, description="Dotted key, e.g. worker.batch_size")]
NotFound: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such configuration key"}
}


class ConfigEntry(BaseModel):
    key: str
    version: int
    value: Any = Field(description=f"The value (JSON); secrets are shown as {MASK!r}")
    description: str
    updated_at: datetime
    updated_by: str
    note: str | None = None


class ConfigChange(RequestBody):
    model_config = ConfigDict(extra="forbid")

    value: Any = Field(
        description=f"The new value (JSON). A secret sent back as {MASK!r} keeps the stored one "
        "(channels are matched by name)."
    )
    note: str | None = Field(default=None, max_length=500, pattern=r"^[^\x00]*$", description="Why")


class ConfigChanged(ConfigEntry):
    changed: bool = Field(description="False when the value equals the current one (no new version)")
    previous_version: int


def _entry(entry: Entry) -> ConfigEntry:
    return ConfigEntry(**entry.as_dict())


@router.get("/config", response_model=list[ConfigEntry], summary="Every configuration key, current values")
async def list_config(principal: Viewer, db: Db) -> list[ConfigEntry]:
    return [_entry(entry) for entry in await configuration.current(db)]


@router.get(
    "/config/{key}", response_model=ConfigEntry, responses=NotFound, summary="One key's current value"
)
async def get_config(key: Key, principal: Viewer, db: Db) -> ConfigEntry:
    try:
        return _entry(await configuration.get(db, key))
    except configuration.UnknownKey as exc:
        raise HTTPException(404, f"no configuration key {key!r}") from exc


@router.get(
    "/config/{key}/history",
    response_model=list[ConfigEntry],
    responses=NotFound,
    summary="Every version of one key, newest first (who, when, why)",
)
async def config_history(
    key: Key, principal: Viewer, db: Db, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[ConfigEntry]:
    try:
        return [_entry(entry) for entry in await configuration.history(db, key, limit)]
    except configuration.UnknownKey as exc:
        raise HTTPException(404, f"no configuration key {key!r}") from exc


@router.put(
    "/config/{key}",
    response_model=ConfigChanged,
    responses={
        **NotFound,
        400: {"model": ErrorBody, "description": "The body is not JSON"},
        422: {"model": ErrorBody, "description": "The configuration would be invalid; reasons name the keys"},
    },
    summary="Change one key (admin): validated, versioned, recorded, live in running workers",
)
async def put_config(
    key: Key, body: ConfigChange, principal: Admin, ctx: Ctx, db: Db
) -> ConfigChanged | JSONResponse:
    try:
        change = await configuration.set_value(
            db, key, body.value, principal.actor, body.note, keyring=keyring(ctx)
        )
    except configuration.UnknownKey as exc:
        raise HTTPException(404, f"no configuration key {key!r}") from exc
    except configuration.InvalidChange as exc:
        return JSONResponse({"error": f"invalid value for {key}", "reasons": exc.reasons}, status_code=422)
    ctx.config.invalidate()
    return ConfigChanged(
        **change.entry.as_dict(), changed=change.changed, previous_version=change.previous_version
    )
