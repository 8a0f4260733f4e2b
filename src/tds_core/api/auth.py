"""Bearer-token authentication and role checks for the admin API.

Every admin route declares the least role it needs with ``Depends(require(Role.operator))``;
the dependency answers 401 (no or bad token, with ``WWW-Authenticate: Bearer``) or 403 (a role
too low, naming the role needed) and otherwise returns the caller as a :class:`Principal`.

A valid signature is not enough: the token's user must still exist, be enabled and carry the
token's generation (any change to a user bumps it), and the role checked is the user's current
one (``access.sessions``), so disabling or demoting someone ends their access within seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import OAuth2PasswordBearer

from tds_core.access.actions import Actor
from tds_core.access.roles import Role
from tds_core.access.tokens import Claims, TokenError
from tds_core.api.context import ApiContext, context
from tds_core.db.errors import translated

bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


@dataclass(frozen=True)
class Principal:
    username: str
    role: Role

    @property
    def actor(self) -> Actor:
        return Actor(name=self.username, role=self.role.value, via="api")


def access_claims(ctx: ApiContext, token: str | None) -> Claims:
    """The claims of a signed, unexpired access token; else the 401 (``WWW-Authenticate:
    Bearer``). Shared by :class:`RoleGuard` and :class:`~tds_core.api.auth_first.AuthenticateFirst`,
    which answers it before a request's body is read."""
    if not token:
        raise HTTPException(
            401,
            "authentication required: send Authorization: Bearer <access token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return ctx.tokens.decode(token, "access")
    except TokenError as exc:
        raise HTTPException(401, f"{exc}: log in again", headers={"WWW-Authenticate": "Bearer"}) from exc


class RoleGuard:
    """The dependency behind :func:`require`; ``role`` is read by the role-matrix test."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(
        self,
        request: Request,
        ctx: Annotated[ApiContext, Depends(context)],
        token: Annotated[str | None, Depends(bearer)],
    ) -> Principal:
        claims = access_claims(ctx, token)
        with translated():
            user = await ctx.users.current(ctx.pool, claims.username)
        if user is None or user.token_generation != claims.generation:
            raise HTTPException(
                401,
                "session ended (the account was disabled or changed since this token was issued): "
                "log in again",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not user.role.allows(self.role):
            raise HTTPException(403, f"this needs the {self.role.value} role; you are {user.role.value}")
        principal = Principal(username=user.username, role=user.role)
        request.state.principal = principal
        return principal


def require(role: Role) -> RoleGuard:
    return RoleGuard(role)


def declared_role(dependant: Dependant) -> Role | None:
    """The least role a route declares through :func:`require` (searched through its dependencies),
    or None for a route open to all (the API reference and the role-matrix test read it)."""
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RoleGuard):
            return dependency.call.role
        found = declared_role(dependency)
        if found is not None:
            return found
    return None


Viewer = Annotated[Principal, Depends(require(Role.viewer))]
Operator = Annotated[Principal, Depends(require(Role.operator))]
Admin = Annotated[Principal, Depends(require(Role.admin))]
