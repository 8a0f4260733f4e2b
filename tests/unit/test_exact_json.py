"""domain/exact_json: orjson's speed for ordinary documents, every digit for the rest."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tds_core.domain import exact_json
from tds_core.domain.hashing import content_hash
from tds_core.source.zoho.errors import json_object


def test_ordinary_numbers_take_the_fast_path_and_stay_floats_and_ints() -> None:
    document = exact_json.loads('{"rate": 12.5, "quantity": 3, "id": "460000000012345678901"}')
    assert document == {"rate": 12.5, "quantity": 3, "id": "460000000012345678901"}
    assert type(document["rate"]) is float and type(document["quantity"]) is int


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18446744073709551616", Decimal("18446744073709551616")),
        ("-18446744073709551616", Decimal("-18446744073709551616")),
        ("12345678901234567.89", Decimal("12345678901234567.89")),
        ("0.1000000000000000055511151231257827", Decimal("0.1000000000000000055511151231257827")),
        ("1.2345678901234567891e3", Decimal("1.2345678901234567891e3")),
        ("9007199254740993", 9007199254740993),  # 2**53 + 1: a Python int is exact already
    ],
)
def test_numbers_a_double_would_round_keep_every_digit(text: str, expected: object) -> None:
    value = exact_json.loads(f'{{"n": {text}, "list": [1, {text}]}}')
    assert value == {"n": expected, "list": [1, expected]}
    shown = str(expected)  # the digits as sent; an exponent as Decimal spells it (1.25E+3)
    assert exact_json.dumps(value) == f'{{"n":{shown},"list":[1,{shown}]}}'.encode()
    assert exact_json.loads(exact_json.dumps(value).decode()) == value  # and back, via bytes too


def test_what_orjson_refuses_is_refused() -> None:
    for text in ('{"n": NaN, "m": 12345678901234567.89}', '{"n": 1e400}', '{"n": 12345678901234567.89'):
        with pytest.raises(ValueError):
            exact_json.loads(text)


def test_content_hashes_see_the_exact_digits() -> None:
    one = exact_json.loads('{"total": 12345678901234567.89}')
    other = exact_json.loads('{"total": 12345678901234567.88}')
    assert content_hash(one) != content_hash(other)  # as doubles, both were 1.2345678901234568e16


def test_zoho_answers_are_read_exactly() -> None:
    body = json_object(b'{"code": 0, "item": {"rate": 12345678901234567.89}}')
    assert body is not None and body["item"]["rate"] == Decimal("12345678901234567.89")


def test_a_double_written_as_text_stays_a_double() -> None:
    """What Python or PostgreSQL wrote from a double (stored metrics, ratios) reads back as the
    same double, not as a Decimal code would then mix with floats."""
    for value in (0.30000000000000004, 1 / 3, 2.5e-10, 1.7976931348623157e308, 123456789.12345679):
        document = exact_json.loads(exact_json.dumps({"v": value, "list": [value]}))
        assert document == {"v": value, "list": [value]} and type(document["v"]) is float
    assert exact_json.loads(b'{"ids": [18446744073709551615, -9223372036854775808]}') == {
        "ids": [18446744073709551615, -9223372036854775808]
    }
