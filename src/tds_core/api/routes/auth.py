"""``/api/v1/auth``: the OAuth2 password flow (access + refresh JWTs) and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from tds_core.access import users
from tds_core.access.tokens import TokenError
from tds_core.api.auth import Viewer
from tds_core.api.context import ApiContext, Ctx
from tds_core.api.inputs import RequestBody
from tds_core.api.rate_limit import retry_after
from tds_core.db.connection import connected
from tds_core.db.errors import translated

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")
    role: str


class RefreshRequest(RequestBody):
    refresh_token: str = Field(min_length=1, max_length=4096)


class Me(BaseModel):
    username: str
    role: str


async def _issue(ctx: ApiContext, user: users.User) -> TokenResponse:
    """A new access + refresh pair for ``user``, lifetimes from the configuration."""
    config = await ctx.config.current(ctx.pool)
    pair = ctx.tokens.issue(
        user.username,
        user.role,
        user.token_generation,
        access_seconds=config.auth__access_token_minutes * 60,
        refresh_seconds=config.auth__refresh_token_hours * 3600,
    )
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        role=pair.role.value,
    )


async def _limit_login(request: Request, ctx: ApiContext) -> None:
    config = await ctx.config.current(ctx.pool)
    per_minute = config.ratelimit__login_per_minute
    client = request.client.host if request.client else "unknown"
    wait = ctx.login_limiter.acquire(client, per_minute / 60.0, per_minute)
    if wait:
        raise HTTPException(
            429, "too many login attempts; wait and try again", headers={"Retry-After": retry_after(wait)}
        )


@router.post(
    "/token",
    response_model=TokenResponse,
    summary="Log in (OAuth2 password flow): an access token and a refresh token",
    responses={401: {"description": "Wrong username or password"}, 429: {"description": "Too many attempts"}},
)
async def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    ctx: Ctx,
) -> TokenResponse:
    await _limit_login(request, ctx)
    with translated():
        user = await users.authenticate(ctx.pool, form.username, form.password)
    if user is None:
        raise HTTPException(401, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    return await _issue(ctx, user)


@router.post(
    "/refresh",
    response_model=TokenResponse,
    summary="Trade a refresh token for a new pair (revoked by password, role or account changes)",
    responses={401: {"description": "Invalid, expired or revoked refresh token"}},
)
async def refresh(body: RefreshRequest, ctx: Ctx) -> TokenResponse:
    try:
        claims = ctx.tokens.decode(body.refresh_token, "refresh")
    except TokenError as exc:
        raise HTTPException(401, f"{exc}: log in again", headers={"WWW-Authenticate": "Bearer"}) from exc
    async with connected(ctx.pool) as connection:
        user = await users.find_active(connection, claims.username)
    if user is None or user.token_generation != claims.generation:
        raise HTTPException(
            401, "refresh token revoked: log in again", headers={"WWW-Authenticate": "Bearer"}
        )
    return await _issue(ctx, user)


@router.get("/me", response_model=Me, summary="The logged-in user and role")
async def me(principal: Viewer) -> Me:
    return Me(username=principal.username, role=principal.role.value)
