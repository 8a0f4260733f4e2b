"""The endpoints the simulator serves, with what the reference documents for each list.

``zoho-books-reference.md`` section 3 (pagination, sorting, filters) and section 4 (envelope
keys): the documented ``sort_column`` values per endpoint, where the ``last_modified_time``
filter exists and whether it means "after" (Books invoices, Inventory items) or "at or
after" (Books bills), and the ``filter_by`` values. Books items list active items unless
``filter_by`` says otherwise; the simulator gives Inventory items the same default
(unconfirmed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tds_core.simulator import views
from tds_core.simulator.records import Record

Predicate = Callable[[Record], bool]


def _always(record: Record) -> bool:
    return True


def _status_in(*statuses: str) -> Predicate:
    def matches(record: Record) -> bool:
        return record.get("status") in statuses

    return matches


def _purpose(kind: str) -> Predicate:
    def matches(record: Record) -> bool:
        return record.get("sales_or_purchase_type") == kind

    return matches


_ITEM_STATUS: Mapping[str, Predicate] = {
    "Status.All": _always,
    "Status.Active": _status_in("active"),
    "Status.Inactive": _status_in("inactive"),
}


@dataclass(frozen=True)
class Endpoint:
    api: Literal["books", "inventory"]
    path: str
    module: str
    record_key: str
    list_key: str
    noun: str
    report_name: str
    row: views.View
    detail: views.View
    sort_columns: tuple[str, ...]
    default_sort: tuple[str, str]
    filter_by: Mapping[str, Predicate]
    default_filter: str
    modified_filter: Literal["after", "at_or_after"] | None = None
    equal_params: tuple[str, ...] = ()
    status_aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    page_context_extra: Mapping[str, Any] = field(default_factory=dict)
    scope: str = ""
    """The OAuth scope a call needs (the ``security`` block of the module's OpenAPI document)."""
    hides_inactive: bool = False
    """With ``SimulatorConfig.hide_inactive_by_default``, a list without ``filter_by`` shows
    only active records (``Status.Active``)."""
    created_message: str = ""
    deleted_message: str = ""

    @property
    def not_found(self) -> str:
        return f"{self.noun} does not exist."


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        api="books",
        path="items",
        module="items",
        record_key="item",
        list_key="items",
        noun="Item",
        report_name="Items",
        row=views.books_item_row,
        detail=views.books_item,
        sort_columns=("name", "rate", "tax_name"),
        default_sort=("name", "A"),
        filter_by=_ITEM_STATUS,
        default_filter="Status.All",
        scope="ZohoBooks.settings.READ",
        hides_inactive=True,
        created_message="The item has been added.",
        deleted_message="The item has been deleted.",
    ),
    Endpoint(
        api="books",
        path="contacts",
        module="contacts",
        record_key="contact",
        list_key="contacts",
        noun="Contact",
        report_name="Contacts",
        row=views.contact_row,
        detail=views.contact,
        sort_columns=(
            "contact_name",
            "first_name",
            "last_name",
            "email",
            "outstanding_receivable_amount",
            "created_time",
            "last_modified_time",
        ),
        default_sort=("contact_name", "A"),
        filter_by={
            "Status.All": _always,
            "Status.Active": _status_in("active"),
            "Status.Inactive": _status_in("inactive"),
        },
        default_filter="Status.All",
        equal_params=("contact_type",),
        scope="ZohoBooks.contacts.READ",
        hides_inactive=True,
        created_message="The contact has been added.",
        deleted_message="The customer has been deleted.",
    ),
    Endpoint(
        api="books",
        path="invoices",
        module="invoices",
        record_key="invoice",
        list_key="invoices",
        noun="Invoice",
        report_name="Invoices",
        row=views.invoice_row,
        detail=views.invoice,
        sort_columns=(
            "customer_name",
            "invoice_number",
            "date",
            "due_date",
            "total",
            "balance",
            "created_time",
        ),
        default_sort=("created_time", "D"),
        filter_by={
            "Status.All": _always,
            "Status.Sent": _status_in("sent"),
            "Status.Draft": _status_in("draft"),
            "Status.OverDue": _status_in("overdue"),
            "Status.Paid": _status_in("paid"),
            "Status.Void": _status_in("void"),
            "Status.Unpaid": _status_in("sent", "overdue", "partially_paid"),
            "Status.PartiallyPaid": _status_in("partially_paid"),
            "Status.Viewed": _status_in("viewed"),
        },
        default_filter="Status.All",
        modified_filter="after",
        equal_params=("status", "customer_id"),
        status_aliases={"unpaid": ("sent", "overdue", "partially_paid")},
        page_context_extra={"response_option": 0},
        scope="ZohoBooks.invoices.READ",
        created_message="The invoice has been created.",
        deleted_message="The invoice has been deleted.",
    ),
    Endpoint(
        api="books",
        path="bills",
        module="bills",
        record_key="bill",
        list_key="bills",
        noun="Bill",
        report_name="Bills",
        row=views.bill_row,
        detail=views.whole,
        sort_columns=("vendor_name", "bill_number", "date", "due_date", "total", "balance", "created_time"),
        default_sort=("created_time", "D"),
        filter_by={
            "Status.All": _always,
            "Status.PartiallyPaid": _status_in("partially_paid"),
            "Status.Paid": _status_in("paid"),
            "Status.Overdue": _status_in("overdue"),
            "Status.Void": _status_in("void"),
            "Status.Open": _status_in("open"),
        },
        default_filter="Status.All",
        modified_filter="at_or_after",
        equal_params=("status", "vendor_id"),
        scope="ZohoBooks.bills.READ",
        created_message="The bill has been created.",
        deleted_message="The bill has been deleted.",
    ),
    Endpoint(
        api="books",
        path="creditnotes",
        module="creditnotes",
        record_key="creditnote",
        list_key="creditnotes",
        noun="Credit Note",
        report_name="Credit Notes",
        row=views.creditnote_row,
        detail=views.creditnote,
        sort_columns=("customer_name", "creditnote_number", "balance", "total", "date", "created_time"),
        default_sort=("created_time", "D"),
        filter_by={
            "Status.All": _always,
            "Status.Open": _status_in("open"),
            "Status.Draft": _status_in("draft"),
            "Status.Closed": _status_in("closed"),
            "Status.Void": _status_in("void"),
        },
        default_filter="Status.All",
        equal_params=("status", "customer_id"),
        scope="ZohoBooks.creditnotes.READ",
        created_message="The credit note has been created.",
        deleted_message="The credit note has been deleted.",
    ),
    Endpoint(
        api="inventory",
        path="items",
        module="items",
        record_key="item",
        list_key="items",
        noun="Item",
        report_name="Items",
        row=views.inventory_item_row,
        detail=views.inventory_item,
        sort_columns=(
            "name",
            "sku",
            "rate",
            "purchase_rate",
            "created_time",
            "last_modified_time",
            "reorder_level",
            "stock_on_hand",
        ),
        default_sort=("name", "A"),
        filter_by=_ITEM_STATUS,
        default_filter="Status.Active",
        modified_filter="after",
        equal_params=("status",),
        scope="ZohoInventory.items.READ",
        created_message="The item has been added.",
        deleted_message="The item has been deleted.",
    ),
    Endpoint(
        api="inventory",
        path="pricebooks",
        module="pricebooks",
        record_key="pricebook",
        list_key="pricebooks",
        noun="Price Book",
        report_name="Price Lists",
        row=views.whole,
        detail=views.whole,
        sort_columns=(),
        default_sort=("name", "A"),
        filter_by={
            "SalesOrPurchaseType.All": _always,
            "SalesOrPurchaseType.Sales": _purpose("sales"),
            "SalesOrPurchaseType.Purchases": _purpose("purchases"),
        },
        default_filter="SalesOrPurchaseType.All",
        scope="ZohoInventory.settings.READ",
        created_message="The price list has been created.",
        deleted_message="The price list has been deleted.",
    ),
)

BY_PATH: dict[tuple[str, str], Endpoint] = {(e.api, e.path): e for e in ENDPOINTS}
API_PREFIXES: dict[str, str] = {"books": "/books/v3", "inventory": "/inventory/v1"}
