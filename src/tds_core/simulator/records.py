"""Made-up but well-formed Zoho records, drawn from a seeded ``random.Random``.

Field names and formats are Zoho's (``zoho-books-reference.md`` sections 4, 6 and 10): ids are
numeric strings such as ``"460000000091001"``, timestamps carry the organization's offset
(``2024-01-15T10:20:30+0530``), dates are ``yyyy-mm-dd``, amounts are numbers rounded to two
places (written with 2 decimals, stock with 6: :mod:`tds_core.simulator.wire`), per-location
stock figures are strings, and a missing value is ``""``, never ``None``, whatever its type
(a service's ``purchase_rate`` and ``tax_percentage``, a draft's ``exchange_rate``, an
unset ``reorder_level`` or ``initial_stock``). Contacts have zero, one or several contact
persons, one of them primary; services carry no stock keys at all.

Each record holds every field the simulator knows; :mod:`tds_core.simulator.views` cuts the
list-row and detail shapes out of it. Totals are recomputed from the line items, so a record
is always internally consistent.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from tds_core.simulator import catalogue
from tds_core.simulator.catalogue import (
    BASE_CURRENCY,
    COGS_ACCOUNT,
    CURRENCIES,
    INVENTORY_ACCOUNT,
    LOCATIONS,
    PAYMENT_TERMS,
    SALES_ACCOUNT,
    TAXES,
    ZERO_RATED,
    Currency,
    Location,
)
from tds_core.simulator.clock import format_zoho_time
from tds_core.simulator.totals import document_totals, money, stock_totals

Record = dict[str, Any]

FIRST_ID = 460_000_000_010_000


class IdSequence:
    """Increasing 15-digit numeric-string ids with seeded gaps, like Zoho's."""

    def __init__(self, rng: random.Random, start: int = FIRST_ID) -> None:
        self._rng = rng
        self._next = start

    def __call__(self) -> str:
        self._next += self._rng.randint(2, 40)
        return str(self._next)


class RecordFactory:
    """Builds one new record of each module from the store's seeded generator."""

    def __init__(self, rng: random.Random, new_id: IdSequence, zone: tzinfo) -> None:
        self.rng = rng
        self.new_id = new_id
        self.zone = zone

    def stamp(self, moment: datetime) -> str:
        return format_zoho_time(moment, self.zone)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    # -- items ---------------------------------------------------------------------------

    def item(self, created: datetime, modified: datetime) -> Record:
        rng = self.rng
        service = rng.random() < 0.15
        name = (
            rng.choice(catalogue.SERVICES)
            if service
            else f"{rng.choice(catalogue.ADJECTIVES)} {rng.choice(catalogue.NOUNS)}"
        )
        item_id = self.new_id()
        rate = money(rng.uniform(5, 400))
        # Some services carry no tax and no purchase rate: Zoho writes those as "".
        untaxed = service and rng.random() < 0.5
        tax = rng.choice(TAXES)
        record: Record = {
            "item_id": item_id,
            "name": f"{name} {item_id[-4:]}",
            "sku": "" if service else f"SKU-{item_id[-6:]}",
            "status": "active" if rng.random() < 0.85 else "inactive",
            "description": f"{name} (simulated)",
            "rate": rate,
            "purchase_rate": "" if service else money(rate * rng.uniform(0.4, 0.8)),
            "unit": "hrs" if service else rng.choice(("pcs", "box", "kg")),
            "product_type": "service" if service else "goods",
            "item_type": "sales" if service else "inventory",
            "is_taxable": not untaxed and tax.tax_percentage > 0,
            "tax_id": "" if untaxed else tax.tax_id,
            "tax_name": "" if untaxed else tax.tax_name,
            "tax_percentage": "" if untaxed else tax.tax_percentage,
            "tax_type": "" if untaxed else "tax",
            "account_id": SALES_ACCOUNT[0],
            "account_name": SALES_ACCOUNT[1],
            "purchase_description": "" if service else f"{name} from supplier",
            "purchase_account_id": "" if service else COGS_ACCOUNT[0],
            "purchase_account_name": "" if service else COGS_ACCOUNT[1],
            "inventory_account_id": "" if service else INVENTORY_ACCOUNT[0],
            "can_be_sold": True,
            "can_be_purchased": not service,
            "track_inventory": not service,
            "is_combo_product": False,
            "custom_fields": [custom_field("cf_origin", "Origin", "Simulated", index=1)],
            "created_time": self.stamp(created),
            "last_modified_time": self.stamp(modified),
        }
        if not service:
            # Stock keys only on tracked goods: a service has none at all (reference §10).
            level = rng.choice((None, 10, 25, 50))
            record["reorder_level"] = "" if level is None else float(level)
            record["locations"] = [self.stock_location(location) for location in LOCATIONS]
            stock_totals(record)
            record["initial_stock"] = "" if rng.random() < 0.3 else record["stock_on_hand"]
        return record

    def stock_location(self, location: Location) -> Record:
        on_hand = self.rng.randint(0, 400)
        committed = self.rng.randint(0, min(on_hand, 15))
        return {
            "location_id": location.location_id,
            "location_name": location.location_name,
            "status": "active",
            "is_primary": location.is_primary,
            "location_stock_on_hand": str(on_hand),
            "location_available_stock": str(on_hand),
            "location_actual_available_stock": str(on_hand - committed),
        }

    # -- contacts ------------------------------------------------------------------------

    def contact(self, created: datetime, modified: datetime, contact_type: str) -> Record:
        rng = self.rng
        contact_id = self.new_id()
        word, suffix = rng.choice(catalogue.COMPANY_WORDS), rng.choice(catalogue.COMPANY_SUFFIXES)
        company = f"{word} {suffix} {contact_id[-3:]}"
        currency = rng.choice(CURRENCIES)
        terms, terms_label = rng.choice(PAYMENT_TERMS)
        domain = company.split()[0].lower()
        city, country, postcode = rng.choice(catalogue.CITIES)
        address = {
            "attention": "Accounts",
            "address": rng.choice(catalogue.STREETS),
            "street2": "",
            "city": city,
            "state": "",
            "state_code": "",
            "zip": postcode,
            "country": country,
            "country_code": catalogue.COUNTRY_CODES.get(country, ""),
            "fax": "",
            "phone": f"+1-555-{rng.randint(1000000, 9999999)}",
        }
        # Some contacts have no contact person, most one, some several with one primary.
        roll = rng.random()
        count = 0 if roll < 0.15 else 1 if roll < 0.7 else rng.randint(2, 3)
        persons = [self.contact_person(domain, address["phone"]) for _ in range(count)]
        if persons:
            rng.choice(persons)["is_primary_contact"] = True
        primary = next((p for p in persons if p["is_primary_contact"]), None)
        tax = rng.choice(TAXES)
        record: Record = {
            "contact_id": contact_id,
            "contact_name": company,
            "company_name": company,
            "contact_type": contact_type,
            "customer_sub_type": "business" if rng.random() < 0.8 else "individual",
            "contact_number": f"CNT-{contact_id[-6:]}",
            "status": "active" if rng.random() < 0.9 else "inactive",
            "website": f"www.{domain}.example",
            "currency_id": currency.currency_id,
            "currency_code": currency.currency_code,
            "currency_symbol": currency.currency_symbol,
            "payment_terms": terms,
            "payment_terms_label": terms_label,
            "credit_limit": float(rng.choice((0, 1000, 5000, 20000))),
            "pricebook_id": "",
            "is_taxable": tax.tax_percentage > 0,
            "tax_id": tax.tax_id,
            "tax_name": tax.tax_name,
            "tax_percentage": tax.tax_percentage,
            "primary_contact_id": primary["contact_person_id"] if primary else "",
            "outstanding_receivable_amount": money(rng.uniform(0, 5000))
            if contact_type == "customer"
            else 0.0,
            "outstanding_receivable_amount_bcy": 0.0,
            "outstanding_payable_amount": money(rng.uniform(0, 5000)) if contact_type == "vendor" else 0.0,
            "unused_credits_receivable_amount": 0.0,
            "unused_credits_receivable_amount_bcy": 0.0,
            "billing_address": address,
            "shipping_address": dict(address),
            "contact_persons": persons,
            "custom_fields": [
                custom_field("cf_segment", "Segment", rng.choice(("Retail", "Wholesale")), index=1),
                # A dropdown of yes/no arrives as the strings "True" / "False" (reference §10).
                custom_field("cf_key_account", "Key account", rng.choice(("True", "False")), index=2),
            ],
            "notes": "",
            "created_time": self.stamp(created),
            "last_modified_time": self.stamp(modified),
        }
        record["outstanding_receivable_amount_bcy"] = record["outstanding_receivable_amount"]
        return record

    def contact_person(self, domain: str, phone: str) -> Record:
        rng = self.rng
        first, last = rng.choice(catalogue.FIRST_NAMES), rng.choice(catalogue.LAST_NAMES)
        return {
            "contact_person_id": self.new_id(),
            "salutation": rng.choice(("Mr.", "Ms.", "Dr.")),
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}.{last.lower()}@{domain}.example",
            "phone": phone,
            "mobile": f"+1-555-{rng.randint(1000000, 9999999)}" if rng.random() < 0.8 else "",
            "designation": "Accounts",
            "department": "Finance",
            "is_primary_contact": False,
        }

    # -- documents -----------------------------------------------------------------------

    def document_line(self, items: list[Record], account: tuple[str, str], *, rate_field: str) -> Record:
        rng = self.rng
        if items:
            item = rng.choice(items)
            item_id, name, unit = item["item_id"], item["name"], item["unit"]
            rate = float(item.get(rate_field) or item["rate"])
            tax = next((t for t in TAXES if t.tax_id == item["tax_id"]), ZERO_RATED)
            product_type = item["product_type"]
        else:
            item_id, name, unit, rate, tax, product_type = "", "Miscellaneous", "pcs", 10.0, TAXES[0], "goods"
        return {
            "line_item_id": self.new_id(),
            "item_id": item_id,
            "name": name,
            "description": "",
            "item_order": 1,
            "rate": rate,
            "bcy_rate": rate,
            "quantity": rng.randint(1, 20),
            "unit": unit,
            "discount": 0.0,
            "discount_amount": 0.0,
            "tax_id": tax.tax_id,
            "tax_name": tax.tax_name,
            "tax_type": "tax",
            "tax_percentage": tax.tax_percentage,
            "item_total": 0.0,
            "account_id": account[0],
            "account_name": account[1],
            "location_id": LOCATIONS[0].location_id,
            "location_name": LOCATIONS[0].location_name,
            "product_type": product_type,
        }

    def _dates(self, created: datetime, terms: int) -> tuple[str, str]:
        day = self.local_date(created)
        return day.isoformat(), (day + timedelta(days=terms)).isoformat()

    def invoice(
        self, created: datetime, modified: datetime, customer: Record | None, items: list[Record]
    ) -> Record:
        rng = self.rng
        party = customer or self._walk_in()
        terms, terms_label = party.get("payment_terms", 15), party.get("payment_terms_label", "Net 15")
        invoice_date, due_date = self._dates(created, terms)
        invoice_id = self.new_id()
        currency = _currency_of(party)
        status = rng.choice(("draft", "sent", "sent", "overdue", "paid", "partially_paid", "void"))
        persons = party.get("contact_persons") or []
        record: Record = {
            "invoice_id": invoice_id,
            "invoice_number": f"INV-{invoice_id[-6:]}",
            "reference_number": f"PO-{rng.randint(1000, 9999)}",
            "date": invoice_date,
            "due_date": due_date,
            "payment_terms": terms,
            "payment_terms_label": terms_label,
            "status": status,
            "customer_id": party["contact_id"],
            "customer_name": party["contact_name"],
            # The people the invoice goes to: ids on the record, the people themselves in a
            # webhook's contact_persons_details[] (reference section 10).
            "contact_persons": [person["contact_person_id"] for person in persons],
            "contact_persons_details": [person_details(person) for person in persons],
            "currency_id": currency.currency_id,
            "currency_code": currency.currency_code,
            "exchange_rate": draft_rate(status, currency),
            "discount": 0.0,
            "discount_type": "item_level",
            "is_discount_before_tax": True,
            "is_inclusive_tax": False,
            "line_items": [
                self.document_line(items, SALES_ACCOUNT, rate_field="rate") for _ in range(rng.randint(1, 4))
            ],
            "shipping_charge": 0.0,
            "adjustment": 0.0,
            "payment_made": 0.0,
            "credits_applied": 0.0,
            "write_off_amount": 0.0,
            "location_id": LOCATIONS[0].location_id,
            "location_name": LOCATIONS[0].location_name,
            "salesperson_id": "",
            "salesperson_name": "",
            "billing_address": _postal(party.get("billing_address")),
            "shipping_address": _postal(party.get("shipping_address")),
            "notes": "Thank you for your business.",
            "terms": "",
            "is_emailed": False,
            "is_viewed_by_client": False,
            "has_attachment": False,
            "reminders_sent": 0,
            "documents": [],
            "custom_fields": [
                custom_field("cf_priority", "Priority", rng.choice(("Normal", "Rush")), index=1)
            ],
            "recurring_invoice_id": "",
            "created_time": self.stamp(created),
            "last_modified_time": self.stamp(modified),
        }
        document_totals(record)
        return record

    def bill(
        self, created: datetime, modified: datetime, vendor: Record | None, items: list[Record]
    ) -> Record:
        rng = self.rng
        party = vendor or self._walk_in()
        terms = party.get("payment_terms", 30)
        bill_date, due_date = self._dates(created, terms)
        bill_id = self.new_id()
        currency = _currency_of(party)
        status = rng.choice(("open", "open", "overdue", "paid", "partially_paid", "void"))
        record: Record = {
            "bill_id": bill_id,
            "bill_number": f"SUP-{bill_id[-5:]}",
            "reference_number": str(rng.randint(1000000, 9999999)),
            "date": bill_date,
            "due_date": due_date,
            "payment_terms": terms,
            "payment_terms_label": party.get("payment_terms_label", "Net 30"),
            "status": status,
            "vendor_id": party["contact_id"],
            "vendor_name": party["contact_name"],
            "currency_id": currency.currency_id,
            "currency_code": currency.currency_code,
            "exchange_rate": draft_rate(status, currency),
            "price_precision": 2,
            "is_inclusive_tax": False,
            "purchaseorder_ids": [],
            "pricebook_id": "",
            "line_items": [
                self.document_line(items, COGS_ACCOUNT, rate_field="purchase_rate")
                for _ in range(rng.randint(1, 4))
            ],
            "adjustment": 0.0,
            "payment_made": 0.0,
            "vendor_credits_applied": 0.0,
            "location_id": LOCATIONS[0].location_id,
            "location_name": LOCATIONS[0].location_name,
            "notes": "",
            "terms": "",
            "custom_fields": [],
            "created_time": self.stamp(created),
            "last_modified_time": self.stamp(modified),
        }
        for line in record["line_items"]:
            line["sku"] = ""
            line["item_total_inclusive_of_tax"] = 0.0
        document_totals(record)
        for line in record["line_items"]:
            line["item_total_inclusive_of_tax"] = money(
                line["item_total"] * (1 + line["tax_percentage"] / 100)
            )
        return record

    def creditnote(
        self,
        created: datetime,
        modified: datetime,
        customer: Record | None,
        items: list[Record],
        invoice: Record | None,
    ) -> Record:
        rng = self.rng
        party = customer or self._walk_in()
        creditnote_id = self.new_id()
        currency = _currency_of(party)
        persons = party.get("contact_persons") or []
        primary: Record = next((p for p in persons if p.get("is_primary_contact")), {})
        status = rng.choice(("open", "open", "closed", "draft", "void"))
        record: Record = {
            "creditnote_id": creditnote_id,
            "creditnote_number": f"CN-{creditnote_id[-5:]}",
            "reference_number": invoice["invoice_number"] if invoice else "",
            "date": self.local_date(created).isoformat(),
            "status": status,
            "customer_id": party["contact_id"],
            "customer_name": party["contact_name"],
            "email": primary.get("email", ""),
            "currency_id": currency.currency_id,
            "currency_code": currency.currency_code,
            "currency_symbol": currency.currency_symbol,
            "exchange_rate": draft_rate(status, currency),
            "salesperson_id": "",
            "salesperson_name": "",
            "line_items": [
                self.document_line(items, SALES_ACCOUNT, rate_field="rate") for _ in range(rng.randint(1, 2))
            ],
            "invoices": [],
            "location_id": LOCATIONS[0].location_id,
            "location_name": LOCATIONS[0].location_name,
            "billing_address": _postal(party.get("billing_address")),
            "shipping_address": _postal(party.get("shipping_address")),
            "notes": "",
            "terms": "",
            "custom_fields": [],
            "is_emailed": False,
            "created_time": self.stamp(created),
            "last_modified_time": self.stamp(modified),
        }
        invoice_lines = [line["line_item_id"] for line in (invoice or {}).get("line_items") or []]
        for line in record["line_items"]:
            # A credit-note line names the invoice line it credits, "" when unlinked.
            linked = invoice is not None and bool(invoice_lines) and rng.random() < 0.7
            line["invoice_id"] = invoice["invoice_id"] if linked and invoice else ""
            line["invoice_item_id"] = rng.choice(invoice_lines) if linked else ""
        document_totals(record)
        if invoice is not None:
            record["invoices"] = [
                {
                    "invoice_id": invoice["invoice_id"],
                    "invoice_number": invoice["invoice_number"],
                    "amount": money(min(record["total"], float(invoice["total"]))),
                }
            ]
        return record

    # -- price lists ---------------------------------------------------------------------

    def pricebook(self, items: list[Record]) -> Record:
        rng = self.rng
        pricebook_id = self.new_id()
        per_item = bool(items) and rng.random() < 0.6
        record: Record = {
            "pricebook_id": pricebook_id,
            "name": f"Price List {pricebook_id[-4:]}",
            "description": rng.choice(("Wholesale", "Flash sale", "Partner rates", "Export")),
            "status": "active" if rng.random() < 0.9 else "inactive",
            "is_default": False,
            "currency_id": BASE_CURRENCY.currency_id,
            "currency_code": BASE_CURRENCY.currency_code,
            "decimal_place": 2,
            "pricebook_type": "per_item" if per_item else "fixed_percentage",
            "pricing_scheme": "unit",
            "is_increase": rng.random() < 0.3,
            "percentage": 0.0 if per_item else float(rng.choice((5, 10, 15, 20))),
            "rounding_type": "no_rounding",
            "sales_or_purchase_type": "sales" if rng.random() < 0.75 else "purchases",
            "pricebook_items": [],
        }
        if per_item:
            chosen = rng.sample(items, k=min(len(items), rng.randint(1, 5)))
            record["pricebook_items"] = [self.pricebook_item(item) for item in chosen]
        return record

    def pricebook_item(self, item: Record) -> Record:
        return {
            "item_id": item["item_id"],
            "pricebook_item_id": self.new_id(),
            "pricebook_rate": money(float(item["rate"]) * self.rng.uniform(0.7, 0.95)),
            "pricebook_discount": "",
            "pricing_scheme": "unit",
            "price_brackets": [],
        }

    def _walk_in(self) -> Record:
        return {"contact_id": self.new_id(), "contact_name": "Walk-in Customer"}


def custom_field(api_name: str, label: str, value: str, *, index: int, data_type: str = "dropdown") -> Record:
    """One ``custom_fields[]`` entry as Zoho writes it (``api_name``, ``value``, ...)."""
    return {
        "customfield_id": str(460_000_000_012_800 + index),
        "index": index,
        "label": label,
        "api_name": api_name,
        "data_type": data_type,
        "value": value,
        "value_formatted": value,
        "show_on_pdf": False,
    }


def person_details(person: Record) -> Record:
    """A contact person as an invoice webhook's ``contact_persons_details[]`` writes it."""
    return {
        "contact_person_id": person["contact_person_id"],
        "salutation": person.get("salutation", ""),
        "first_name": person.get("first_name", ""),
        "last_name": person.get("last_name", ""),
        "contact_person_email": person.get("email", ""),
        "phone": person.get("phone", ""),
        "mobile": person.get("mobile", ""),
        "is_primary_contact": bool(person.get("is_primary_contact")),
    }


def draft_rate(status: str, currency: Currency) -> float | str:
    """A draft document has no exchange rate fixed yet: Zoho writes it as ``""``."""
    return "" if status == "draft" else currency.exchange_rate


def _currency_of(contact: Record) -> Currency:
    code = contact.get("currency_code")
    return next((c for c in CURRENCIES if c.currency_code == code), BASE_CURRENCY)


def _postal(address: Any) -> Record:
    """A document's address in its GET shape: ``zip`` and ``country_code``, the street also
    under ``street`` (list rows say ``zipcode``: see :mod:`tds_core.simulator.views`)."""
    source = address if isinstance(address, dict) else {}
    postal: Record = {
        key: source.get(key, "")
        for key in ("attention", "address", "street2", "city", "state", "zip", "country", "country_code")
    }
    postal["street"] = postal["address"]
    postal["fax"] = source.get("fax", "")
    postal["phone"] = source.get("phone", "")
    return postal
