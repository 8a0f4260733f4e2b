"""Money and stock arithmetic that keeps a record internally consistent."""

from __future__ import annotations

from typing import Any


def money(value: float) -> float:
    return round(value, 2) + 0.0  # never -0.0


def document_totals(record: dict[str, Any]) -> None:
    """Recompute ``item_total``, sub/tax totals, total and balance from the line items."""
    sub_total = 0.0
    taxes: dict[str, float] = {}
    tax_names: dict[str, str] = {}
    for order, line in enumerate(record.get("line_items", []), start=1):
        line["item_order"] = order
        line["item_total"] = money(line["rate"] * line["quantity"])
        sub_total += line["item_total"]
        if line.get("tax_percentage"):
            taxes[line["tax_id"]] = taxes.get(line["tax_id"], 0.0) + line["item_total"] * (
                line["tax_percentage"] / 100
            )
            tax_names[line["tax_id"]] = line["tax_name"]
    tax_total = money(sum(taxes.values()))
    record["sub_total"] = money(sub_total)
    record["tax_total"] = tax_total
    record["taxes"] = [
        {"tax_id": tax_id, "tax_name": tax_names[tax_id], "tax_amount": money(amount)}
        for tax_id, amount in sorted(taxes.items())
    ]
    total = money(sub_total + tax_total + float(record.get("shipping_charge", 0.0)))
    record["total"] = total
    status = record.get("status")
    paid = float(record.get("payment_made", 0.0))
    credited = float(record.get("credits_applied") or record.get("vendor_credits_applied") or 0.0)
    if status == "paid":
        paid = money(total - credited)
    elif status == "partially_paid":
        paid = money(min(paid, total - credited) or (total - credited) / 2)
    elif status in ("draft", "void", "sent", "open", "overdue"):
        paid = 0.0
    if "payment_made" in record:
        record["payment_made"] = paid
    record["balance"] = (
        0.0 if status in ("void", "paid", "closed") else money(max(total - paid - credited, 0.0))
    )


def stock_totals(item: dict[str, Any]) -> None:
    """Item-level stock is the sum over its locations (Inventory's ``stock_on_hand`` etc.)."""
    locations = item.get("locations") or []
    for total, field in (
        ("stock_on_hand", "location_stock_on_hand"),
        ("available_stock", "location_available_stock"),
        ("actual_available_stock", "location_actual_available_stock"),
    ):
        item[total] = float(sum(float(location[field] or 0) for location in locations))
