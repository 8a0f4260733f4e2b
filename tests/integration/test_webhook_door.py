"""The webhook door (a pure ASGI fast path) answers exactly as the documented FastAPI route does.

The same requests go to the real app, where ``WebhookDoor`` answers webhooks, and to the same
app built without the door, where FastAPI's route and exception handlers answer; status, body
(event ids aside), content type and Retry-After must match, and both must store alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tds_core import app as composition
from tds_core.api.routes.webhooks import WebhookDoor
from tds_core.settings import Settings
from tests.integration import samples


@pytest.fixture
async def routed(settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API without the door: FastAPI's router answers webhooks."""
    app = composition.build_api(settings, database_url)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not WebhookDoor]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tds.test") as http:
            yield http


def cases(key: str, offset: int) -> list[tuple[str, str, dict[str, str], bytes]]:
    """(method, path, headers, body); ``offset`` keeps each client's records apart."""
    item = samples.item(item_id=str(7_100_000_000 + offset))
    body = httpx.Request("POST", "/", json={"item": item}).content
    json_type = {"Content-Type": "application/json"}
    keyed = {**json_type, "X-TDS-Key": key}
    base = "/api/v1/webhooks/zoho"
    return [
        ("POST", f"{base}/items", keyed, body),
        ("POST", f"{base}/items", keyed, body),  # the same delivery again: duplicate
        ("POST", f"{base}/items?event=deleted", keyed, body),
        ("POST", f"{base}/items?event=exploded", keyed, body),
        ("POST", f"{base}/items", json_type, body),  # no key
        ("POST", f"{base}/items", {**json_type, "X-TDS-Key": "tds_00000000_" + "x" * 32}, body),
        ("POST", f"{base}/widgets", keyed, body),
        ("POST", f"{base}/items", keyed, b'{"item": '),
        ("POST", f"{base}/items", keyed, b"[1, 2"),
        ("POST", f"{base}/items", {**keyed, "Content-Type": "text/plain"}, body),
        ("POST", f"{base}/items", keyed, b'{"item": {"name": "no id"}}'),
        ("POST", f"{base}/items", keyed, b"x" * 1_048_577),
        ("POST", f"{base}/items", {**keyed, "X-Idempotency-Key": "k" * 201}, body),
        ("POST", f"{base}/items/extra", keyed, body),
        ("POST", f"{base}/", keyed, body),
        ("GET", f"{base}/items", keyed, b""),
    ]


def normalised(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict) and "event_id" in body:
        body["event_id"] = "<id>" if body["event_id"] is not None else None
    return {
        "status": response.status_code,
        "body": body,
        "type": response.headers.get("content-type"),
        "retry_after": response.headers.get("retry-after"),
    }


async def test_the_door_and_the_route_answer_alike(
    client: httpx.AsyncClient, routed: httpx.AsyncClient, api_key: str, pool: Any
) -> None:
    answers = []
    for number, http in enumerate((client, routed)):
        seen = []
        for method, path, headers, body in cases(api_key, number):
            response = await http.request(method, path, headers=headers, content=body or None)
            seen.append(normalised(response))
        answers.append(seen)
    door, route = answers
    for number, (through_door, through_route) in enumerate(zip(door, route, strict=True)):
        assert through_door == through_route, f"case {number}"
    statuses = [answer["status"] for answer in door]
    assert statuses[:3] == [202, 202, 202] and door[1]["body"]["status"] == "duplicate"
    assert all(status < 500 for status in statuses), statuses
    # both stored the same things: per client, 2 queued events plus the rejected bodies
    rows = await pool.fetch(
        "SELECT entity, status::text AS status, count(*) AS n FROM tds_inbox_events"
        " GROUP BY 1, 2 ORDER BY 1, 2"
    )
    assert all(row["n"] % 2 == 0 for row in rows), [dict(row) for row in rows]
