"""The Zoho modules TDS reads, with their paths, envelope keys and the OAuth scope each needs.

A single record comes back under the singular key (``{"code": 0, "invoice": {...}}``), a list
under the plural key plus ``page_context`` (``zoho-books-reference.md`` section 4).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ZohoModule:
    name: str
    api: str  # "books" or "inventory"
    path: str
    record_key: str
    list_key: str
    id_field: str
    scope: str
    version_fields: tuple[str, ...] = ("last_modified_time",)

    def __str__(self) -> str:
        return self.name


BOOKS_ITEMS = ZohoModule("items", "books", "/items", "item", "items", "item_id", "ZohoBooks.settings.READ")
CONTACTS = ZohoModule(
    "contacts", "books", "/contacts", "contact", "contacts", "contact_id", "ZohoBooks.contacts.READ"
)
INVOICES = ZohoModule(
    "invoices", "books", "/invoices", "invoice", "invoices", "invoice_id", "ZohoBooks.invoices.READ"
)
BILLS = ZohoModule("bills", "books", "/bills", "bill", "bills", "bill_id", "ZohoBooks.bills.READ")
CREDIT_NOTES = ZohoModule(
    "creditnotes",
    "books",
    "/creditnotes",
    "creditnote",
    "creditnotes",
    "creditnote_id",
    "ZohoBooks.creditnotes.READ",
    # GET /creditnotes/{id} carries updated_time; the list rows carry last_modified_time
    version_fields=("last_modified_time", "updated_time"),
)
INVENTORY_ITEMS = ZohoModule(
    "inventory_items", "inventory", "/items", "item", "items", "item_id", "ZohoInventory.items.READ"
)
PRICEBOOKS = ZohoModule(
    "pricebooks",
    "inventory",
    "/pricebooks",
    "pricebook",
    "pricebooks",
    "pricebook_id",
    "ZohoInventory.settings.READ",
)

MODULES: dict[str, ZohoModule] = {
    m.name: m for m in (BOOKS_ITEMS, CONTACTS, INVOICES, BILLS, CREDIT_NOTES, INVENTORY_ITEMS, PRICEBOOKS)
}


def module_named(module: ZohoModule | str) -> ZohoModule:
    if isinstance(module, ZohoModule):
        return module
    try:
        return MODULES[module]
    except KeyError:
        known = ", ".join(MODULES)
        raise ValueError(f"unknown Zoho module {module!r} (one of: {known})") from None
