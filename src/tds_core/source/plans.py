"""How each entity is pulled: which list, with which parameters, and whether list rows suffice.

A list row is a subset of the record. Whether a pull can stage list rows as they are, or must
fetch each new or newer record by id (``detail``), follows from which ERP columns
(``domain/entities.py``) the list rows lack — read from the list operations of Zoho's OpenAPI
documents (``zoho-openapi/books/*.yml``) and the recordings of ``zoho-books-reference.md``
section 10 ("list rows never hold ``line_items`` or ``contact_persons``"):

============ ============================================================= ==========
entity       mapped columns its list rows lack                             detail GET
============ ============================================================= ==========
items        none the ERP needs from a GET (see below)                     no
contacts     ``credit_limit``, ``pricebook_id`` (and, in the document,      yes
             ``customer_sub_type``; recordings carry it)
invoices     ``sub_total``, ``tax_total``, ``line_items``                  yes
bills        ``sub_total``, ``tax_total``, ``line_items``                  yes
creditnotes  ``line_items``                                                yes
stock        none: Inventory item rows carry ``locations[]``               no
pricebooks   none: price book rows carry ``pricebook_items[]``             no
============ ============================================================= ==========

Contacts carry e-mail, phone, names, payment terms, currency and the receivable in their list
rows, but not the credit limit or the price book: a list row alone would leave those two
columns stale after an edit, so new and changed contacts are still fetched by id. Books item
rows carry no version (Zoho cannot say which changed), so a GET per item would cost the whole
catalogue on every scan; the document's row lacks ``purchase_rate``, ``item_type`` and
``reorder_level`` (the simulator's and recorded rows carry them), and the apply path keeps
columns a row does not carry.

Every list asks for every record: ``filter_by=Status.All`` wherever the module's document has
a status filter (contacts and items hide inactive records by default), and price books
``SalesOrPurchaseType.All``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tds_core.source.zoho.modules import (
    BILLS,
    BOOKS_ITEMS,
    CONTACTS,
    CREDIT_NOTES,
    INVENTORY_ITEMS,
    INVOICES,
    PRICEBOOKS,
    ZohoModule,
)

ALL_STATUSES = {"filter_by": "Status.All"}


@dataclass(frozen=True)
class PullPlan:
    entity: str
    module: ZohoModule
    strategy: str  # modified_filter | sorted_watermark | full_scan
    params: dict[str, str] = field(default_factory=dict)
    # List rows lack mapped columns (``list_lacks``): fetch each new or newer record by id, and
    # never stage a list row over a fuller record.
    detail: bool = False
    list_lacks: tuple[str, ...] = ()
    """The mapped columns (or line lists) the entity's list rows do not carry."""


def plan_for(entity: str, *, use_inventory: bool = False) -> PullPlan:
    """How ``entity`` is pulled (see the table in the module docstring)."""
    plans = {
        "invoices": PullPlan(
            "invoices",
            INVOICES,
            "modified_filter",
            dict(ALL_STATUSES),
            detail=True,
            list_lacks=("sub_total", "tax_total", "line_items"),
        ),
        "bills": PullPlan(
            "bills",
            BILLS,
            "modified_filter",
            dict(ALL_STATUSES),
            detail=True,
            list_lacks=("sub_total", "tax_total", "line_items"),
        ),
        "contacts": PullPlan(
            "contacts",
            CONTACTS,
            "sorted_watermark",
            {**ALL_STATUSES, "sort_column": "last_modified_time", "sort_order": "D"},
            detail=True,
            list_lacks=("credit_limit", "pricebook_id"),
        ),
        "items": (
            PullPlan("items", INVENTORY_ITEMS, "modified_filter", dict(ALL_STATUSES))
            if use_inventory
            else PullPlan("items", BOOKS_ITEMS, "full_scan", dict(ALL_STATUSES))
        ),
        "creditnotes": PullPlan(
            "creditnotes",
            CREDIT_NOTES,
            "full_scan",
            dict(ALL_STATUSES),
            detail=True,
            list_lacks=("line_items",),
        ),
        # Status.All: Zoho lists active items only by default, and an inactive item still has
        # stock (reconciliation would otherwise tombstone its locations as "extra").
        "stock": PullPlan("stock", INVENTORY_ITEMS, "modified_filter", dict(ALL_STATUSES)),
        "pricebooks": PullPlan(
            "pricebooks", PRICEBOOKS, "full_scan", {"filter_by": "SalesOrPurchaseType.All"}
        ),
    }
    if entity not in plans:
        raise ValueError(f"unknown entity {entity!r}: expected one of {', '.join(plans)}")
    return plans[entity]
