"""Test doubles for the Zoho source: a clock whose sleeps never wait, and a scripted Zoho behind
``httpx.MockTransport``."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx

from tds_core.source.zoho import ZohoConfig

SECRETS = ("client-id-0123456789", "client-secret-0123456789", "refresh-token-0123456789")
START = datetime(2030, 1, 15, 12, 0, 10, tzinfo=UTC)


def make_config(**overrides: Any) -> ZohoConfig:
    options: dict[str, Any] = {
        "organization_id": "10234695",
        "client_id": SECRETS[0],
        "client_secret": SECRETS[1],
        "refresh_token": SECRETS[2],
        "data_centre": "eu",
        **overrides,
    }
    return ZohoConfig(**options)


class FakeClock:
    """A wall clock (call it) and a monotonic clock for tests; ``sleep`` never waits for real.

    Sleepers in the Zoho source wait for a minute boundary (the next rate-limit minute), so a
    sleep that reaches a later minute moves the clock to the start of that minute; every task
    waiting for the same minute wakes at it. Shorter sleeps (backoff) only yield.
    """

    def __init__(self, start: datetime = START, *, exact: bool = False) -> None:
        self.exact = exact
        """Sleeps advance the clock by exactly their length (a sliding-window limiter's waits)."""
        self.now = start
        self.ticks = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.ticks

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.ticks += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.exact:
            self.advance(max(0.0, seconds))
            await asyncio.sleep(0)
            return
        target = (self.now + timedelta(seconds=seconds)).replace(second=0, microsecond=0)
        if target > self.now:
            self.ticks += (target - self.now).total_seconds()
            self.now = target
        await asyncio.sleep(0)


Reply = httpx.Response | Callable[[httpx.Request], httpx.Response] | Exception


def envelope(status: int = 200, **body: Any) -> httpx.Response:
    return httpx.Response(status, json={"code": 0, "message": "success", **body})


def zoho_error(status: int, code: int, message: str = "error") -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message})


class FakeZoho:
    """Answers the token endpoint with numbered tokens and the API with scripted replies
    (``script``), falling back to a record named after the requested id."""

    def __init__(self) -> None:
        self.api_requests: list[httpx.Request] = []
        self.token_requests: list[httpx.Request] = []
        self.script: deque[Reply] = deque()
        self.token_script: deque[Reply] = deque()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def reply(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/v2/token":
            self.token_requests.append(request)
            return self._play(self.token_script, request) or httpx.Response(
                200,
                json={
                    "access_token": f"access-{len(self.token_requests)}",
                    "expires_in": 3600,
                    "api_domain": "https://www.zohoapis.eu",
                    "token_type": "Bearer",
                },
            )
        self.api_requests.append(request)
        scripted = self._play(self.script, request)
        if scripted is not None:
            return scripted
        record_id = request.url.path.rsplit("/", 1)[-1]
        return envelope(invoice={"invoice_id": record_id})

    @staticmethod
    def _play(script: deque[Reply], request: httpx.Request) -> httpx.Response | None:
        if not script:
            return None
        reply = script.popleft()
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return reply(request)


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
