"""Test harness for the Zoho simulator: a seeded store on a manual clock, its app behind
``httpx.ASGITransport``, and a client that signs calls like a Zoho client would."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from fastapi import FastAPI

from tds_core.simulator import Faults, ManualClock, SimulatorConfig, Store, create_app
from tds_core.simulator.limits import Limits
from tds_core.simulator.oauth import TokenIssuer

CONFIG = SimulatorConfig()
ORG = CONFIG.organization_id
DEFAULT: Any = object()


def refresh_params(config: SimulatorConfig = CONFIG, **overrides: str) -> dict[str, str]:
    params = {
        "grant_type": "refresh_token",
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "refresh_token": config.refresh_token,
    }
    params.update(overrides)
    return params


class GateSleep:
    """A ``sleep`` for the app's latency that waits until the test opens the gate."""

    def __init__(self) -> None:
        self.waiting = 0
        self.asked: list[float] = []
        self._gate = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        self.waiting += 1
        try:
            await self._gate.wait()
        finally:
            self.waiting -= 1

    def open(self) -> None:
        self._gate.set()

    async def until_waiting(self, count: int) -> None:
        for _ in range(10_000):
            if self.waiting >= count:
                return
            await asyncio.sleep(0)
        raise AssertionError(f"only {self.waiting} calls reached the latency gate, expected {count}")


async def no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


@dataclass
class Simulator:
    store: Store
    app: FastAPI
    clock: ManualClock
    config: SimulatorConfig
    http: httpx.AsyncClient
    token: str = ""
    calls: list[httpx.Response] = field(default_factory=list)

    @property
    def faults(self) -> Faults:
        faults: Faults = self.app.state.faults
        return faults

    @property
    def tokens(self) -> TokenIssuer:
        tokens: TokenIssuer = self.app.state.tokens
        return tokens

    @property
    def limits(self) -> Limits:
        limits: Limits = self.app.state.limits
        return limits

    async def mint(self, **overrides: str) -> httpx.Response:
        return await self.http.post("/oauth/v2/token", params=refresh_params(self.config, **overrides))

    async def login(self) -> str:
        response = await self.mint()
        self.token = response.json()["access_token"]
        return self.token

    async def get(
        self, path: str, *, token: Any = DEFAULT, org: Any = DEFAULT, **params: Any
    ) -> httpx.Response:
        """GET with ``organization_id`` and the ``Zoho-oauthtoken`` header (``None`` omits one)."""
        headers = {}
        token = self.token if token is DEFAULT else token
        if token is not None:
            headers["Authorization"] = f"Zoho-oauthtoken {token}"
        org = self.config.organization_id if org is DEFAULT else org
        query = {key: str(value) for key, value in params.items()}
        if org is not None:
            query["organization_id"] = org
        return await self.http.get(path, params=query, headers=headers)

    async def ok(self, path: str, **params: Any) -> dict[str, Any]:
        response = await self.get(path, **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["code"] == 0 and body["message"] == "success"
        return body

    async def pages(self, path: str, key: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
        """Every row of a list, following ``has_more_page``; returns the rows and the page count."""
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            body = await self.ok(path, page=page, **params)
            rows.extend(body[key])
            if not body["page_context"]["has_more_page"]:
                return rows, page
            page += 1


Factory = Callable[..., Awaitable[Simulator]]
UNLIMITED = {"requests_per_minute": 10**9, "daily_request_limit": 10**9}


@contextlib.asynccontextmanager
async def simulators() -> AsyncIterator[Factory]:
    """Yields ``make(records=..., seed=..., sleep=..., login=True, **config_fields)``."""
    opened: list[httpx.AsyncClient] = []

    async def make(
        *,
        records: int = 20,
        seed: int = 7,
        sleep: Callable[[float], Awaitable[None]] = no_sleep,
        login: bool = True,
        **config_fields: Any,
    ) -> Simulator:
        clock = ManualClock()
        store = Store(seed, clock=clock)
        store.seed(records)
        config = replace(CONFIG, **config_fields)
        app = create_app(store, config=config, sleep=sleep)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://zoho.test")
        opened.append(http)
        simulator = Simulator(store, app, clock, config, http)
        if login:
            await simulator.login()
        return simulator

    try:
        yield make
    finally:
        for http in opened:
            await http.aclose()
