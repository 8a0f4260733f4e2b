"""The API's contract, finding by finding (issue 16, item 10); the schemathesis run of
test_openapi_fuzz.py checks the whole document, these name each case.

- ``POST /api/v1/sync/runs`` and ``/sync/cursors`` were taken by ``POST /sync/{entity}``;
  a 405 named only one route's methods in ``Allow``.
- Unauthenticated requests got their body validated (422) before being told to log in.
- Booleans took ``0`` / ``1``, date-times took numbers, unknown fields were ignored.
- Operation ids were FastAPI's generated names; 401, 403, 503 and the 422's shape were missing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

Headers = Callable[..., Awaitable[dict[str, str]]]


async def test_sibling_resources_are_not_entities_and_405_names_every_method(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    operator = await auth_headers("operator")
    for path, allowed in (
        ("/api/v1/sync/runs", "GET"),
        ("/api/v1/sync/cursors", "GET"),
        ("/api/v1/sync/plan", "GET"),
        ("/api/v1/dlq/discard", "POST"),
    ):
        for method in ("POST", "PUT", "DELETE", "OPTIONS") if allowed == "GET" else ("GET", "PUT"):
            answer = await client.request(method, path, headers=operator)
            assert answer.status_code == 405, (method, path, answer.text)
            assert answer.headers["Allow"] == allowed, (method, path, answer.headers)
            assert allowed in answer.json()["reasons"][0]
    both = await client.request("DELETE", "/api/v1/alerts/silences", headers=operator)
    assert both.status_code == 405 and both.headers["Allow"] == "GET, POST", both.headers
    unknown = await client.post("/api/v1/sync/widgets", headers=operator)
    assert unknown.status_code == 404 and "unknown or unavailable entity 'widgets'" in unknown.text


async def test_an_unauthenticated_request_is_401_before_its_body_is_read(client: httpx.AsyncClient) -> None:
    bodies = [b"{not json", b'{"name": "a\\u0000b"}', b"\xff\xfe", b'{"name": 5}']
    for body in bodies:
        for token in (None, "not-a-jwt"):
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            answer = await client.post("/api/v1/keys", content=body, headers=headers)
            assert answer.status_code == 401, (body, token, answer.text)
            assert answer.headers["WWW-Authenticate"] == "Bearer"
    query = await client.get("/api/v1/queue", params={"limit": "many"})
    assert query.status_code == 401, query.text


async def test_booleans_date_times_and_fields_are_what_the_schema_says(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    operator = await auth_headers("operator")
    admin = await auth_headers("admin")
    refused = [
        ("/api/v1/reconcile", {"entity": "all", "heal": 0}, operator, "body.heal"),
        ("/api/v1/reconcile", {"entity": "all", "heal": "yes"}, operator, "body.heal"),
        ("/api/v1/reconcile", {"entity": "all", "hael": False}, operator, "body.hael"),
        ("/api/v1/dlq/replay", {"all": 1}, operator, "body.all"),
        (
            "/api/v1/replay",
            {"from": "2024-01-01T00:00:00Z", "to": 0, "dry_run": True},
            operator,
            "body.to",
        ),
        (
            "/api/v1/replay",
            {"from": "2024-01-01T00:00:00Z", "to": "2024-01-02T00:00:00Z", "dry_run": 1},
            operator,
            "body.dry_run",
        ),
    ]
    for path, body, headers, field in refused:
        answer = await client.post(path, json=body, headers=headers)
        assert answer.status_code == 422, (path, body, answer.text)
        assert answer.json()["error"] == "invalid request", answer.text
        assert any(reason.startswith(field) for reason in answer.json()["reasons"]), (body, answer.text)
    change = await client.patch("/api/v1/users/operator-user", json={"disabled": 1}, headers=admin)
    assert change.status_code == 422 and "body.disabled" in change.text, change.text
    history = await client.get(
        "/api/v1/stats/history", params={"name": "events_received", "to": "6227020800"}, headers=operator
    )
    assert history.status_code == 422 and "query.to" in history.text, history.text


async def test_the_document_names_every_answer_with_stable_operation_ids(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operations = [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    ids = Counter(operation["operationId"] for _, _, operation in operations)
    assert all(count == 1 for count in ids.values()), ids.most_common(3)
    shape = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*-[a-z][a-z0-9_]*$")
    assert all(shape.match(operation_id) for operation_id in ids), sorted(ids)
    assert "queue-list_queue" in ids and "dead-letters-list_letters" in ids
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    missing: list[str] = []
    for method, path, operation in operations:
        responses: dict[str, Any] = operation["responses"]
        needed = set()
        if operation.get("security"):
            needed |= {"401", "403"} if not path.startswith("/api/v1/webhooks") else {"401"}
        if operation.get("parameters") or "requestBody" in operation:
            needed.add("422")
        if path != "/api/v1/health":
            needed.add("503")
        missing += [f"{method} {path}: {status}" for status in sorted(needed - set(responses))]
        if "422" in responses:
            schema = responses["422"]["content"]["application/json"]["schema"]
            assert schema == error_body, (method, path, schema)
    assert not missing, missing
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert {"OAuth2PasswordBearer", "WebhookKey", "ZohoSignature"} <= set(
        document["components"]["securitySchemes"]
    )
