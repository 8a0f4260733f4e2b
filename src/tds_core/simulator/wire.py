"""How the simulator writes JSON: the way the recordings of the real API show it (reference §10).

- There is no ``null``: a missing value is ``""``, whatever the field's type.
- Money is written with 2 decimals (``"total": 24995.00``), Inventory stock with 6
  (``"stock_on_hand": 5.000000``). Python's ``json`` writes ``24995.0``, so this module has
  its own small encoder: a number under a money or stock key is written with that many
  decimals; everything else as ``json`` would write it. Store records keep plain floats.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse

MONEY_FIELDS = frozenset(
    {
        "rate",
        "bcy_rate",
        "purchase_rate",
        "pricebook_rate",
        "total",
        "sub_total",
        "tax_total",
        "tax_amount",
        "item_total",
        "item_total_inclusive_of_tax",
        "discount_amount",
        "balance",
        "shipping_charge",
        "adjustment",
        "payment_made",
        "credits_applied",
        "write_off_amount",
        "vendor_credits_applied",
        "credit_limit",
        "amount",
        "amount_applied",
        "outstanding_receivable_amount",
        "outstanding_receivable_amount_bcy",
        "outstanding_payable_amount",
        "outstanding_payable_amount_bcy",
        "unused_credits_receivable_amount",
        "unused_credits_receivable_amount_bcy",
        "unused_credits_payable_amount",
        "unused_credits_payable_amount_bcy",
    }
)
STOCK_FIELDS = frozenset(
    {
        "stock_on_hand",
        "available_stock",
        "actual_available_stock",
        "reorder_level",
        "initial_stock",
        "committed_stock",
        "available_for_sale_stock",
    }
)

_string = json.encoder.encode_basestring_ascii


def _number(value: float, key: str | None) -> str:
    if key in MONEY_FIELDS:
        return f"{value:.2f}"
    if key in STOCK_FIELDS:
        return f"{value:.6f}"
    return json.dumps(value)


def _encode(value: Any, key: str | None, out: list[str]) -> None:
    if value is None:
        out.append('""')
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int | float):
        out.append(_number(value, key))
    elif isinstance(value, dict):
        out.append("{")
        for index, (name, child) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(_string(str(name)))
            out.append(":")
            _encode(child, str(name), out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, child in enumerate(value):
            if index:
                out.append(",")
            _encode(child, key, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as Zoho JSON")


def dumps(value: Any) -> str:
    """``value`` as Zoho writes JSON (see the module docstring)."""
    out: list[str] = []
    _encode(value, None, out)
    return "".join(out)


class ZohoJSONResponse(JSONResponse):
    """A JSON answer written by :func:`dumps`."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode()
