"""Authenticate before reading: a request for a route that needs a role, without a valid access
token, is answered 401 before its body or parameters are looked at.

FastAPI parses a JSON body before it runs a route's dependencies, so an unauthenticated caller
sending malformed JSON (or a NUL, which :mod:`tds_core.api.text_guard` refuses) learned how the
body is validated before being told to log in. This pure ASGI middleware sits outside those
checks: it matches the request against the routes that declare a role (``require(...)``,
found with :func:`~tds_core.api.auth.declared_role`) and checks the bearer token's signature and
expiry (no database). The route's own :class:`~tds_core.api.auth.RoleGuard` still checks the
user's current state and role.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import HTTPException
from fastapi.security.utils import get_authorization_scheme_param
from starlette.responses import JSONResponse

from tds_core.api.auth import access_claims, declared_role
from tds_core.api.contract import api_routes


def secured_routes(app: Any) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """(path pattern, methods) of every route of ``app`` that declares a role."""
    return [
        (route.path_regex, frozenset(route.methods or ()))
        for route in api_routes(app)
        if declared_role(route.dependant) is not None
    ]


class AuthenticateFirst:
    """Pure ASGI: 401 for a secured route's request without a valid access token."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._secured: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self._is_secured(scope):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        scheme, token = get_authorization_scheme_param(headers.get(b"authorization", b"").decode("latin-1"))
        try:
            access_claims(scope["app"].state.context, token if scheme.lower() == "bearer" else None)
        except HTTPException as refusal:
            answer = JSONResponse(
                {"error": refusal.detail, "reasons": [refusal.detail]},
                status_code=refusal.status_code,
                headers=refusal.headers,
            )
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _is_secured(self, scope: Any) -> bool:
        if self._secured is None:
            self._secured = secured_routes(scope["app"])
        path, method = scope.get("path", ""), scope.get("method", "")
        return any(method in methods and pattern.match(path) for pattern, methods in self._secured)
