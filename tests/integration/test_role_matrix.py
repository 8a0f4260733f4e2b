"""Role matrix: every admin endpoint by {anonymous, viewer, operator, admin} → 401 / 403 / allowed.

The routes are read from the app itself, so a new endpoint is covered the day it is added: it must
either declare its least role (``Depends(require(...))``) or be on the short public list below.
The declared role must also follow the policy: reading needs viewer, acting needs operator, and
configuration, keys, users, secrets and the action log need admin."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from tds_core.access.roles import Role
from tds_core.api.auth import declared_role
from tds_core.api.reference import api_routes

pytestmark = pytest.mark.asyncio

PUBLIC = {
    ("POST", "/api/v1/webhooks/zoho/{entity}"),  # the X-TDS-Key (or Zoho signature), not a user
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/ready"),
    ("GET", "/metrics"),  # Prometheus convention; restricted at the proxy (deploy/nginx)
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/refresh"),
}
ADMIN_ONLY = re.compile(r"^/api/v1/(users|keys|actions|secrets)(/|$)")
ROLES = [Role.viewer, Role.operator, Role.admin]


def policy(method: str, path: str) -> Role:
    if ADMIN_ONLY.match(path) or (method == "PUT" and path.startswith("/api/v1/config")):
        return Role.admin
    return Role.viewer if method == "GET" else Role.operator


def endpoints(app: Any) -> list[tuple[str, str, Role | None, APIRoute]]:
    found = []
    for route in api_routes(app):
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            found.append((method, route.path_format, declared_role(route.dependant), route))
    return found


def concrete(route: APIRoute) -> str:
    path = route.path_format
    for param in route.dependant.path_params:
        value = "1" if param.field_info.annotation is int else "x"
        path = path.replace("{" + param.name + "}", value)
    return path


async def test_every_endpoint_declares_its_least_role_per_policy(client: httpx.AsyncClient) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    problems = []
    for method, path, role, _route in endpoints(app):
        if (method, path) in PUBLIC:
            if role is not None:
                problems.append(f"{method} {path} is public but declares {role}")
            continue
        if role is None:
            problems.append(f"{method} {path} declares no role")
        elif role is not policy(method, path):
            problems.append(
                f"{method} {path} declares {role.value}, policy says {policy(method, path).value}"
            )
    assert not problems, "\n".join(problems)
    assert len(endpoints(app)) > 40


async def test_anonymous_401_lower_roles_403_others_allowed(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    headers = {role: await auth_headers(role.value) for role in ROLES}
    checked = 0
    wrong = []
    for method, _path, role, route in endpoints(app):
        if role is None:
            continue
        url = concrete(route)
        answers = {"anonymous": await client.request(method, url, json={})}
        for who in ROLES:
            answers[who.value] = await client.request(method, url, json={}, headers=headers[who])
        for who, response in answers.items():
            if who == "anonymous":
                expected = "401"
                ok = response.status_code == 401 and response.headers.get("www-authenticate") == "Bearer"
            elif Role(who).allows(role):
                expected = "allowed"
                ok = response.status_code not in (401, 403) and response.status_code < 500
            else:
                expected = "403"
                ok = response.status_code == 403 and role.value in response.json()["error"]
            if not ok:
                wrong.append(f"{method} {url} as {who}: {response.status_code}, expected {expected}")
            checked += 1
    assert not wrong, "\n".join(wrong)
    assert checked >= 4 * 40
