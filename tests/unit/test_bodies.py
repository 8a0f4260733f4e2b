"""ingest.bodies: the three accepted body forms and every way a body can be unreadable."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from tds_core.ingest.bodies import BodyError, nesting_depth, parse

RECORD = {"invoice": {"invoice_id": "1", "total": 216.5}}
RAW = json.dumps(RECORD).encode()


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "text/json",
        "application/vnd.zoho+json",
    ],
)
def test_json_bodies(content_type: str) -> None:
    parsed = parse(RAW, content_type, 64)
    assert parsed.document == RECORD
    assert not parsed.is_form
    assert parsed.form == []


def test_form_body_with_json_string() -> None:
    body = urlencode({"JSONString": json.dumps(RECORD), "other": "x"}).encode()
    parsed = parse(body, "application/x-www-form-urlencoded; charset=UTF-8", 64)
    assert parsed.document == RECORD
    assert parsed.is_form
    assert ("other", "x") in parsed.form


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (RAW, "text/plain", 415, "unsupported content type 'text/plain'"),
        (RAW, None, 415, "unsupported content type 'none'"),
        (RAW, "", 415, "unsupported content type"),
        (RAW, "multipart/form-data; boundary=x", 415, "unsupported content type"),
        (b"", "application/json", 400, "empty body"),
        (b"  \n\t", "application/json", 400, "empty body"),
        (b'{"invoice": {"invoice_id": "\xff\xfe"}}', "application/json", 400, "not valid UTF-8"),
        (b'{"invoice": ', "application/json", 400, "malformed JSON"),
        (b"{'invoice': 1}", "application/json", 400, "malformed JSON"),
        (b'{"a": NaN}', "application/json", 400, "malformed JSON"),
        (b'{"a": 1e400}', "application/json", 400, "malformed JSON"),
        (b"other=1&other=2", "application/x-www-form-urlencoded", 400, "appears more than once"),
        (b"JSONString=", "application/x-www-form-urlencoded", 400, "JSONString is empty"),
        (b"JSONString=%7B%22a%22", "application/x-www-form-urlencoded", 400, "malformed JSON"),
        (b"JSONString=%FF", "application/x-www-form-urlencoded", 400, "malformed JSON"),
        (b"\xff=1", "application/x-www-form-urlencoded", 400, "not valid UTF-8"),
        (b"a&&b", "application/x-www-form-urlencoded", 400, "malformed form body"),
    ],
)
def test_unreadable_bodies(body: bytes, content_type: str | None, status: int, message: str) -> None:
    with pytest.raises(BodyError) as caught:
        parse(body, content_type, 64)
    assert caught.value.status == status
    assert message in caught.value.message


def nested(depth: int) -> bytes:
    return b"[" * (depth - 1) + b"{}" + b"]" * (depth - 1)


def test_depth_limit() -> None:
    assert parse(nested(64), "application/json", 64).document is not None
    with pytest.raises(BodyError) as caught:
        parse(nested(65), "application/json", 64)
    assert caught.value.status == 400
    assert "nested 65 levels deep; at most 64" in caught.value.message


def test_depth_far_beyond_the_parser_limit_is_a_400() -> None:
    with pytest.raises(BodyError) as caught:
        parse(nested(100_000), "application/json", 64)
    assert caught.value.status == 400


def test_depth_limit_applies_to_form_bodies() -> None:
    body = urlencode({"JSONString": nested(70).decode()}).encode()
    with pytest.raises(BodyError, match="nested 70 levels"):
        parse(body, "application/x-www-form-urlencoded", 64)


@pytest.mark.parametrize(
    ("value", "depth"),
    [(1, 0), ("x", 0), ({}, 1), ([], 1), ({"a": [1, {"b": {}}]}, 4), ([[[]], {}], 3)],
)
def test_nesting_depth(value: object, depth: int) -> None:
    assert nesting_depth(value) == depth


def test_depth_shortcut_never_lets_a_deep_document_through() -> None:
    # Many brackets inside strings (not nesting) and wide documents take the full walk; a deep
    # one is refused whatever else it holds, and a wide shallow one with many brackets passes.
    wide = b'{"lines": [' + b",".join(b'{"a": [1, 2]}' for _ in range(100)) + b"]}"
    assert parse(wide, "application/json", 4).document is not None
    brackets_in_text = b'{"note": "' + b"[{" * 50 + b'", "x": [[[1]]]}'
    with pytest.raises(BodyError, match="nested 4 levels deep; at most 3"):
        parse(brackets_in_text, "application/json", 3)
    assert parse(nested(3), "application/json", 3).document is not None
