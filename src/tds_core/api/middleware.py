"""Request context: a correlation id per request, bound into every log line, and one log line
per request.

The id is the caller's ``X-Request-ID`` when it is a sane token, else a new one; it is echoed in
the response's ``X-Request-ID``, stored with a webhook's inbox row (``correlation_id``) and
carried into the worker's log lines for that event, so one id follows an event from the request
to the ERP row. A pure ASGI middleware: Starlette's ``BaseHTTPMiddleware`` would cost a task
and a stream copy per request on the webhook hot path.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import time
from typing import Any

import structlog

log = structlog.get_logger("tds.api")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class _Ids:
    """Request ids: a random 80-bit prefix per process plus a counter, 32 hex digits like a
    uuid4's. Unique, not secret, and a fraction of uuid4's cost on every request."""

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self.prefix = secrets.token_hex(10)
        self.counter = itertools.count()

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFFFFFF:012x}"


new_id = _Ids().next


def correlation_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if REQUEST_ID.match(text):
                return text
            break
    return new_id()


class RequestContext:
    def __init__(self, app: Any, *, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = correlation_id(scope.get("headers", []))
        scope.setdefault("state", {})["correlation_id"] = request_id
        started = time.perf_counter()
        status = 500
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        with structlog.contextvars.bound_contextvars(correlation_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                if self.log_requests:
                    log.info(
                        "request",
                        method=scope.get("method"),
                        path=scope.get("path"),
                        status=status,
                        ms=round((time.perf_counter() - started) * 1000, 2),
                        client=(scope.get("client") or ("-",))[0],
                    )
