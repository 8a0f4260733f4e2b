"""The seven Zoho entity types TDS syncs and how each maps onto its ERP table(s).

One :class:`EntitySpec` per URL slug. The ERP schema (migration), staging validation and the
worker's upserts are all driven by these specs, so a field is named in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """How a source field is converted for its typed ERP column."""

    TEXT = "text"
    NUMERIC = "numeric"
    INTEGER = "integer"
    DATE = "date"
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class Column:
    name: str
    source: str
    kind: Kind = Kind.TEXT

    @property
    def sql_type(self) -> str:
        return {
            Kind.TEXT: "text",
            Kind.NUMERIC: "numeric",
            Kind.INTEGER: "integer",
            Kind.DATE: "date",
            Kind.BOOLEAN: "boolean",
        }[self.kind]


@dataclass(frozen=True)
class LineSpec:
    """A child table replaced together with its parent."""

    table: str
    parent_column: str
    source_list: str
    key_column: str
    key_source: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class EntitySpec:
    slug: str
    module_key: str
    id_field: str
    table: str
    columns: tuple[Column, ...]
    lines: LineSpec | None = None
    alternate_keys: tuple[str, ...] = field(default=())
    person_columns: tuple[str, ...] = field(default=())
    """Columns that, empty at the top level, come from the primary contact person (reference
    section 10: ``contact_persons[]`` on a GET, ``contact_persons_details[]`` in a webhook)."""
    volatile_fields: frozenset[str] = field(default=frozenset())
    """Top-level fields left out of the content hash: they change on every call without the
    record changing (an invoice's signed ``invoice_url``)."""

    @property
    def is_stock(self) -> bool:
        return self.slug == "stock"


def _c(name: str, kind: Kind = Kind.TEXT, source: str | None = None) -> Column:
    return Column(name=name, source=source or name, kind=kind)


N, INT, D, B = Kind.NUMERIC, Kind.INTEGER, Kind.DATE, Kind.BOOLEAN

ITEM_TOMBSTONE = "*"
"""``stock_levels.location_id`` of the row that marks a whole item deleted: a delete of the item
leaves it (with the delete's version) so no late stock update for any location resurrects the
item (processor/apply.py)."""

ITEMS = EntitySpec(
    slug="items",
    module_key="item",
    id_field="item_id",
    table="products",
    columns=(
        _c("name"),
        _c("sku"),
        _c("status"),
        _c("description"),
        _c("rate", N),
        _c("purchase_rate", N),
        _c("unit"),
        _c("product_type"),
        _c("item_type"),
        _c("tax_id"),
        _c("tax_name"),
        _c("reorder_level", N),
        _c("stock_on_hand", N),
    ),
)

CONTACTS = EntitySpec(
    slug="contacts",
    module_key="contact",
    id_field="contact_id",
    table="customers",
    columns=(
        _c("contact_name"),
        _c("company_name"),
        _c("contact_type"),
        _c("customer_sub_type"),
        _c("status"),
        _c("email"),
        _c("phone"),
        _c("currency_code"),
        _c("payment_terms", INT),
        _c("payment_terms_label"),
        _c("credit_limit", N),
        _c("outstanding_receivable_amount", N),
        _c("pricebook_id"),
        _c("mobile"),
        _c("first_name"),
        _c("last_name"),
    ),
    person_columns=("email", "phone", "mobile", "first_name", "last_name"),
)

_DOC_LINE_COLUMNS = (
    _c("item_id"),
    _c("name"),
    _c("description"),
    _c("item_order", INT),
    _c("rate", N),
    _c("quantity", N),
    _c("unit"),
    _c("tax_id"),
    _c("item_total", N),
)

INVOICES = EntitySpec(
    slug="invoices",
    module_key="invoice",
    id_field="invoice_id",
    table="invoices",
    columns=(
        _c("invoice_number"),
        _c("reference_number"),
        _c("date", D),
        _c("due_date", D),
        _c("status"),
        _c("customer_id"),
        _c("customer_name"),
        _c("currency_code"),
        _c("exchange_rate", N),
        _c("sub_total", N),
        _c("tax_total", N),
        _c("total", N),
        _c("balance", N),
    ),
    lines=LineSpec(
        table="invoice_line_items",
        parent_column="invoice_zoho_id",
        source_list="line_items",
        key_column="line_item_id",
        key_source="line_item_id",
        columns=_DOC_LINE_COLUMNS,
    ),
    volatile_fields=frozenset({"invoice_url"}),
)

BILLS = EntitySpec(
    slug="bills",
    module_key="bill",
    id_field="bill_id",
    table="bills",
    columns=(
        _c("bill_number"),
        _c("reference_number"),
        _c("date", D),
        _c("due_date", D),
        _c("status"),
        _c("vendor_id"),
        _c("vendor_name"),
        _c("currency_code"),
        _c("exchange_rate", N),
        _c("sub_total", N),
        _c("tax_total", N),
        _c("total", N),
        _c("balance", N),
    ),
    lines=LineSpec(
        table="bill_line_items",
        parent_column="bill_zoho_id",
        source_list="line_items",
        key_column="line_item_id",
        key_source="line_item_id",
        columns=(*_DOC_LINE_COLUMNS, _c("account_id")),
    ),
)

CREDITNOTES = EntitySpec(
    slug="creditnotes",
    module_key="creditnote",
    id_field="creditnote_id",
    table="credit_notes",
    columns=(
        _c("creditnote_number"),
        _c("reference_number"),
        _c("date", D),
        _c("status"),
        _c("customer_id"),
        _c("customer_name"),
        _c("currency_code"),
        _c("total", N),
        _c("balance", N),
    ),
    lines=LineSpec(
        table="credit_note_line_items",
        parent_column="credit_note_zoho_id",
        source_list="line_items",
        key_column="line_item_id",
        key_source="line_item_id",
        columns=(*_DOC_LINE_COLUMNS, _c("account_id")),
    ),
)

PRICEBOOKS = EntitySpec(
    slug="pricebooks",
    module_key="pricebook",
    id_field="pricebook_id",
    table="price_lists",
    columns=(
        _c("name"),
        _c("description"),
        _c("status"),
        _c("currency_code"),
        _c("pricebook_type"),
        _c("sales_or_purchase_type"),
        _c("is_default", B),
        _c("is_increase", B),
        _c("percentage", N),
    ),
    lines=LineSpec(
        table="price_list_items",
        parent_column="price_list_zoho_id",
        source_list="pricebook_items",
        key_column="item_id",
        key_source="item_id",
        columns=(_c("pricebook_item_id"), _c("pricebook_rate", N), _c("pricing_scheme")),
    ),
)

# A stock event carries an item record; each entry of locations[] (or the older warehouses[])
# becomes one stock_levels row keyed by (item_zoho_id, location_id), with absolute quantities.
STOCK = EntitySpec(
    slug="stock",
    module_key="item",
    id_field="item_id",
    table="stock_levels",
    columns=(
        _c("location_name"),
        _c("stock_on_hand", N),
        _c("available_stock", N),
        _c("actual_available_stock", N),
    ),
    alternate_keys=("stock",),
)

ENTITIES: dict[str, EntitySpec] = {
    spec.slug: spec for spec in (ITEMS, CONTACTS, INVOICES, BILLS, CREDITNOTES, STOCK, PRICEBOOKS)
}

ENTITY_SLUGS: tuple[str, ...] = tuple(ENTITIES)

# Stock location entries: (current name, older warehouse name) for each field.
STOCK_LOCATION_FIELDS: dict[str, tuple[str, str]] = {
    "location_id": ("location_id", "warehouse_id"),
    "location_name": ("location_name", "warehouse_name"),
    "stock_on_hand": ("location_stock_on_hand", "warehouse_stock_on_hand"),
    "available_stock": ("location_available_stock", "warehouse_available_stock"),
    "actual_available_stock": ("location_actual_available_stock", "warehouse_actual_available_stock"),
}
