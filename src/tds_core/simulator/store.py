"""The simulated organization's data: records per module, mutations, and a change log.

Modules are Zoho's: ``items`` (one record set, served by Books ``/items`` and Inventory
``/items``, as one organization's Books and Inventory share their items), ``contacts``,
``invoices``, ``bills``, ``creditnotes`` and ``pricebooks`` (Inventory price lists).

Everything random comes from one seeded ``random.Random``, and "now" from an injectable
clock, so the same seed and the same calls give the same records, ids and timestamps.

Versions: every create or update sets ``last_modified_time`` to the clock's time, at least
one second after the record's previous value (Zoho's timestamps have whole seconds; the
simulator never gives one record two versions with the same stamp). Price lists carry no
timestamp, as in Zoho's documents. A stock change (:meth:`Store.adjust_stock`) is an
update of the item; its :class:`Change` is marked ``stock`` so the webhook emitter sends it to
the ``stock`` entity.

The change log lists mutations made after seeding (seeded records are the initial state,
not changes). Deleted records leave the store at once: lists and GETs no longer see them,
just as deletes in Zoho are invisible to polling; only the change log (and webhooks) show
them.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo

from tds_core.simulator.catalogue import CURRENCIES
from tds_core.simulator.clock import Clock, format_zoho_time, offset_zone, parse_zoho_time, system_clock
from tds_core.simulator.config import DEFAULT_TIME_ZONE
from tds_core.simulator.records import IdSequence, Record, RecordFactory
from tds_core.simulator.totals import document_totals, money, stock_totals

MODULES: tuple[str, ...] = ("items", "contacts", "invoices", "bills", "creditnotes", "pricebooks")
ID_FIELDS: dict[str, str] = {
    "items": "item_id",
    "contacts": "contact_id",
    "invoices": "invoice_id",
    "bills": "bill_id",
    "creditnotes": "creditnote_id",
    "pricebooks": "pricebook_id",
}
DOCUMENTS = ("invoices", "bills", "creditnotes")
TIMESTAMPED = ("items", "contacts", "invoices", "bills", "creditnotes")

Event = Literal["created", "updated", "deleted"]

# How a document's status moves on in a random edit.
_STATUS_PROGRESS: dict[str, dict[str, tuple[str, ...]]] = {
    "invoices": {
        "draft": ("sent",),
        "sent": ("partially_paid", "paid", "overdue"),
        "overdue": ("paid", "partially_paid"),
        "partially_paid": ("paid",),
    },
    "bills": {
        "draft": ("open",),
        "open": ("partially_paid", "paid", "overdue"),
        "overdue": ("paid",),
    },
    "creditnotes": {"draft": ("open",), "open": ("closed",)},
}


@dataclass(frozen=True, eq=False)
class Change:
    """One mutation: the record as it was right after it (for a delete, just before it)."""

    seq: int
    module: str
    record_id: str
    event: Event
    at: datetime
    record: Record
    stock: bool = False

    @property
    def entity(self) -> str:
        """The TDS webhook entity: the module, or ``stock`` for a stock change."""
        return "stock" if self.stock else self.module


@dataclass
class _Pools:
    """Existing records a new one may refer to (built once per seeded module)."""

    items: list[Record] = field(default_factory=list)
    sellable: list[Record] = field(default_factory=list)
    customers: list[Record] = field(default_factory=list)
    vendors: list[Record] = field(default_factory=list)
    invoices_by_customer: dict[str, list[Record]] = field(default_factory=dict)


class UnknownRecord(KeyError):
    """No record with that id in that module (it never existed, or was deleted)."""


class Store:
    """In-memory Zoho organization. Records returned to callers are copies.

    ``time_zone`` is the organization's IANA zone (its offset is in every timestamp); it must
    match the app's ``SimulatorConfig.time_zone``. ``utc_offset_minutes`` instead gives a fixed
    offset (an organization whose zone has no daylight saving).
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        clock: Clock = system_clock,
        time_zone: str = DEFAULT_TIME_ZONE,
        utc_offset_minutes: int | None = None,
    ) -> None:
        self.clock = clock
        self.time_zone: str | None = time_zone if utc_offset_minutes is None else None
        self.zone: tzinfo = (
            ZoneInfo(time_zone) if utc_offset_minutes is None else offset_zone(utc_offset_minutes)
        )
        self.rng = random.Random(seed)
        self.factory = RecordFactory(self.rng, IdSequence(self.rng), self.zone)
        self._records: dict[str, dict[str, Record]] = {module: {} for module in MODULES}
        self._changes: list[Change] = []

    # -- reading -------------------------------------------------------------------------

    def records(self, module: str) -> Iterable[Record]:
        """The live records of a module, in creation order. Read them; do not modify them."""
        return self._table(module).values()

    def get(self, module: str, record_id: str) -> Record:
        try:
            return copy.deepcopy(self._table(module)[record_id])
        except KeyError:
            raise UnknownRecord(f"{module} {record_id}") from None

    def find(self, module: str, record_id: str) -> Record | None:
        """The live record, or None. Read it; do not modify it."""
        return self._table(module).get(record_id)

    def ids(self, module: str) -> list[str]:
        return list(self._table(module))

    def count(self, module: str) -> int:
        return len(self._table(module))

    def changes_since(self, moment: datetime, module: str | None = None) -> list[Change]:
        """Mutations strictly after ``moment`` (optionally of one module), oldest first."""
        return [c for c in self._changes if c.at > moment and (module is None or c.module == module)]

    def changes_after(self, seq: int) -> list[Change]:
        """Mutations with a sequence number above ``seq`` (0 gives them all)."""
        return [c for c in self._changes if c.seq > seq]

    @property
    def last_seq(self) -> int:
        return self._changes[-1].seq if self._changes else 0

    # -- seeding -------------------------------------------------------------------------

    def seed(self, records_per_module: int, *, history_days: int = 90) -> None:
        """Add ``records_per_module`` records to every module, created over the past days.

        Seeded records are the initial state and are not written to the change log.
        """
        if records_per_module < 0:
            raise ValueError("records_per_module must be zero or more")
        now = self._now()
        span = max(history_days * 86400, 7200)
        for module in MODULES:
            pools = self._pools()
            for index in range(records_per_module):
                created = now - timedelta(seconds=self.rng.randint(3600, span))
                age = int((now - created).total_seconds())
                modified = created + timedelta(seconds=self.rng.randint(0, age - 60))
                record = self._build(module, created, modified, index, pools)
                self._table(module)[record[ID_FIELDS[module]]] = record

    # -- mutations -----------------------------------------------------------------------

    def create(self, module: str, fields: Mapping[str, Any] | None = None) -> Record:
        """A new record: a generated one, with ``fields`` laid over it."""
        now = self._now()
        record = self._build(module, now, now, self.count(module), self._pools())
        if fields:
            _apply(module, record, fields)
        record_id = record[ID_FIELDS[module]]
        if record_id in self._table(module):
            raise ValueError(f"{module} {record_id} already exists")
        self._table(module)[record_id] = record
        return self._log(module, record_id, "created", now, record)

    def update(self, module: str, record_id: str, fields: Mapping[str, Any] | None = None) -> Record:
        """Change a record (``fields``, or a plausible random edit) and bump its version."""
        record = self._live(module, record_id)
        if fields:
            if ID_FIELDS[module] in fields and fields[ID_FIELDS[module]] != record_id:
                raise ValueError("an update cannot change the record's id")
            _apply(module, record, fields)
        else:
            self._random_edit(module, record)
        at = self._bump(module, record)
        return self._log(module, record_id, "updated", at, record)

    def delete(self, module: str, record_id: str) -> Record:
        """Remove a record; returns its last state."""
        record = self._live(module, record_id)
        del self._table(module)[record_id]
        return self._log(module, record_id, "deleted", self._now(), record)

    def adjust_stock(self, item_id: str, location_id: str | None = None, delta: int | None = None) -> Record:
        """Move an item's stock at one location (never below zero); logged as a stock change."""
        item = self._live("items", item_id)
        locations = item.get("locations") or []
        if not locations:
            raise ValueError(f"item {item_id} does not track stock")
        if location_id is None:
            location = self.rng.choice(locations)
        else:
            matches = [entry for entry in locations if entry["location_id"] == location_id]
            if not matches:
                raise ValueError(f"item {item_id} has no stock at location {location_id}")
            location = matches[0]
        step = delta if delta is not None else self.rng.choice((-5, -3, -2, -1, 1, 2, 5, 10, 25))
        for name in (
            "location_stock_on_hand",
            "location_available_stock",
            "location_actual_available_stock",
        ):
            location[name] = str(max(int(float(location[name] or 0)) + step, 0))
        stock_totals(item)
        at = self._bump("items", item)
        return self._log("items", item_id, "updated", at, item, stock=True)

    # -- internals -----------------------------------------------------------------------

    def _table(self, module: str) -> dict[str, Record]:
        try:
            return self._records[module]
        except KeyError:
            raise ValueError(f"unknown module {module!r} (one of: {', '.join(MODULES)})") from None

    def _live(self, module: str, record_id: str) -> Record:
        try:
            return self._table(module)[record_id]
        except KeyError:
            raise UnknownRecord(f"{module} {record_id}") from None

    def _now(self) -> datetime:
        return self.clock().replace(microsecond=0)

    def _bump(self, module: str, record: Record) -> datetime:
        now = self._now()
        if module not in TIMESTAMPED:
            return now
        previous = parse_zoho_time(record["last_modified_time"])
        at = max(now, previous + timedelta(seconds=1))
        record["last_modified_time"] = format_zoho_time(at, self.zone)
        return at

    def _log(
        self, module: str, record_id: str, event: Event, at: datetime, record: Record, *, stock: bool = False
    ) -> Record:
        snapshot = copy.deepcopy(record)
        self._changes.append(Change(self.last_seq + 1, module, record_id, event, at, snapshot, stock))
        return copy.deepcopy(snapshot)

    def _pools(self) -> _Pools:
        pools = _Pools()
        for item in self._table("items").values():
            pools.items.append(item)
            if item["status"] == "active":
                pools.sellable.append(item)
        for contact in self._table("contacts").values():
            (pools.customers if contact["contact_type"] == "customer" else pools.vendors).append(contact)
        for invoice in self._table("invoices").values():
            pools.invoices_by_customer.setdefault(invoice["customer_id"], []).append(invoice)
        return pools

    def _build(self, module: str, created: datetime, modified: datetime, index: int, pools: _Pools) -> Record:
        factory, rng = self.factory, self.rng
        if module == "items":
            return factory.item(created, modified)
        if module == "contacts":
            return factory.contact(created, modified, "vendor" if index % 3 == 2 else "customer")
        if module == "invoices":
            customer = rng.choice(pools.customers) if pools.customers else None
            return factory.invoice(created, modified, customer, pools.sellable)
        if module == "bills":
            vendor = rng.choice(pools.vendors) if pools.vendors else None
            return factory.bill(created, modified, vendor, pools.sellable)
        if module == "creditnotes":
            customer = rng.choice(pools.customers) if pools.customers else None
            invoices = pools.invoices_by_customer.get(customer["contact_id"], []) if customer else []
            invoice = rng.choice(invoices) if invoices else None
            return factory.creditnote(created, modified, customer, pools.sellable, invoice)
        if module == "pricebooks":
            return factory.pricebook(pools.items)
        raise ValueError(f"unknown module {module!r}")

    def _random_edit(self, module: str, record: Record) -> None:
        rng = self.rng
        if module == "items":
            choice = rng.random()
            if choice < 0.6:
                record["rate"] = money(float(record["rate"]) * rng.uniform(0.9, 1.1))
            elif choice < 0.8:
                record["description"] = f"{record['name']} (revised {rng.randint(1, 999)})"
            elif choice < 0.9 and "reorder_level" in record:
                level = rng.choice((None, 10, 25, 50, 100))
                record["reorder_level"] = "" if level is None else float(level)
            else:
                record["status"] = "inactive" if record["status"] == "active" else "active"
        elif module == "contacts":
            choice = rng.random()
            if choice < 0.4:
                record["outstanding_receivable_amount"] = money(rng.uniform(0, 5000))
                record["outstanding_receivable_amount_bcy"] = record["outstanding_receivable_amount"]
            elif choice < 0.55:
                record["billing_address"]["phone"] = f"+1-555-{rng.randint(1000000, 9999999)}"
            elif choice < 0.7 and any(p.get("is_primary_contact") for p in record["contact_persons"]):
                person = next(p for p in record["contact_persons"] if p.get("is_primary_contact"))
                person["email"] = (
                    f"{person['first_name'].lower()}.{rng.randint(1, 999)}@{record['website'][4:]}"
                )
                person["phone"] = f"+1-555-{rng.randint(1000000, 9999999)}"
            elif choice < 0.95:
                record["credit_limit"] = float(rng.choice((0, 1000, 5000, 20000, 50000)))
            else:
                record["status"] = "inactive" if record["status"] == "active" else "active"
        elif module in DOCUMENTS:
            self._edit_document(module, record)
        elif module == "pricebooks":
            if record["pricebook_items"] and rng.random() < 0.7:
                entry = rng.choice(record["pricebook_items"])
                entry["pricebook_rate"] = money(float(entry["pricebook_rate"]) * rng.uniform(0.9, 1.1))
            else:
                record["percentage"] = float(rng.choice((5, 10, 15, 20, 25)))
                record["description"] = f"{record['description'].split(' (')[0]} (rev {rng.randint(1, 99)})"

    def _edit_document(self, module: str, record: Record) -> None:
        rng = self.rng
        progress = _STATUS_PROGRESS[module]
        lines = record.get("line_items") or []
        if record["status"] in progress and rng.random() < 0.6:
            record["status"] = rng.choice(progress[record["status"]])
            if record.get("exchange_rate") == "":
                currency = next((c for c in CURRENCIES if c.currency_code == record["currency_code"]), None)
                record["exchange_rate"] = currency.exchange_rate if currency else 1.0
        elif lines and record["status"] in ("draft", "sent", "open"):
            line = rng.choice(lines)
            line["quantity"] = max(1, int(line["quantity"]) + rng.choice((-2, -1, 1, 2, 5)))
        else:
            record["notes"] = f"Note {rng.randint(1, 9999)}"
        document_totals(record)
        if module == "bills":
            for line in lines:
                line["item_total_inclusive_of_tax"] = money(
                    line["item_total"] * (1 + line["tax_percentage"] / 100)
                )


def _apply(module: str, record: Record, fields: Mapping[str, Any]) -> None:
    for key, value in fields.items():
        record[key] = copy.deepcopy(value)
    if module in DOCUMENTS and ({"line_items", "status", "shipping_charge", "payment_made"} & set(fields)):
        document_totals(record)
    if module == "items" and "locations" in fields:
        stock_totals(record)


__all__ = ["DOCUMENTS", "ID_FIELDS", "MODULES", "Change", "Store", "UnknownRecord"]
