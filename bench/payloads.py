"""Synthetic Zoho Books webhook bodies for the seven entity types.

Shapes follow Zoho's default webhook payload (the record under its module key) with the
fields TDS maps plus a realistic amount of unmapped ones (addresses, custom fields, notes),
so bodies are 1-3 KB like real deliveries. Every event is distinct (its own id or a newer
``last_modified_time``), so none is a duplicate; about a quarter are newer versions of a
record sent earlier, so the drain does updates as well as inserts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import orjson

# Share of each entity type in the mixed workload (percent).
MIX: dict[str, int] = {
    "invoices": 20,
    "stock": 20,
    "items": 15,
    "contacts": 15,
    "bills": 12,
    "pricebooks": 10,
    "creditnotes": 8,
}
UPDATE_SHARE = 0.25
IST = timezone(timedelta(hours=5, minutes=30))
BASE_TIME = datetime(2024, 1, 15, 10, 20, 30, tzinfo=UTC)
ID_BASE = 460_000_000_000_000


@dataclass(frozen=True)
class Event:
    entity: str
    zoho_id: str
    body: bytes

    @property
    def path(self) -> str:
        return f"/api/v1/webhooks/zoho/{self.entity}"


def zoho_time(seconds: int) -> str:
    """Zoho's ``2024-01-15T10:20:30+0530`` format."""
    return (BASE_TIME + timedelta(seconds=seconds)).astimezone(IST).strftime("%Y-%m-%dT%H:%M:%S%z")


def _address(rng: random.Random) -> dict[str, object]:
    return {
        "attention": "Accounts Payable",
        "address": f"{rng.randint(1, 999)} Market Street",
        "street2": f"Suite {rng.randint(100, 999)}",
        "city": rng.choice(["Chennai", "Pune", "Austin", "Leeds", "Dubai"]),
        "state": "TN",
        "zip": f"{rng.randint(10000, 99999)}",
        "country": "India",
        "phone": f"+91-44-{rng.randint(1000000, 9999999)}",
    }


def _custom_fields(rng: random.Random) -> list[dict[str, object]]:
    return [
        {"customfield_id": str(ID_BASE + rng.randint(1, 10**6)), "label": label, "value": value}
        for label, value in (("Region", rng.choice(["North", "South"])), ("Channel", "Webhook"))
    ]


def _lines(rng: random.Random, count: int, *, with_account: bool) -> list[dict[str, object]]:
    lines = []
    for order in range(1, count + 1):
        quantity = rng.randint(1, 20)
        rate = round(rng.uniform(1, 500), 2)
        line: dict[str, object] = {
            "line_item_id": str(ID_BASE + rng.randint(1, 10**9)),
            "item_id": str(ID_BASE + rng.randint(1, 10**6)),
            "name": f"Item {rng.randint(1, 9999)}",
            "description": "Standard catalogue item",
            "item_order": order,
            "rate": rate,
            "quantity": quantity,
            "unit": "pcs",
            "tax_id": "460000000027005",
            "tax_name": "VAT 20%",
            "tax_percentage": 20,
            "item_total": round(rate * quantity, 2),
            "discount": 0,
        }
        if with_account:
            line["account_id"] = "460000000035003"
        lines.append(line)
    return lines


def _money(lines: list[dict[str, object]]) -> tuple[float, float]:
    sub_total = round(sum(float(str(line["item_total"])) for line in lines), 2)
    return sub_total, round(sub_total * 0.2, 2)


def record(entity: str, zoho_id: str, version: int, rng: random.Random) -> dict[str, object]:
    """One Zoho record of ``entity`` with id ``zoho_id`` at version ``version`` (seconds)."""
    stamp = zoho_time(version)
    common = {"created_time": zoho_time(0), "last_modified_time": stamp}
    if entity == "items":
        return {
            "item_id": zoho_id,
            "name": f"Product {zoho_id[-6:]}",
            "sku": f"SKU-{zoho_id[-6:]}",
            "status": "active",
            "description": "Braided USB-C to USB-C cable, 1 m",
            "rate": round(rng.uniform(1, 500), 2),
            "purchase_rate": round(rng.uniform(1, 300), 2),
            "unit": "pcs",
            "product_type": "goods",
            "item_type": "inventory",
            "tax_id": "460000000027005",
            "tax_name": "VAT 20%",
            "tax_percentage": 20,
            "reorder_level": rng.randint(0, 100),
            "stock_on_hand": rng.randint(0, 5000),
            "hsn_or_sac": "85423100",
            "custom_fields": _custom_fields(rng),
            **common,
        }
    if entity == "stock":
        locations = [
            {
                "location_id": str(ID_BASE + 38080 + n),
                "location_name": f"Warehouse {n}",
                "status": "active",
                "is_primary": n == 0,
                "location_stock_on_hand": str(rng.randint(0, 5000)),
                "location_available_stock": str(rng.randint(0, 5000)),
                "location_actual_available_stock": str(rng.randint(0, 5000)),
            }
            for n in range(rng.randint(2, 4))
        ]
        return {
            "item_id": zoho_id,
            "name": f"Product {zoho_id[-6:]}",
            "sku": f"SKU-{zoho_id[-6:]}",
            "status": "active",
            "unit": "pcs",
            "locations": locations,
            **common,
        }
    if entity == "contacts":
        return {
            "contact_id": zoho_id,
            "contact_name": f"Customer {zoho_id[-6:]}",
            "company_name": f"Company {zoho_id[-6:]} Ltd",
            "contact_type": rng.choice(["customer", "vendor"]),
            "customer_sub_type": "business",
            "status": "active",
            "email": f"ap{zoho_id[-6:]}@example.com",
            "phone": f"+91-44-{rng.randint(1000000, 9999999)}",
            "currency_code": "INR",
            "payment_terms": 30,
            "payment_terms_label": "Net 30",
            "credit_limit": rng.randint(0, 100000),
            "outstanding_receivable_amount": round(rng.uniform(0, 10000), 2),
            "billing_address": _address(rng),
            "shipping_address": _address(rng),
            "custom_fields": _custom_fields(rng),
            "notes": "Prefers electronic invoices",
            **common,
        }
    if entity in ("invoices", "bills", "creditnotes"):
        lines = _lines(rng, rng.randint(1, 5), with_account=entity != "invoices")
        sub_total, tax_total = _money(lines)
        party = "vendor" if entity == "bills" else "customer"
        doc: dict[str, object] = {
            {"invoices": "invoice_id", "bills": "bill_id", "creditnotes": "creditnote_id"}[entity]: zoho_id,
            {"invoices": "invoice_number", "bills": "bill_number", "creditnotes": "creditnote_number"}[
                entity
            ]: f"DOC-{zoho_id[-6:]}",
            "reference_number": f"REF-{rng.randint(1, 99999)}",
            "date": "2024-01-15",
            "status": rng.choice(["draft", "sent", "paid", "open"]),
            f"{party}_id": str(ID_BASE + rng.randint(1, 10**6)),
            f"{party}_name": f"Party {rng.randint(1, 9999)}",
            "currency_code": "INR",
            "total": round(sub_total + tax_total, 2),
            "balance": round(sub_total + tax_total, 2),
            "line_items": lines,
            "billing_address": _address(rng),
            "custom_fields": _custom_fields(rng),
            "notes": "Thanks for your business.",
            "terms": "Payment due within 30 days.",
            **common,
        }
        if entity != "creditnotes":
            doc.update(due_date="2024-02-14", exchange_rate=1.0, sub_total=sub_total, tax_total=tax_total)
        return doc
    if entity == "pricebooks":
        return {
            "pricebook_id": zoho_id,
            "name": f"Price List {zoho_id[-6:]}",
            "description": "Seasonal prices",
            "status": "active",
            "currency_code": "INR",
            "pricebook_type": "per_item",
            "sales_or_purchase_type": "sales",
            "is_default": False,
            "is_increase": True,
            "percentage": rng.randint(0, 20),
            "pricebook_items": [
                {
                    "item_id": str(ID_BASE + 54000 + n),
                    "pricebook_item_id": str(ID_BASE + 227000 + n),
                    "pricebook_rate": round(rng.uniform(1, 500), 2),
                    "pricing_scheme": "unit",
                }
                for n in range(rng.randint(3, 10))
            ],
            **common,
        }
    raise ValueError(f"unknown entity {entity!r}")


MODULE_KEYS = {
    "items": "item",
    "stock": "item",
    "contacts": "contact",
    "invoices": "invoice",
    "bills": "bill",
    "creditnotes": "creditnote",
    "pricebooks": "pricebook",
}


class Workload:
    """A deterministic stream of distinct, valid webhook events over the seven entity types."""

    def __init__(self, seed: int = 7, *, id_offset: int = 0, update_share: float = UPDATE_SHARE) -> None:
        self.rng = random.Random(seed)
        self.update_share = update_share
        self.id_offset = id_offset
        self.version = 0
        self.sent: dict[str, list[str]] = {entity: [] for entity in MIX}
        self.next_id: dict[str, int] = dict.fromkeys(MIX, 0)
        self._entities = list(MIX)
        self._weights = [MIX[e] for e in self._entities]

    def next(self) -> Event:
        entity = self.rng.choices(self._entities, self._weights)[0]
        previous = self.sent[entity]
        if previous and self.rng.random() < self.update_share:
            zoho_id = self.rng.choice(previous)
        else:
            number = self.next_id[entity]
            self.next_id[entity] += 1
            zoho_id = str(ID_BASE + self.id_offset + number)
            previous.append(zoho_id)
        self.version += 1  # a newer last_modified_time for every event: never a duplicate
        body = orjson.dumps({MODULE_KEYS[entity]: record(entity, zoho_id, self.version, self.rng)})
        return Event(entity, zoho_id, body)

    def take(self, count: int) -> list[Event]:
        return [self.next() for _ in range(count)]
