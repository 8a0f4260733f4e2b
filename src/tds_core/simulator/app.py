"""The simulator's HTTP face: Zoho Accounts' token endpoint, Books v3 and Inventory v1 reads.

Served paths (one host plays both the accounts server and the API domain):

- ``POST /oauth/v2/token`` (refresh grant) and ``POST /oauth/v2/token/revoke``;
- ``GET /books/v3/{items|contacts|invoices|bills|creditnotes}[/{id}]``;
- ``GET /inventory/v1/{items|pricebooks}[/{id}]``.

Each API call passes, in order: the in-flight limit (429, code 1070); the
``Authorization: Zoho-oauthtoken <token>`` header with a live token (401, code 57); the
``organization_id`` query parameter (missing: 400, code 2; another organization: 401, code
57); the daily quota (429, code 45) and the per-minute limit (429, code 44); the fault
switches (500, code 1000; added latency). Answers use Zoho's envelope,
``{"code": 0, "message": "success", "<key>": ...}``; an unknown id gives 404
``{"code": 1002, "message": "Invoice does not exist."}`` and an unknown path 404
``{"code": 1002, "message": "Invalid URL Passed"}``.
"""

from __future__ import annotations

import asyncio
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
from tds_core.simulator.store import Store
from tds_core.simulator.views import ViewOptions

UNAUTHORIZED_CODE = 57
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
        return JSONResponse(tokens.grant(await _token_params(request)))

    @app.post("/oauth/v2/token/revoke")
    async def revoke(request: Request) -> JSONResponse:
        params = await _token_params(request)
        tokens.revoke(params.get("token", ""))
        return JSONResponse({"status": "success"})

    def view_options() -> ViewOptions:
        return ViewOptions(
            today=store.clock().astimezone(store.zone).date(),
            books_items_include_inventory_fields=config.books_items_include_inventory_fields,
        )

    def respond(endpoint: Endpoint, record_id: str | None, params: dict[str, str]) -> JSONResponse:
        if record_id is None:
            try:
                body = list_page(endpoint, store.records(endpoint.module), params, view_options(), config)
            except InvalidParameter as exc:
                return zoho_error(400, INVALID_VALUE_CODE, str(exc))
            return JSONResponse(body)
        record = store.find(endpoint.module, record_id) if record_id.isdigit() else None
        if record is None:
            return zoho_error(404, NOT_FOUND_CODE, endpoint.not_found)
        detail: dict[str, Any] = endpoint.detail(record, view_options())
        return JSONResponse({"code": 0, "message": "success", endpoint.record_key: detail})

    async def call(request: Request, api: str, path: str, record_id: str | None) -> JSONResponse:
        organization_id = request.query_params.get("organization_id", "")
        refusal = limits.enter(organization_id)
        if refusal is not None:
            return zoho_error(429, refusal.code, refusal.message)
        try:
            access_token = _bearer(request.headers.get("authorization"))
            if access_token is None or not tokens.is_valid(access_token):
                return zoho_error(401, UNAUTHORIZED_CODE, UNAUTHORIZED_MESSAGE)
            if not organization_id:
                return zoho_error(400, INVALID_VALUE_CODE, "Invalid value passed for organization_id")
            if organization_id != config.organization_id:
                return zoho_error(401, UNAUTHORIZED_CODE, UNAUTHORIZED_MESSAGE)
            refusal = limits.charge(organization_id)
            if refusal is not None:
                return zoho_error(429, refusal.code, refusal.message)
            if faults.take_failure():
                return zoho_error(500, INTERNAL_ERROR_CODE, "Internal error")
            if faults.latency_seconds > 0:
                await sleep(faults.latency_seconds)
            endpoint = BY_PATH.get((api, path))
            if endpoint is None:
                return zoho_error(404, NOT_FOUND_CODE, "Invalid URL Passed")
            return respond(endpoint, record_id, dict(request.query_params))
        finally:
            limits.leave(organization_id)

    @app.get("/books/v3/{path}")
    async def books_list(path: str, request: Request) -> JSONResponse:
        return await call(request, "books", path, None)

    @app.get("/books/v3/{path}/{record_id}")
    async def books_get(path: str, record_id: str, request: Request) -> JSONResponse:
        return await call(request, "books", path, record_id)

    @app.get("/inventory/v1/{path}")
    async def inventory_list(path: str, request: Request) -> JSONResponse:
        return await call(request, "inventory", path, None)

    @app.get("/inventory/v1/{path}/{record_id}")
    async def inventory_get(path: str, record_id: str, request: Request) -> JSONResponse:
        return await call(request, "inventory", path, record_id)

    return app
