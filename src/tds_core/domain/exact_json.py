"""JSON whose numbers keep every digit Zoho sent.

orjson reads every JSON number with a fraction or beyond 64 bits as a double: ``18446744073709551616``
becomes ``1.8446744073709552e+19`` and ``12345678901234567.89`` loses its cents, before any
column sees them. :func:`loads` is orjson whenever each number in the text is what its double
says (the double's shortest form has the same value: ``12.5``, ``0.1``, anything Python or
PostgreSQL wrote from a double; a whole number within 64 bits), which is nearly every document,
at orjson's speed. Otherwise the standard library reads it with fractions and long integers as
:class:`~decimal.Decimal`. :func:`dumps` writes a ``Decimal`` back digit for digit, so a number
goes from the webhook body through the inbox, the queue payload (``jsonb``, exact ``numeric``)
and the worker into the ERP's numeric column unchanged.

A text orjson refuses (``NaN``, a lone surrogate, invalid UTF-8) is refused on both paths.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import orjson

#: A number in value position (after ``:``, ``[`` or ``,``) with 16 or more digits and dots, or
#: an exponent: one a double might not hold. A match inside a string only costs a closer look.
#: Possessive quantifiers: a digit run not followed by an exponent fails at once, without
#: backtracking (a third faster over a document of many numbers).
_LONG = r"[:\[,]\s*+(-?+\d(?:[\d.]{15,}+|[\d.]*+[eE])[\d.eE+-]*+)"
_LONG_TEXT = re.compile(_LONG)
_LONG_BYTES = re.compile(_LONG.encode())
#: Integers with more digits than this may not fit 64 bits (orjson cannot write them).
_LONGEST_INT = 18


def _double_says_it(token: str) -> bool:
    """Whether orjson's reading of ``token`` has the value the text has."""
    if not any(mark in token for mark in ".eE"):
        try:
            return -(2**63) <= int(token) < 2**64  # orjson reads these as exact ints
        except ValueError:
            return False
    try:
        return Decimal(repr(float(token))) == Decimal(token)
    except (ValueError, ArithmeticError):
        return False


def _integer(text: str) -> int | Decimal:
    return int(text) if len(text.lstrip("-")) <= _LONGEST_INT else Decimal(text)


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def needs_exact(data: str | bytes) -> bool:
    """Whether ``data`` holds a number its double would change (see the module)."""
    if isinstance(data, str):
        tokens = [match.group(1) for match in _LONG_TEXT.finditer(data)]
    else:
        tokens = [match.group(1).decode() for match in _LONG_BYTES.finditer(data)]
    return not all(_double_says_it(token) for token in tokens)


def loads(data: str | bytes) -> Any:
    """Decode JSON; numbers a double would round are ``Decimal`` (see the module)."""
    document = orjson.loads(data)  # validates: what orjson refuses is refused here too
    if not needs_exact(data):
        return document
    text = data if isinstance(data, str) else data.decode()
    try:
        return json.loads(text, parse_float=Decimal, parse_int=_integer, parse_constant=_refuse)
    except RecursionError as exc:  # orjson accepted it, so this is depth, not syntax
        raise ValueError("JSON nested too deeply") from exc


def _default(value: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(str(value))
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, option: int = 0) -> bytes:
    """orjson's encoding, with ``Decimal`` written digit for digit."""
    return orjson.dumps(value, default=_default, option=option)
