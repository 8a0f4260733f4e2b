"""The simulator's HTTP face: Zoho Accounts' token endpoint, Books v3 and Inventory v1.

Served paths (one host plays both the accounts server and the API domain):

- ``POST /oauth/v2/token`` (refresh grant) and ``POST /oauth/v2/token/revoke``;
- ``GET /books/v3/{items|contacts|invoices|bills|creditnotes}[/{id}]`` and
  ``GET /inventory/v1/{items|pricebooks}[/{id}]``;
- the writes a test drives Zoho with: ``POST`` a list path (create: HTTP 201), ``PUT`` and
  ``DELETE`` a record path, with a JSON body (or a form with the JSON in ``JSONString``).

Each API call passes, in order: the in-flight limit (429, code 1070); the
``Authorization: Zoho-oauthtoken <token>`` header (none: 401, code 14) with a live token (401,
code 57); the ``organization_id`` query parameter (missing: 400, code 2; another
organization: 401, code 57); the scope the endpoint needs (``SimulatorConfig.granted_scopes``;
missing: the same 401 code 57); the daily quota (429, code 45) and the per-minute limit (429,
code 44); the fault switches (500, code 1000; added latency). Answers use Zoho's envelope,
``{"code": 0, "message": "success", "<key>": ...}`` for reads and prose for writes ("The
invoice has been created."), written as Zoho writes JSON (:mod:`tds_core.simulator.wire`: no
``null``, money with 2 decimals). Every answer to a call that reached the organization carries
``x-rate-limit-limit``, ``x-rate-limit-remaining`` and ``x-rate-limit-reset`` (seconds to the
organization's midnight). An unknown id gives 404 ``{"code": 1002, "message": "Invoice does not
exist."}`` and an unknown path 404 ``{"code": 1002, "message": "Invalid URL Passed"}``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tds_core.simulator.config import Faults, SimulatorConfig
from tds_core.simulator.endpoints import BY_PATH, Endpoint
from tds_core.simulator.limits import Limits
from tds_core.simulator.listing import InvalidParameter, list_page
from tds_core.simulator.oauth import TokenIssuer
from tds_core.simulator.store import ID_FIELDS, Store, UnknownRecord
from tds_core.simulator.views import ViewOptions
from tds_core.simulator.wire import ZohoJSONResponse

UNAUTHORIZED_CODE = 57
NO_AUTHORIZATION_CODE = 14
NO_AUTHORIZATION_MESSAGE = "Invalid OAuth access token"
UNAUTHORIZED_MESSAGE = "You are not authorized to perform this operation"
NOT_FOUND_CODE = 1002
INVALID_VALUE_CODE = 2
INTERNAL_ERROR_CODE = 1000
AUTH_SCHEME = "Zoho-oauthtoken"

Sleep = Callable[[float], Awaitable[None]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def zoho_error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme == AUTH_SCHEME and token else None


async def _token_params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        params.update({key: value for key, value in form.items() if isinstance(value, str)})
    return params


WRITE_ACTIONS = {"POST": "CREATE", "PUT": "UPDATE", "DELETE": "DELETE"}


def scope_for(endpoint: Endpoint, method: str) -> str:
    """The scope a call needs: the endpoint's read scope, or its module's write action."""
    if method == "GET" or not endpoint.scope:
        return endpoint.scope
    return f"{endpoint.scope.rsplit('.', 1)[0]}.{WRITE_ACTIONS[method]}"


async def _write_fields(request: Request, record_key: str) -> dict[str, Any]:
    """The fields of a write: a JSON object (or the form's ``JSONString``), bare or under the
    record key."""
    raw = (await request.body()).decode("utf-8", "replace")
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raw = (await request.form()).get("JSONString", "")  # type: ignore[assignment]
    try:
        document = json.loads(raw or "{}")
    except json.JSONDecodeError:
        raise ValueError("Invalid value passed for JSONString") from None
    if isinstance(document, dict) and isinstance(document.get(record_key), dict):
        document = document[record_key]
    if not isinstance(document, dict):
        raise ValueError("Invalid value passed for JSONString")
    return document


def create_app(
    store: Store,
    *,
    config: SimulatorConfig | None = None,
    faults: Faults | None = None,
    sleep: Sleep = asyncio.sleep,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    """A FastAPI app serving ``store`` as one Zoho organization.

    ``faults`` (fail the next N calls, add latency) can be flipped while the app runs; it and
    the token issuer and limit counters are also reachable as ``app.state.faults``,
    ``app.state.tokens`` and ``app.state.limits``. ``sleep`` spends the added latency (tests
    pass one they control). The clock is the store's.
    """
    config = config or SimulatorConfig()
    if store.time_zone is not None and store.time_zone != config.time_zone:
        raise ValueError(
            f"the store's time zone {store.time_zone!r} is not the config's {config.time_zone!r}"
        )
    faults = faults or Faults()
    tokens = TokenIssuer(config, store.clock)
    limits = Limits(config, store.clock, store.zone)

    app = FastAPI(
        title="Zoho Books simulator (TDS Core)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.config = config
    app.state.faults = faults
    app.state.tokens = tokens
    app.state.limits = limits

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return zoho_error(404, NOT_FOUND_CODE, "Invalid URL Passed")
        return zoho_error(exc.status_code, exc.status_code, str(exc.detail))

    @app.post("/oauth/v2/token")
    async def token(request: Request) -> JSONResponse:
        answer = tokens.grant(await _token_params(request))
        return JSONResponse(answer.body, status_code=answer.status)

    @app.post("/oauth/v2/token/revoke")
    async def revoke(request: Request) -> JSONResponse:
        params = await _token_params(request)
        tokens.revoke(params.get("token", ""))
        return JSONResponse({"status": "success"})

    answers = itertools.count(1)

    def view_options() -> ViewOptions:
        return ViewOptions(
            today=store.clock().astimezone(store.zone).date(),
            books_items_include_inventory_fields=config.books_items_include_inventory_fields,
            nonce=next(answers),
        )

    def read(endpoint: Endpoint, record_id: str | None, params: dict[str, str]) -> JSONResponse:
        if record_id is None:
            try:
                body = list_page(endpoint, store.records(endpoint.module), params, view_options(), config)
            except InvalidParameter as exc:
                return zoho_error(400, INVALID_VALUE_CODE, str(exc))
            return ZohoJSONResponse(body)
        record = store.find(endpoint.module, record_id) if record_id.isdigit() else None
        if record is None:
            return zoho_error(404, NOT_FOUND_CODE, endpoint.not_found)
        detail: dict[str, Any] = endpoint.detail(record, view_options())
        return ZohoJSONResponse({"code": 0, "message": "success", endpoint.record_key: detail})

    def write(endpoint: Endpoint, method: str, record_id: str | None, fields: dict[str, Any]) -> JSONResponse:
        id_field = ID_FIELDS[endpoint.module]
        try:
            if method == "POST":
                fields.pop(id_field, None)  # Zoho assigns the id
                record = store.create(endpoint.module, fields)
                detail = endpoint.detail(record, view_options())
                body = {"code": 0, "message": endpoint.created_message, endpoint.record_key: detail}
                return ZohoJSONResponse(body, status_code=201)
            if record_id is None or not record_id.isdigit():
                return zoho_error(404, NOT_FOUND_CODE, endpoint.not_found)
            if method == "DELETE":
                store.delete(endpoint.module, record_id)
                return ZohoJSONResponse({"code": 0, "message": endpoint.deleted_message})
            fields.pop(id_field, None)
            record = store.update(endpoint.module, record_id, fields)
        except UnknownRecord:
            return zoho_error(404, NOT_FOUND_CODE, endpoint.not_found)
        detail = endpoint.detail(record, view_options())
        message = f"{endpoint.noun} information has been saved."
        return ZohoJSONResponse({"code": 0, "message": message, endpoint.record_key: detail})

    async def call(request: Request, api: str, path: str, record_id: str | None) -> JSONResponse:
        organization_id = request.query_params.get("organization_id", "")
        refusal = limits.enter(organization_id)
        if refusal is not None:
            return zoho_error(429, refusal.code, refusal.message)
        try:
            response = await answer(request, api, path, record_id, organization_id)
            if organization_id == config.organization_id and response.status_code not in (401, 400):
                response.headers.update(limits.headers(organization_id))
            return response
        finally:
            limits.leave(organization_id)

    async def answer(
        request: Request, api: str, path: str, record_id: str | None, organization_id: str
    ) -> JSONResponse:
        header = request.headers.get("authorization")
        if not header:
            return zoho_error(401, NO_AUTHORIZATION_CODE, NO_AUTHORIZATION_MESSAGE)
        access_token = _bearer(header)
        if access_token is None or not tokens.is_valid(access_token):
            return zoho_error(401, UNAUTHORIZED_CODE, UNAUTHORIZED_MESSAGE)
        if not organization_id:
            return zoho_error(400, INVALID_VALUE_CODE, "Invalid value passed for organization_id")
        if organization_id != config.organization_id:
            return zoho_error(401, UNAUTHORIZED_CODE, UNAUTHORIZED_MESSAGE)
        endpoint = BY_PATH.get((api, path))
        method = request.method
        if endpoint is not None and not tokens.has_scope(scope_for(endpoint, method)):
            return zoho_error(401, UNAUTHORIZED_CODE, UNAUTHORIZED_MESSAGE)
        refusal = limits.charge(organization_id)
        if refusal is not None:
            return zoho_error(429, refusal.code, refusal.message)
        if faults.take_failure():
            return zoho_error(500, INTERNAL_ERROR_CODE, "Internal error")
        if faults.latency_seconds > 0:
            await sleep(faults.latency_seconds)
        if endpoint is None:
            return zoho_error(404, NOT_FOUND_CODE, "Invalid URL Passed")
        if method == "GET":
            return read(endpoint, record_id, dict(request.query_params))
        fields: dict[str, Any] = {}
        if method != "DELETE":
            try:
                fields = await _write_fields(request, endpoint.record_key)
            except ValueError as exc:
                return zoho_error(400, INVALID_VALUE_CODE, str(exc))
        return write(endpoint, method, record_id, fields)

    @app.api_route("/books/v3/{path}", methods=["GET", "POST"])
    async def books_list(path: str, request: Request) -> JSONResponse:
        return await call(request, "books", path, None)

    @app.api_route("/books/v3/{path}/{record_id}", methods=["GET", "PUT", "DELETE"])
    async def books_record(path: str, record_id: str, request: Request) -> JSONResponse:
        return await call(request, "books", path, record_id)

    @app.api_route("/inventory/v1/{path}", methods=["GET", "POST"])
    async def inventory_list(path: str, request: Request) -> JSONResponse:
        return await call(request, "inventory", path, None)

    @app.api_route("/inventory/v1/{path}/{record_id}", methods=["GET", "PUT", "DELETE"])
    async def inventory_record(path: str, record_id: str, request: Request) -> JSONResponse:
        return await call(request, "inventory", path, record_id)

    return app
