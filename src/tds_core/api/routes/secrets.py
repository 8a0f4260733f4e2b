"""Admin API: secrets stored encrypted in the database (write-only; never returned).

The Zoho client secret, the Zoho refresh token and the webhook signing secret may be stored here
instead of the environment (the environment wins when both are set). Values are encrypted under
``TDS_SECRET_KEY`` before they are written and are never part of a response, a log line or the
operator action recorded; processes read them when they start (rules in
:mod:`tds_core.operations.secrets`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tds_core.api.auth import Admin
from tds_core.api.context import ApiContext, Ctx, Db, keyring
from tds_core.api.inputs import RequestBody
from tds_core.api.schemas import ErrorBody
from tds_core.db.connection import Connection
from tds_core.operations import secrets
from tds_core.operations.secrets import SecretSource

router = APIRouter(prefix="/api/v1", tags=["secrets"])
Name = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="zoho_client_secret, zoho_refresh_token or zoho_webhook_secret",
    ),
]
NotFound: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such secret"}}


class SecretInfo(BaseModel):
    """Where one secret's effective value comes from; never the value."""

    name: str
    environment_variable: str = Field(description="The variable that wins over a stored value")
    source: Literal["environment", "database", "unset"]
    stored: bool = Field(description="A value is stored in the database")
    updated_at: datetime | None = None
    updated_by: str | None = None


class SecretValue(RequestBody):
    model_config = ConfigDict(extra="forbid")

    value: SecretStr = Field(min_length=1, description="The secret; stored encrypted, never returned")


def _info(source: SecretSource) -> SecretInfo:
    return SecretInfo(**source.as_dict())


async def _listing(connection: Connection, ctx: ApiContext) -> list[SecretInfo]:
    return [_info(s) for s in await secrets.sources(connection, ctx.environment_secrets)]


@router.get(
    "/secrets",
    response_model=list[SecretInfo],
    summary="Storable secrets: where each one's value comes from (admin; never values)",
)
async def list_secrets(principal: Admin, ctx: Ctx, db: Db) -> list[SecretInfo]:
    return await _listing(db, ctx)


@router.put(
    "/secrets/{name}",
    response_model=SecretInfo,
    responses={
        **NotFound,
        422: {"model": ErrorBody, "description": "The value cannot be that secret (empty, too short, ...)"},
    },
    summary="Store one secret encrypted (admin, write-only); processes use it after a restart",
)
async def put_secret(
    name: Name, body: SecretValue, principal: Admin, ctx: Ctx, db: Db
) -> SecretInfo | JSONResponse:
    try:
        await secrets.set_secret(
            db, name, body.value.get_secret_value(), principal.actor, keyring=keyring(ctx)
        )
    except secrets.UnknownSecret as exc:
        raise HTTPException(404, str(exc)) from exc
    except secrets.InvalidSecret as exc:
        return JSONResponse({"error": f"invalid value for {name}", "reasons": [str(exc)]}, status_code=422)
    return next(info for info in await _listing(db, ctx) if info.name == name)


@router.delete(
    "/secrets/{name}",
    status_code=204,
    responses=NotFound,
    summary="Forget a stored secret (admin); the environment's value, if any, is used after a restart",
)
async def delete_secret(name: Name, principal: Admin, db: Db) -> Response:
    try:
        deleted = await secrets.delete_secret(db, name, principal.actor)
    except secrets.UnknownSecret as exc:
        raise HTTPException(404, str(exc)) from exc
    if not deleted:
        raise HTTPException(404, f"no stored value for {name}")
    return Response(status_code=204)
