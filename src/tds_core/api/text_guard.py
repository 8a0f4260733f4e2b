"""Refuse text PostgreSQL cannot store before it reaches a statement.

PostgreSQL's ``text`` cannot hold U+0000: a NUL in a path segment, a query parameter or a field
of a JSON or form body would otherwise reach the database and come back as a raw driver error
(``CharacterNotInRepertoireError [22021]``). This pure ASGI middleware answers such a request
with a 422 in the API's error shape, naming each place: ``path``, ``query.<name>``,
``body.<field path>`` (``body.username`` of a login form, ``body.value.url`` of a JSON body).

The webhook intake never gets here (its door answers first): a webhook with a NUL is kept in
the inbox as ``rejected`` with the field named, so nothing sent by Zoho disappears. Bodies
larger than ``max_body_bytes`` are passed on unread (their routes have their own limits).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.responses import JSONResponse

NUL = "\x00"
FORM = "application/x-www-form-urlencoded"
MAX_REASONS = 20


def _problem(where: str) -> str:
    return f"{where}: contains U+0000 (NUL), which PostgreSQL cannot store; remove it"


def nul_paths(value: Any, where: str) -> Iterator[str]:
    """The places in a decoded JSON value whose keys or strings hold a NUL."""
    stack = [(value, where)]
    while stack:
        node, at = stack.pop()
        if isinstance(node, str):
            if NUL in node:
                yield at
        elif isinstance(node, dict):
            for key, child in node.items():
                name = str(key)
                if NUL in name:
                    yield f"{at}.{name.replace(NUL, '?')}"
                stack.append((child, f"{at}.{name.replace(NUL, '?')}"))
        elif isinstance(node, list):
            stack.extend((child, f"{at}[{index}]") for index, child in enumerate(node))


def _query_problems(query: bytes) -> list[str]:
    if b"%00" not in query.lower() and b"\x00" not in query:
        return []
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    return [_problem(f"query.{name.replace(NUL, '?')}") for name, value in pairs if NUL in name + value]


def _body_problems(body: bytes, content_type: str) -> list[str]:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == FORM:
        if b"%00" not in body.lower() and b"\x00" not in body:
            return []
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return [_problem(f"body.{name.replace(NUL, '?')}") for name, value in pairs if NUL in name + value]
    if kind == "application/json" or kind.endswith("+json"):
        if b"\\u0000" not in body:  # JSON can carry NUL only as this escape
            return []
        try:
            document = json.loads(body)
        except ValueError:
            return []  # the route's validation names malformed JSON
        return [_problem(at) for at in nul_paths(document, "body")]
    return []


class UnstorableText:
    """Pure ASGI: 422 for a request whose path, query or small body holds a NUL."""

    def __init__(self, app: Any, *, max_body_bytes: int = 1_048_576) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problems = []
        raw_path = scope.get("raw_path") or b""
        if NUL in scope.get("path", "") or NUL in unquote(raw_path.decode("latin-1")):
            problems.append(_problem("path"))
        problems += _query_problems(scope.get("query_string") or b"")
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        length = headers.get(b"content-length", b"")
        readable = (
            scope.get("method") in ("POST", "PUT", "PATCH")
            and length.isdigit()
            and 0 < int(length) <= self.max_body_bytes
        )
        if readable:
            body, receive = await _buffered(receive)
            problems += _body_problems(body, content_type)
        if problems:
            answer = JSONResponse(
                {"error": "invalid request", "reasons": problems[:MAX_REASONS]},
                status_code=422,
            )
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _buffered(receive: Any) -> tuple[bytes, Any]:
    """The whole body, and a ``receive`` that plays it back to the application."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), receive  # the client went away: pass on what there is
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
