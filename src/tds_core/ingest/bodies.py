"""Parse the three accepted webhook body forms into a JSON document.

- ``application/json`` (Zoho's default payload, or a raw JSON body);
- ``application/x-www-form-urlencoded`` with the JSON in ``JSONString`` (legacy Zoho form);
- the record may be wrapped under its module key or bare (see ``domain.records``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson


class BodyError(Exception):
    """The body cannot be read as a JSON document; ``status`` is 400 or 415."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ParsedBody:
    document: Any
    form: list[tuple[str, str]]
    is_form: bool


JSON_TYPES = ("application/json", "text/json")
FORM_TYPE = "application/x-www-form-urlencoded"


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse(body: bytes, content_type: str | None, max_depth: int) -> ParsedBody:
    kind = media_type(content_type)
    is_json = kind in JSON_TYPES or (kind.startswith("application/") and kind.endswith("+json"))
    if not is_json and kind != FORM_TYPE:
        shown = kind or "none"
        raise BodyError(
            415,
            f"unsupported content type {shown!r}: send application/json or "
            f"application/x-www-form-urlencoded with a JSONString field",
        )
    if not body.strip():
        raise BodyError(400, "empty body: expected a JSON document")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(400, f"body is not valid UTF-8 (byte {exc.start})") from exc
    form: list[tuple[str, str]] = []
    if not is_json:
        try:
            form = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
        except ValueError as exc:
            raise BodyError(400, f"malformed form body: {exc}") from exc
        values = [value for key, value in form if key == "JSONString"]
        if not values:
            raise BodyError(400, "form body has no JSONString field")
        text = values[0]
        if not text.strip():
            raise BodyError(400, "JSONString is empty: expected a JSON document")
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, f"malformed JSON: {exc}") from exc
    # Nesting needs an opening bracket per level: a document with no more brackets than the
    # limit cannot exceed it, and counting bytes is far cheaper than walking every value.
    if text.count("{") + text.count("[") <= max_depth:
        return ParsedBody(document=document, form=form, is_form=not is_json)
    depth = nesting_depth(document)
    if depth > max_depth:
        raise BodyError(400, f"JSON nested {depth} levels deep; at most {max_depth} are accepted")
    return ParsedBody(document=document, form=form, is_form=not is_json)


def nesting_depth(value: Any) -> int:
    """Depth of nested arrays/objects, iteratively (no recursion limit to hit)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node)
    return deepest
