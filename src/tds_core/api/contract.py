"""What the OpenAPI document promises, kept true in one place.

- Operation ids are ``{tag}-{name}`` (``queue-list_queue``): stable across FastAPI versions and
  path changes, unlike FastAPI's generated ``list_queue_api_v1_queue_get``; the dashboard's
  generated client is keyed by them.
- Every operation lists the answers the API gives it besides its own: 401 and 403 where a
  role is required, 422 (in the API's error shape, not FastAPI's ``detail`` list) where there
  is any input, 503 with ``Retry-After`` wherever the database is read. ``schemathesis`` checks
  the document against the running API (tests/integration/test_openapi_contract.py).
- A 405 names in ``Allow`` every method the path has, over all of its routes (Starlette names
  only the first route's).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, _iter_included_route_candidates
from starlette.routing import Match

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
#: Operations that never touch the database (no 503).
NO_DATABASE = {"/api/v1/health"}
COMMON = {
    "401": "No access token, or one that is invalid, expired or no longer matches the user "
    "(WWW-Authenticate: Bearer)",
    "403": "The caller's role is below the one this operation needs",
    "400": "The body cannot be parsed (not UTF-8, or not the JSON or form the operation reads)",
    "422": "Invalid input: each reason names a field and what is wrong with it",
    "503": "The database is unavailable; retry after Retry-After",
}


def api_routes(app: Any) -> list[APIRoute]:
    """Every API route of ``app`` with its full path (FastAPI keeps included routers wrapped)."""
    return [route for route in _iter_included_route_candidates(app.routes) if isinstance(route, APIRoute)]


def operation_id(route: APIRoute) -> str:
    tag = str(route.tags[0]) if route.tags else "api"
    return f"{re.sub(r'[^a-z0-9]+', '-', tag.lower()).strip('-')}-{route.name}"


def _add(responses: dict[str, Any], status: str) -> None:
    entry = responses.setdefault(status, {"description": COMMON[status]})
    if status == "422" or "content" not in entry:
        entry["content"] = ERROR  # the API's 422 is {"error", "reasons"}, never FastAPI's "detail"
    if status == "503":
        entry.setdefault("headers", RETRY_AFTER)


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the common answers of every operation (see the module)."""
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            schemes = {name for requirement in operation.get("security", []) for name in requirement}
            if schemes:
                _add(responses, "401")
            if "OAuth2PasswordBearer" in schemes:  # a role is checked
                _add(responses, "403")
            if "requestBody" in operation:
                _add(responses, "400")
            if operation.get("parameters") or "requestBody" in operation or "422" in responses:
                _add(responses, "422")
            if path not in NO_DATABASE:
                _add(responses, "503")
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["WebhookKey"] = {
        "type": "apiKey",
        "in": "header",
        "name": "X-TDS-Key",
        "description": "A webhook API key (`tds keys create`); stored hashed",
    }
    schemes["ZohoSignature"] = {
        "type": "apiKey",
        "in": "header",
        "name": "X-Zoho-Webhook-Signature",
        "description": "HMAC-SHA256 of the query and body with TDS_ZOHO_WEBHOOK_SECRET (Zoho's own)",
    }
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install(app: FastAPI) -> None:
    """Have ``app`` serve the completed document (built once, as FastAPI does)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def allowed_methods(app: Any, scope: Any) -> list[str]:
    """Every method the request's path has (for ``Allow`` on a 405). A path that is a route of
    its own (``/dlq/discard``) is not also a value of a parameter (``/dlq/{letter_id}``)."""
    matching = [
        route
        for route in api_routes(app)
        if route.methods and route.matches(scope)[0] in (Match.FULL, Match.PARTIAL)
    ]
    exact = [route for route in matching if not route.param_convertors]
    return sorted({method for route in exact or matching for method in route.methods or ()})
