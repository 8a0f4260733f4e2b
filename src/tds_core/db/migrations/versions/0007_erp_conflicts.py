"""ERP-side conflicts: row hashes TDS recorded, parked conflicts, per-entity policies.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

- Every ERP table TDS writes (parents and ``stock_levels``) gets ``tds_written``: the row's
  business columns as TDS last wrote them, a JSON object set by the upsert itself. A row whose
  columns no longer contain it (``to_jsonb(row) @> tds_written`` is false) was changed outside
  TDS. Existing rows are backfilled with what they hold now, so detection starts at once.
- ``tds_conflicts``: one row per detected conflict (resolved automatically by ``source_wins``
  and ``preserve_columns``), or per held instance (``hold``, open until an operator resolves it).
- The queue state ``held`` (and the sync-log outcome of the same name) for events parked in an
  open conflict.
- ``tds_audit_trail.local_changes``: the columns changed outside TDS that a write met.
- Conflicts are counted through ``tds_v_metric_events`` (stream ``conflict``).
- Configuration: ``conflicts.policies`` and ``alerts.conflicts_open``.

``ALTER TYPE ... ADD VALUE`` cannot be used in the transaction that adds it, so nothing below
names ``'held'`` as a queue state. Downgrading puts held events back to ``pending`` (the value
itself stays in the enum: PostgreSQL cannot drop an enum value; 0001's downgrade drops the type).
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Frozen copies of the entity specs' business columns at this revision (domain/entities.py).
BUSINESS_COLUMNS: dict[str, tuple[str, ...]] = {
    "products": (
        "name", "sku", "status", "description", "rate", "purchase_rate", "unit", "product_type",
        "item_type", "tax_id", "tax_name", "reorder_level", "stock_on_hand",
    ),
    "customers": (
        "contact_name", "company_name", "contact_type", "customer_sub_type", "status", "email", "phone",
        "currency_code", "payment_terms", "payment_terms_label", "credit_limit",
        "outstanding_receivable_amount", "pricebook_id",
    ),
    "invoices": (
        "invoice_number", "reference_number", "date", "due_date", "status", "customer_id", "customer_name",
        "currency_code", "exchange_rate", "sub_total", "tax_total", "total", "balance",
    ),
    "bills": (
        "bill_number", "reference_number", "date", "due_date", "status", "vendor_id", "vendor_name",
        "currency_code", "exchange_rate", "sub_total", "tax_total", "total", "balance",
    ),
    "credit_notes": (
        "creditnote_number", "reference_number", "date", "status", "customer_id", "customer_name",
        "currency_code", "total", "balance",
    ),
    "stock_levels": ("location_name", "stock_on_hand", "available_stock", "actual_available_stock"),
    "price_lists": (
        "name", "description", "status", "currency_code", "pricebook_type", "sales_or_purchase_type",
        "is_default", "is_increase", "percentage",
    ),
}  # fmt: skip

ENTITY_CHECK = "('items','contacts','invoices','bills','creditnotes','stock','pricebooks')"
OUTCOMES = (
    "'completed', 'skipped_stale', 'skipped_unchanged', 'retry', 'dead', 'replayed', 'discarded', "
    "'lease_lost', 'rescued'"
)

METRIC_EVENTS_0004 = """
    -- an outcome logged for a queue event: completed, skipped_*, retry, dead, replayed, discarded
    SELECT 'sync'::text AS stream, entity, outcome AS kind, ''::text AS origin, created_at AS at
    FROM tds_sync_logs
    UNION ALL
    -- an event received into the inbox by any source, by status (queued, rejected, hint)
    SELECT 'inbox', entity, CASE WHEN status = 'fetched' THEN 'hint' ELSE status END, source, received_at
    FROM tds_inbox_events
    UNION ALL
    -- an event dead-lettered (by a worker, or by the lease rescuer on a last attempt)
    SELECT 'dead_letter', entity, error_class, '', created_at
    FROM tds_dead_letter_queue"""


def _written(table: str) -> str:
    pairs = ", ".join(f"'{c}', {c}" for c in BUSINESS_COLUMNS[table])
    return f"jsonb_build_object({pairs})"


ERP_COLUMNS = "\n".join(
    f"ALTER TABLE {table} ADD COLUMN tds_written jsonb;\n"
    f"COMMENT ON COLUMN {table}.tds_written IS 'The business columns as TDS last wrote them "
    f"(NULL: not recorded); a row that no longer contains them was changed outside TDS';\n"
    f"UPDATE {table} SET tds_written = {_written(table)};"
    for table in BUSINESS_COLUMNS
)

UPGRADE = f"""
ALTER TYPE tds_queue_state ADD VALUE IF NOT EXISTS 'held';

ALTER TABLE tds_sync_logs DROP CONSTRAINT tds_sync_logs_outcome_check;
ALTER TABLE tds_sync_logs ADD CONSTRAINT tds_sync_logs_outcome_check CHECK (outcome IN ({OUTCOMES}, 'held'));

-- ---------------------------------------------------------------- what TDS last wrote
{ERP_COLUMNS}

-- The columns changed outside TDS that a write met (source_wins: overwritten; preserve_columns: kept).
ALTER TABLE tds_audit_trail ADD COLUMN local_changes text[];

-- ---------------------------------------------------------------- conflicts
CREATE TABLE tds_conflicts (
    id              bigserial PRIMARY KEY,
    entity          text NOT NULL CHECK (entity IN {ENTITY_CHECK}),
    zoho_id         text NOT NULL,
    erp_table       text NOT NULL,
    row_key         text NOT NULL,
    policy          text NOT NULL CHECK (policy IN ('source_wins', 'preserve_columns', 'hold')),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolution      text CHECK (resolution IN ('source_wins', 'preserve_columns', 'apply_source', 'keep_local')),
    -- the event (for a held instance: the newest held event) and every queue row held in it
    queue_id        bigint NOT NULL,
    inbox_event_id  bigint,
    held_queue_ids  bigint[] NOT NULL DEFAULT '{{}}',
    operation       tds_operation NOT NULL,
    source_version  timestamptz NOT NULL,
    content_hash    text NOT NULL,
    payload         jsonb NOT NULL,
    source_row      jsonb,            -- the business columns the event writes (NULL: a delete)
    local_row       jsonb,            -- the ERP row as the worker found it
    written         jsonb,            -- the business columns as TDS last wrote them
    changed_columns text[] NOT NULL DEFAULT '{{}}',
    detected_at     timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    resolved_by     text,
    note            text,
    CHECK ((status = 'open') = (resolution IS NULL)),
    CHECK (status = 'resolved' OR policy = 'hold')
);
-- One open conflict per instance: later events for it join it (and the worker finds it by this index).
CREATE UNIQUE INDEX tds_conflicts_open_instance ON tds_conflicts (entity, zoho_id) WHERE status = 'open';
CREATE INDEX tds_conflicts_detected_at ON tds_conflicts (detected_at);
CREATE INDEX tds_conflicts_instance ON tds_conflicts (entity, zoho_id, id);

-- ---------------------------------------------------------------- counted
CREATE OR REPLACE VIEW tds_v_metric_events AS{METRIC_EVENTS_0004}
    UNION ALL
    -- an ERP conflict detected, by policy (a held instance counts once, however many events it holds)
    SELECT 'conflict', entity, policy, '', detected_at
    FROM tds_conflicts;

-- ---------------------------------------------------------------- configuration
INSERT INTO tds_configuration (key, version, value, description) VALUES
    ('conflicts.policies', 1, '{{}}',
     'Per entity type, what TDS does with an ERP row changed outside TDS: {{"invoices": {{"policy": "hold"}}, '
     '"items": {{"policy": "preserve_columns", "columns": ["reorder_level"]}}}}; others: source_wins'),
    ('alerts.conflicts_open', 1, '1', 'Alert when at least this many ERP conflicts are held for an operator');
"""

DOWNGRADE = f"""
DELETE FROM tds_configuration WHERE key IN ('conflicts.policies', 'alerts.conflicts_open');
CREATE OR REPLACE VIEW tds_v_metric_events AS{METRIC_EVENTS_0004};
UPDATE tds_sync_queue SET status = 'pending', finished_at = NULL, next_attempt_at = now(), updated_at = now()
WHERE status::text = 'held';
DELETE FROM tds_sync_logs WHERE outcome = 'held';
ALTER TABLE tds_sync_logs DROP CONSTRAINT tds_sync_logs_outcome_check;
ALTER TABLE tds_sync_logs ADD CONSTRAINT tds_sync_logs_outcome_check CHECK (outcome IN ({OUTCOMES}));
DROP TABLE IF EXISTS tds_conflicts;
ALTER TABLE tds_audit_trail DROP COLUMN IF EXISTS local_changes;
{chr(10).join(f"ALTER TABLE {table} DROP COLUMN IF EXISTS tds_written;" for table in BUSINESS_COLUMNS)}
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
