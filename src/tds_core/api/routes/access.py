"""Admin API: webhook API keys, users and the operator action log (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from tds_core import errors
from tds_core.access import admin, users
from tds_core.access.roles import Role
from tds_core.api.auth import Admin
from tds_core.api.context import Ctx, Db
from tds_core.api.inputs import RequestBody
from tds_core.db import api_keys as stored_keys
from tds_core.db import operator_actions as stored_actions
from tds_core.db import users as stored_users
from tds_core.db.connection import connected

router = APIRouter(prefix="/api/v1", tags=["access"])
USERNAME = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"


class ApiKey(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    last_used_at: datetime | None = None


class NewKeyRequest(RequestBody):
    name: str = Field(min_length=1, max_length=100, description="What the key is for, e.g. zoho-books-prod")


class NewKeyResponse(BaseModel):
    id: int
    name: str
    prefix: str
    key: str = Field(description="The key itself: shown once, stored only as a hash")


class RevokedKey(BaseModel):
    id: int
    name: str
    prefix: str


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    created_at: datetime
    created_by: str
    disabled_at: datetime | None = None
    password_changed_at: datetime
    last_login_at: datetime | None = None


#: What the password rules say in the schema: no blank at either end (the rest is checked with
#: a message naming the rule).
PASSWORD_SHAPE = r"^\S[\s\S]*\S$"  # noqa: S105 (a pattern, not a password)


class NewUserRequest(RequestBody):
    username: str = Field(pattern=USERNAME)
    password: str = Field(min_length=10, max_length=1024, pattern=PASSWORD_SHAPE)
    role: Role


class UserChange(RequestBody):
    """At least one change (the schema says so, for clients and fuzzers alike)."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
                for name in ("role", "password", "disabled")
            ]
        }
    )

    role: Role | None = None
    password: str | None = Field(default=None, min_length=10, max_length=1024, pattern=PASSWORD_SHAPE)
    disabled: StrictBool | None = None


class OperatorAction(BaseModel):
    id: int
    at: datetime
    actor: str
    role: str | None = None
    via: str
    action: str
    target: str | None = None
    details: dict[str, Any] = {}


@router.get("/keys", response_model=list[ApiKey], summary="Webhook API keys (never their secrets)")
async def list_keys(principal: Admin, db: Db) -> list[stored_keys.KeyListed]:
    return await admin.list_keys(db)


@router.post("/keys", response_model=NewKeyResponse, status_code=201, summary="Create a webhook API key")
async def create_key(body: NewKeyRequest, principal: Admin, db: Db) -> NewKeyResponse:
    new = await admin.create_key(db, body.name, principal.actor)
    return NewKeyResponse(id=new.id, name=new.name, prefix=new.prefix, key=new.key)


@router.post(
    "/keys/{key}/revoke",
    response_model=RevokedKey,
    summary="Revoke a key (by id or prefix)",
    responses={404: {"description": "No active key with that id or prefix"}},
)
async def revoke_key(key: str, principal: Admin, db: Db) -> stored_keys.KeyRevoked:
    return await admin.revoke_key(db, key, principal.actor)


@router.get("/users", response_model=list[UserOut], summary="Users and their roles")
async def list_users(principal: Admin, db: Db) -> list[stored_users.UserListed]:
    return await admin.list_users(db)


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    summary="Create a user",
    responses={409: {"description": "A user with that name exists"}},
)
async def create_user(body: NewUserRequest, principal: Admin, db: Db) -> stored_users.UserListed:
    try:
        await admin.create_user(db, body.username, body.password, body.role, principal.actor)
        return await admin.get_user(db, body.username)
    except users.UserExists as exc:
        raise HTTPException(409, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.patch(
    "/users/{username}",
    response_model=UserOut,
    summary="Change role, password or enabled state",
    responses={
        404: {"description": "No such user"},
        409: {"description": "An admin cannot disable or demote themself"},
    },
)
async def update_user(username: str, body: UserChange, principal: Admin, ctx: Ctx) -> stored_users.UserListed:
    if body.role is None and body.password is None and body.disabled is None:
        raise HTTPException(422, "nothing to change: send role, password and/or disabled")
    if username == principal.username and (body.disabled or (body.role and body.role != Role.admin)):
        raise HTTPException(409, "you cannot disable or demote yourself; ask another admin")
    try:
        async with connected(ctx.pool) as connection:
            return await admin.update_user(
                connection,
                username,
                principal.actor,
                role=body.role,
                password=body.password,
                disabled=body.disabled,
            )
    except errors.NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("/actions", response_model=list[OperatorAction], summary="Operator actions: who did what, when")
async def list_actions(
    principal: Admin,
    db: Db,
    action: Annotated[str | None, Query(max_length=100)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[stored_actions.OperatorAction]:
    return await admin.list_actions(db, action=action, actor=actor, before_id=before_id, limit=limit)
