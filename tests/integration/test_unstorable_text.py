"""A NUL anywhere in an admin request is a 422 naming the place, never the raw PostgreSQL error
(issue 16, item 8): the inputs found (``/api/v1/actions?action=%00``, ``/sync/runs?entity=%00``,
``/config/a%00b``, ``PATCH /users/a%00b``, a login username) and JSON body fields."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from .conftest import Send

Headers = Callable[..., Awaitable[dict[str, str]]]


@pytest.mark.parametrize(
    ("method", "url", "where"),
    [
        ("GET", "/api/v1/actions?action=%00", "query.action"),
        ("GET", "/api/v1/sync/runs?entity=%00", "query.entity"),
        ("GET", "/api/v1/config/a%00b", "path"),
        ("GET", "/api/v1/config/a%00b/history", "path"),
        ("PATCH", "/api/v1/users/a%00b", "path"),
        ("GET", "/api/v1/dead-letters?entity=in%00voices", "query.entity"),
    ],
)
async def test_nul_in_the_path_or_query_is_a_422_naming_it(
    client: httpx.AsyncClient, auth_headers: Headers, method: str, url: str, where: str
) -> None:
    headers = await auth_headers("admin")
    body = {"enabled": False} if method == "PATCH" else None
    response = await client.request(method, url, headers=headers, json=body)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["reasons"] == [f"{where}: contains U+0000 (NUL), which PostgreSQL cannot store; remove it"]
    assert "Repertoire" not in response.text and "22021" not in response.text


async def test_a_login_username_with_nul_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/token", data={"username": "ad\x00min", "password": "x" * 12})
    assert response.status_code == 422, response.text
    assert response.json()["reasons"] == [
        "body.username: contains U+0000 (NUL), which PostgreSQL cannot store; remove it"
    ]


async def test_json_body_fields_with_nul_are_named(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    headers = await auth_headers("admin")
    response = await client.post(
        "/api/v1/users",
        headers=headers,
        json={"username": "new\x00user", "password": "long enough password", "role": "viewer"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["reasons"] == [
        "body.username: contains U+0000 (NUL), which PostgreSQL cannot store; remove it"
    ]


async def test_clean_requests_and_webhooks_are_untouched(
    client: httpx.AsyncClient, auth_headers: Headers, webhook: Send, pool: Any
) -> None:
    headers = await auth_headers("admin")
    assert (await client.get("/api/v1/actions?action=replay", headers=headers)).status_code == 200
    # a webhook with a NUL is the intake's: kept as rejected with the field named
    sent = await webhook("items", {"item": {"item_id": "1", "name": "a\x00b"}})
    assert sent.status_code == 422
    assert await pool.fetchval("SELECT count(*) FROM tds_inbox_events WHERE status = 'rejected'") == 1
