"""uvicorn's httptools protocol with a deadline for a request's headers.

uvicorn times out an idle keep-alive connection, but not one that has sent part of a request:
a client that opens a connection and dribbles its headers (or sends nothing at all) holds it,
and its slot under any connection limit, for as long as it likes. :class:`HeaderDeadline` gives
every request ``header_timeout`` seconds from its first byte (or from the connection's opening)
to finish its headers; past that it answers ``408 Request Timeout`` in the API's error shape and
closes the connection. Nothing has reached the application then, so nothing is lost: a webhook
sender retries as after any failed delivery.

The server uses it through :func:`protocol`, a picklable factory, so ``TDS_API_PROCESSES`` > 1
(uvicorn's spawned processes) gets it too.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeaderDeadline(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` that closes a connection whose request headers are late."""

    def __init__(self, *args: Any, header_timeout: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a byte is timed too

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered (pipelined data arrived): its own limits apply
        seconds = f"{self.header_timeout:g}"
        body = orjson.dumps(
            {
                "error": "request timeout",
                "reasons": [
                    f"the request's headers did not arrive within {seconds} s; the connection is closed"
                ],
            }
        )
        head = (
            b"HTTP/1.1 408 Request Timeout\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n"
        )
        self.transport.write(head + body)
        self.transport.close()


def protocol(header_timeout: float) -> Any:
    """The ``http`` option for uvicorn: :class:`HeaderDeadline` with ``header_timeout``."""
    return functools.partial(HeaderDeadline, header_timeout=header_timeout)
