"""ERP conflicts of line items: the digest of the lines TDS last wrote, on their parent.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Every parent table with line items (``invoices``, ``bills``, ``credit_notes``, ``price_lists``)
gets ``tds_lines_written``: the md5 of its lines' keys and business columns (a row's text; no
line column is a date), in key order, as TDS last wrote them (set by the upsert; ``db/erp.py``
``lines_digest``). A parent whose lines no longer give that digest had a line changed, added or
deleted outside TDS (the pseudo-column ``line_items`` of a conflict). Existing parents are
backfilled with the digest of the lines they hold now, so detection starts at once; NULL (never
recorded) is not a conflict.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Frozen copies of the entity specs' line tables at this revision (domain/entities.py):
# parent table -> (line table, parent column, key column, business columns).
_DOC_LINE = (
    "item_id",
    "name",
    "description",
    "item_order",
    "rate",
    "quantity",
    "unit",
    "tax_id",
    "item_total",
)
LINES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "invoices": ("invoice_line_items", "invoice_zoho_id", "line_item_id", _DOC_LINE),
    "bills": ("bill_line_items", "bill_zoho_id", "line_item_id", (*_DOC_LINE, "account_id")),
    "credit_notes": ("credit_note_line_items", "credit_note_zoho_id", "line_item_id", (*_DOC_LINE, "account_id")),
    "price_lists": (
        "price_list_items", "price_list_zoho_id", "item_id", ("pricebook_item_id", "pricebook_rate", "pricing_scheme"),
    ),
}  # fmt: skip


def _digest(parent: str) -> str:
    """The digest of the lines of ``parent`` now: a frozen copy of db/erp.py ``lines_digest``."""
    table, parent_column, key, columns = LINES[parent]
    values = ", ".join(f"l.{c}" for c in (key, *columns))
    return (
        f"(SELECT md5(coalesce(string_agg(ROW({values})::text, ',' "
        f"ORDER BY l.{key} COLLATE \"C\"), '')) FROM {table} l WHERE l.{parent_column} = t.zoho_id)"
    )


UPGRADE = "\n".join(
    f"ALTER TABLE {parent} ADD COLUMN tds_lines_written text;\n"
    f"COMMENT ON COLUMN {parent}.tds_lines_written IS 'Digest of the line items as TDS last wrote them "
    f"(NULL: not recorded); lines that no longer give it were changed outside TDS';\n"
    f"UPDATE {parent} t SET tds_lines_written = {_digest(parent)};"
    for parent in LINES
)

DOWNGRADE = "\n".join(f"ALTER TABLE {parent} DROP COLUMN IF EXISTS tds_lines_written;" for parent in LINES)


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
