"""The shapes Zoho sends: list rows, single-record (GET) bodies, webhook bodies.

A store record holds every field; each view picks what the reference says that response
carries (``zoho-books-reference.md`` section 6):

- Books items leave out ``created_time``, ``last_modified_time`` and the item-level stock
  totals, which the Books item documents do not list (Inventory items carry them).
- A contact's top-level ``first_name``, ``last_name``, ``email``, ``phone`` and ``mobile``
  are its primary contact person's, ``""`` when it has none (reference section 10), in list
  rows and GETs alike; the people themselves are in ``contact_persons[]`` on the GET only.
- A credit note GET says ``updated_time`` where its list row says ``last_modified_time``.
- An invoice GET carries a signed ``invoice_url`` that changes on every call.
- Invoice and bill list rows add ``due_days`` (``"Due in 14 day(s)"``, ``"Overdue by 3
  day(s)"``) computed against the clock's date.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from tds_core.simulator.records import Record


@dataclass(frozen=True)
class ViewOptions:
    today: date
    books_items_include_inventory_fields: bool = False
    nonce: int = 0
    """Differs on every answer: what a signed ``invoice_url`` is signed with."""


View = Callable[[Record, ViewOptions], Record]

_INVENTORY_ONLY_ITEM_FIELDS = (
    "created_time",
    "last_modified_time",
    "stock_on_hand",
    "available_stock",
    "actual_available_stock",
    "can_be_sold",
    "can_be_purchased",
    "track_inventory",
    "is_combo_product",
)


def _pick(record: Record, fields: tuple[str, ...]) -> Record:
    return {field: copy.deepcopy(record[field]) for field in fields if field in record}


def _due_days(record: Record, today: date) -> str:
    if record.get("status") in ("paid", "void", "draft", "closed") or not record.get("due_date"):
        return ""
    days = (date.fromisoformat(record["due_date"]) - today).days
    if days > 0:
        return f"Due in {days} day(s)"
    if days == 0:
        return "Due Today"
    return f"Overdue by {-days} day(s)"


# -- items -----------------------------------------------------------------------------

_BOOKS_ITEM_ROW = (
    "item_id",
    "name",
    "status",
    "description",
    "rate",
    "purchase_rate",
    "unit",
    "sku",
    "product_type",
    "item_type",
    "is_taxable",
    "tax_id",
    "tax_name",
    "tax_percentage",
    "tax_type",
    "reorder_level",
    "custom_fields",
)


def books_item_row(record: Record, options: ViewOptions) -> Record:
    row = _pick(record, _BOOKS_ITEM_ROW)
    if options.books_items_include_inventory_fields:
        row.update(_pick(record, _INVENTORY_ONLY_ITEM_FIELDS))
    return row


def books_item(record: Record, options: ViewOptions) -> Record:
    if options.books_items_include_inventory_fields:
        return copy.deepcopy(record)
    return {k: copy.deepcopy(v) for k, v in record.items() if k not in _INVENTORY_ONLY_ITEM_FIELDS}


_INVENTORY_ITEM_ROW = (
    "item_id",
    "name",
    "status",
    "description",
    "rate",
    "purchase_rate",
    "purchase_description",
    "unit",
    "sku",
    "product_type",
    "item_type",
    "is_taxable",
    "tax_id",
    "tax_name",
    "tax_percentage",
    "reorder_level",
    "is_combo_product",
    "stock_on_hand",
    "available_stock",
    "actual_available_stock",
    "locations",
    "custom_fields",
    "created_time",
    "last_modified_time",
)


def inventory_item_row(record: Record, options: ViewOptions) -> Record:
    return _pick(record, _INVENTORY_ITEM_ROW)


def inventory_item(record: Record, options: ViewOptions) -> Record:
    return copy.deepcopy(record)


# -- contacts --------------------------------------------------------------------------

_CONTACT_ROW = (
    "contact_id",
    "contact_name",
    "company_name",
    "contact_type",
    "customer_sub_type",
    "status",
    "payment_terms",
    "payment_terms_label",
    "currency_id",
    "currency_code",
    "outstanding_receivable_amount",
    "outstanding_payable_amount",
    "unused_credits_receivable_amount",
    "created_time",
    "last_modified_time",
)


PERSON_FIELDS = ("first_name", "last_name", "email", "phone", "mobile")


def primary_person_fields(record: Record) -> Record:
    """A contact's top-level person fields: its primary contact person's, ``""`` without one."""
    persons = record.get("contact_persons") or []
    primary: Record = next((p for p in persons if p.get("is_primary_contact")), {})
    return {field: primary.get(field, "") for field in PERSON_FIELDS}


def contact_row(record: Record, options: ViewOptions) -> Record:
    row = _pick(record, _CONTACT_ROW)
    row.update(primary_person_fields(record))
    return row


def contact(record: Record, options: ViewOptions) -> Record:
    body = copy.deepcopy(record)
    body.update(primary_person_fields(record))
    return body


# -- invoices, bills, credit notes -----------------------------------------------------

_INVOICE_ROW = (
    "invoice_id",
    "customer_name",
    "customer_id",
    "status",
    "invoice_number",
    "reference_number",
    "date",
    "due_date",
    "currency_id",
    "currency_code",
    "exchange_rate",
    "total",
    "balance",
    "created_time",
    "last_modified_time",
    "is_emailed",
    "is_viewed_by_client",
    "has_attachment",
    "reminders_sent",
    "location_id",
    "location_name",
    "salesperson_id",
    "salesperson_name",
    "shipping_charge",
    "adjustment",
    "write_off_amount",
    "custom_fields",
)


def invoice(record: Record, options: ViewOptions) -> Record:
    """The invoice GET: every field, and a signed ``invoice_url`` that changes on every call
    and ends with a space, as recorded (reference section 10)."""
    body = copy.deepcopy(record)
    body["invoice_url"] = (
        f"https://books.zoho.com/SecurePayment?CInvoiceID={record['invoice_id']}&sig={options.nonce:08d} "
    )
    return body


def invoice_row(record: Record, options: ViewOptions) -> Record:
    row = _pick(record, _INVOICE_ROW)
    row["due_days"] = _due_days(record, options.today)
    return row


_BILL_ROW = (
    "bill_id",
    "vendor_id",
    "vendor_name",
    "status",
    "bill_number",
    "reference_number",
    "date",
    "due_date",
    "currency_id",
    "currency_code",
    "price_precision",
    "exchange_rate",
    "total",
    "balance",
    "location_id",
    "location_name",
    "created_time",
    "last_modified_time",
)


def bill_row(record: Record, options: ViewOptions) -> Record:
    row = _pick(record, _BILL_ROW)
    row["due_days"] = _due_days(record, options.today)
    row["has_attachment"] = False
    return row


_CREDITNOTE_ROW = (
    "creditnote_id",
    "creditnote_number",
    "status",
    "reference_number",
    "date",
    "total",
    "balance",
    "location_id",
    "location_name",
    "customer_id",
    "customer_name",
    "currency_id",
    "currency_code",
    "created_time",
    "last_modified_time",
    "is_emailed",
)


def creditnote_row(record: Record, options: ViewOptions) -> Record:
    return _pick(record, _CREDITNOTE_ROW)


def creditnote(record: Record, options: ViewOptions) -> Record:
    body = {k: copy.deepcopy(v) for k, v in record.items() if k != "last_modified_time"}
    body["updated_time"] = record["last_modified_time"]
    return body


def whole(record: Record, options: ViewOptions) -> Record:
    """The record as stored (invoice, bill and price-list GETs carry every field)."""
    return copy.deepcopy(record)


def webhook_record(module: str, record: Record) -> Record:
    """The record a webhook about a ``module`` record carries: the module's GET shape.

    ``items`` and ``stock`` send the Inventory item (with ``locations[]``, the stock totals and
    ``last_modified_time``); credit notes send their GET shape, so ``updated_time``.
    """
    if module == "creditnotes":
        return creditnote(record, ViewOptions(today=date.min))
    if module == "contacts":
        return contact(record, ViewOptions(today=date.min))
    if module == "invoices":
        return invoice(record, ViewOptions(today=date.min))
    return copy.deepcopy(record)
