"""Parse the accepted webhook body forms into a JSON document.

- ``application/json`` (Zoho's default payload, or a raw JSON body);
- ``application/x-www-form-urlencoded`` whose body is itself a JSON document (Zoho's "Raw"
  body sent with a form content type): recognised by its first non-blank byte, ``{`` or ``[``;
- ``application/x-www-form-urlencoded`` with the JSON in ``JSONString`` (legacy Zoho form);
- ``application/x-www-form-urlencoded`` with one field per parameter (Zoho's form body,
  ``invoice_id=...&total=...&cf_priority=Rush``): the pairs become the record, values as the
  strings sent, every key (custom parameters and ``cf_*`` too) kept; each key may appear once.
  With ``module_key`` (the entity of the URL) the record is wrapped as ``{module_key: {...}}``,
  without it the pairs are the bare record;
- the record may be wrapped under its module key or bare (see ``domain.records``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from tds_core.domain import exact_json


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


def looks_like_json(body: bytes) -> bool:
    """A body whose first non-blank byte opens a JSON object or array (never a form pair)."""
    return body.lstrip(b" \t\r\n")[:1] in (b"{", b"[")


def parse(body: bytes, content_type: str | None, max_depth: int, module_key: str | None = None) -> ParsedBody:
    kind = media_type(content_type)
    is_json = kind in JSON_TYPES or (kind.startswith("application/") and kind.endswith("+json"))
    if not is_json and kind != FORM_TYPE:
        shown = kind or "none"
        raise BodyError(
            415,
            f"unsupported content type {shown!r}: send application/json or "
            f"application/x-www-form-urlencoded (a JSON document, a JSONString field or one "
            f"field per parameter)",
        )
    if not body.strip():
        raise BodyError(400, "empty body: expected a JSON document")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(400, f"body is not valid UTF-8 (byte {exc.start})") from exc
    form: list[tuple[str, str]] = []
    if not is_json and not looks_like_json(body):
        form = parse_form(text)
        fields = dict(form)
        if "JSONString" not in fields:
            record: dict[str, str] = fields
            return ParsedBody(
                document={module_key: record} if module_key else record, form=form, is_form=True
            )
        text = fields["JSONString"]
        if not text.strip():
            raise BodyError(400, "JSONString is empty: expected a JSON document")
    try:
        document = exact_json.loads(text)  # amounts keep every digit sent
    except ValueError as exc:
        raise BodyError(400, f"malformed JSON: {exc}") from exc
    # Nesting needs an opening bracket per level: a document with no more brackets than the
    # limit cannot exceed it, and counting bytes is far cheaper than walking every value.
    if text.count("{") + text.count("[") <= max_depth:
        return ParsedBody(document=document, form=form, is_form=not is_json)
    depth = nesting_depth(document)
    if depth > max_depth:
        raise BodyError(400, f"JSON nested {depth} levels deep; at most {max_depth} are accepted")
    return ParsedBody(document=document, form=form, is_form=not is_json)


def parse_form(text: str) -> list[tuple[str, str]]:
    """The form's pairs; 400 for a malformed form, an empty key or a key sent twice."""
    try:
        form = parse_qsl(text.strip(), keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise BodyError(400, f"malformed form body: {exc}") from exc
    if not form:
        raise BodyError(400, "form body has no fields")
    seen: set[str] = set()
    for key, _ in form:
        if not key.strip():
            raise BodyError(400, "form body has a field with an empty name")
        if key in seen:
            raise BodyError(400, f"form field {key[:60]!r} appears more than once; send each parameter once")
        seen.add(key)
    return form


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
