"""Initial schema: the tds_ tables, views, functions, and the ERP tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ENTITY_CHECK = "('items','contacts','invoices','bills','creditnotes','stock','pricebooks')"

UPGRADE = f"""
-- ---------------------------------------------------------------- states
CREATE TYPE tds_queue_state AS ENUM
  ('pending', 'processing', 'completed', 'skipped_stale', 'skipped_unchanged', 'dead');
CREATE TYPE tds_operation AS ENUM ('upsert', 'created', 'updated', 'deleted');

-- ---------------------------------------------------------------- inbox: raw and durable
CREATE TABLE tds_inbox_events (
    id                bigserial PRIMARY KEY,
    entity            text NOT NULL,
    source            text NOT NULL DEFAULT 'webhook'
                      CHECK (source IN ('webhook', 'pull', 'reconcile', 'replay', 'manual')),
    status            text NOT NULL CHECK (status IN ('queued', 'rejected', 'hint', 'fetched')),
    operation         tds_operation,
    zoho_id           text,
    idempotency_key   text,
    body_hash         text,
    content_type      text,
    headers           jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    body              bytea NOT NULL,
    rejection_reasons jsonb,
    correlation_id    text,
    received_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tds_inbox_events_idempotency_key ON tds_inbox_events (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX tds_inbox_events_received_at ON tds_inbox_events (received_at);
CREATE INDEX tds_inbox_events_entity_zoho_id ON tds_inbox_events (entity, zoho_id);
CREATE INDEX tds_inbox_events_rejected ON tds_inbox_events (received_at) WHERE status = 'rejected';
-- Partial webhooks waiting to be completed by fetching the record (webhook as a hint).
CREATE INDEX tds_inbox_events_hints ON tds_inbox_events (id) WHERE status = 'hint';

-- ---------------------------------------------------------------- the sync queue
CREATE TABLE tds_sync_queue (
    id              bigserial PRIMARY KEY,
    inbox_event_id  bigint REFERENCES tds_inbox_events (id) ON DELETE SET NULL,
    entity          text NOT NULL CHECK (entity IN {ENTITY_CHECK}),
    zoho_id         text NOT NULL,
    operation       tds_operation NOT NULL,
    source_version  timestamptz NOT NULL,
    content_hash    text NOT NULL,
    payload         jsonb NOT NULL,
    status          tds_queue_state NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_by       text,
    locked_until    timestamptz,
    last_error      text,
    error_class     text CHECK (error_class IN ('retryable', 'permanent', 'unknown')),
    attempt_history jsonb NOT NULL DEFAULT '[]'::jsonb,
    received_at     timestamptz NOT NULL DEFAULT now(),
    enqueued_at     timestamptz NOT NULL DEFAULT now(),
    claimed_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'processing') = (locked_by IS NOT NULL AND locked_until IS NOT NULL))
) WITH (fillfactor = 80);
-- The claim's hot path: ready rows in order, and nothing else, in a small partial index.
CREATE INDEX tds_sync_queue_ready ON tds_sync_queue (next_attempt_at, id) WHERE status = 'pending';
-- The lease rescuer looks only at leased rows.
CREATE INDEX tds_sync_queue_leased ON tds_sync_queue (locked_until) WHERE status = 'processing';
CREATE INDEX tds_sync_queue_entity_zoho_id ON tds_sync_queue (entity, zoho_id);
CREATE INDEX tds_sync_queue_inbox_event_id ON tds_sync_queue (inbox_event_id);
CREATE INDEX tds_sync_queue_finished_at ON tds_sync_queue (finished_at) WHERE finished_at IS NOT NULL;

-- ---------------------------------------------------------------- dead letters
CREATE TABLE tds_dead_letter_queue (
    id              bigserial PRIMARY KEY,
    queue_id        bigint NOT NULL,
    inbox_event_id  bigint,
    entity          text NOT NULL,
    zoho_id         text NOT NULL,
    operation       tds_operation NOT NULL,
    source_version  timestamptz NOT NULL,
    payload         jsonb NOT NULL,
    error           text NOT NULL,
    error_class     text NOT NULL CHECK (error_class IN ('retryable', 'permanent', 'unknown')),
    attempts        integer NOT NULL,
    attempt_history jsonb NOT NULL DEFAULT '[]'::jsonb,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed', 'discarded')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    resolved_by     text,
    resolution_note text
);
CREATE INDEX tds_dead_letter_queue_open ON tds_dead_letter_queue (created_at) WHERE status = 'open';
CREATE INDEX tds_dead_letter_queue_queue_id ON tds_dead_letter_queue (queue_id);
CREATE INDEX tds_dead_letter_queue_entity ON tds_dead_letter_queue (entity, zoho_id);

-- ---------------------------------------------------------------- sync logs (90-day retention)
CREATE TABLE tds_sync_logs (
    id              bigserial PRIMARY KEY,
    queue_id        bigint,
    inbox_event_id  bigint,
    entity          text NOT NULL,
    zoho_id         text,
    outcome         text NOT NULL
                    CHECK (outcome IN ('completed', 'skipped_stale', 'skipped_unchanged', 'retry', 'dead',
                                       'replayed', 'discarded', 'lease_lost', 'rescued')),
    attempt         integer,
    worker_id       text,
    duration_ms     double precision,
    latency_ms      double precision,
    message         text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tds_sync_logs_created_at ON tds_sync_logs (created_at);
CREATE INDEX tds_sync_logs_queue_id ON tds_sync_logs (queue_id);

-- ---------------------------------------------------------------- audit trail (immutable)
CREATE TABLE tds_audit_trail (
    id              bigserial PRIMARY KEY,
    queue_id        bigint NOT NULL,
    inbox_event_id  bigint,
    entity          text NOT NULL,
    zoho_id         text NOT NULL,
    erp_table       text NOT NULL,
    row_key         text NOT NULL,
    action          text NOT NULL CHECK (action IN ('insert', 'update', 'delete')),
    source_version  timestamptz NOT NULL,
    before          jsonb,
    after           jsonb,
    actor           text NOT NULL DEFAULT 'tds',
    worker_id       text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- One change per event and row: a re-applied event cannot write a second audit row.
    UNIQUE (queue_id, erp_table, row_key)
);
CREATE INDEX tds_audit_trail_entity ON tds_audit_trail (entity, zoho_id, id);
CREATE INDEX tds_audit_trail_created_at ON tds_audit_trail (created_at);

CREATE FUNCTION tds_audit_trail_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tds_audit_trail is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER tds_audit_trail_no_update BEFORE UPDATE OR DELETE ON tds_audit_trail
    FOR EACH ROW EXECUTE FUNCTION tds_audit_trail_immutable();
CREATE TRIGGER tds_audit_trail_no_truncate BEFORE TRUNCATE ON tds_audit_trail
    FOR EACH STATEMENT EXECUTE FUNCTION tds_audit_trail_immutable();

-- ---------------------------------------------------------------- pulls: runs and cursors
CREATE TABLE tds_sync_runs (
    id            bigserial PRIMARY KEY,
    entity        text NOT NULL CHECK (entity IN {ENTITY_CHECK}),
    kind          text NOT NULL CHECK (kind IN ('incremental', 'full', 'reconcile', 'manual')),
    status        text NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    triggered_by  text NOT NULL DEFAULT 'scheduler',
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    fetched       integer NOT NULL DEFAULT 0,
    queued        integer NOT NULL DEFAULT 0,
    unchanged     integer NOT NULL DEFAULT 0,
    failed        integer NOT NULL DEFAULT 0,
    api_calls     integer NOT NULL DEFAULT 0,
    drift         integer,
    cursor_from   text,
    cursor_to     text,
    error         text,
    details       jsonb NOT NULL DEFAULT '{{}}'::jsonb
);
CREATE INDEX tds_sync_runs_entity_started ON tds_sync_runs (entity, started_at DESC);

CREATE TABLE tds_sync_cursors (
    entity         text PRIMARY KEY CHECK (entity IN {ENTITY_CHECK}),
    strategy       text NOT NULL DEFAULT 'full_scan'
                   CHECK (strategy IN ('modified_filter', 'sorted_watermark', 'full_scan')),
    watermark      timestamptz,
    cursor_value   text,
    last_run_id    bigint REFERENCES tds_sync_runs (id) ON DELETE SET NULL,
    last_full_scan_at timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- alerts, metrics, configuration
CREATE TABLE tds_alerts (
    id               bigserial PRIMARY KEY,
    rule             text NOT NULL,
    fingerprint      text NOT NULL,
    severity         text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    status           text NOT NULL DEFAULT 'open'
                     CHECK (status IN ('open', 'acknowledged', 'resolved', 'silenced')),
    title            text NOT NULL,
    message          text NOT NULL DEFAULT '',
    details          jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    occurrences      integer NOT NULL DEFAULT 1,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    resolved_at      timestamptz,
    resolved_by      text,
    silenced_until   timestamptz,
    notified_at      timestamptz
);
-- One live alert per fingerprint; a new occurrence bumps it instead of paging again.
CREATE UNIQUE INDEX tds_alerts_live_fingerprint ON tds_alerts (fingerprint)
    WHERE status IN ('open', 'acknowledged', 'silenced');
CREATE INDEX tds_alerts_status ON tds_alerts (status, last_seen_at DESC);

CREATE TABLE tds_metrics (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL,
    labels        jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    bucket_start  timestamptz NOT NULL,
    resolution_s  integer NOT NULL DEFAULT 60 CHECK (resolution_s > 0),
    value         double precision NOT NULL,
    UNIQUE (name, labels, bucket_start, resolution_s)
);
CREATE INDEX tds_metrics_bucket ON tds_metrics (bucket_start);

CREATE TABLE tds_configuration (
    key         text NOT NULL,
    version     integer NOT NULL CHECK (version > 0),
    value       jsonb NOT NULL,
    description text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL DEFAULT 'migration',
    note        text,
    PRIMARY KEY (key, version)
);
CREATE VIEW tds_configuration_current AS
    SELECT DISTINCT ON (key) key, version, value, description, updated_at, updated_by
    FROM tds_configuration ORDER BY key, version DESC;

INSERT INTO tds_configuration (key, version, value, description) VALUES
    ('worker.batch_size', 1, '100', 'Events a worker claims per batch'),
    ('worker.max_attempts', 1, '8', 'Attempts before an event is dead-lettered'),
    ('worker.lease_seconds', 1, '15', 'Lease a worker holds on claimed events (renewed while working)'),
    ('worker.poll_interval_seconds', 1, '1.0', 'Fallback poll when no NOTIFY arrives'),
    ('worker.rescue_interval_seconds', 1, '2.0', 'How often expired leases are rescued'),
    ('retry.backoff_base_seconds', 1, '2.0', 'First retry waits up to this long (full jitter)'),
    ('retry.backoff_cap_seconds', 1, '300.0', 'No retry waits longer than this'),
    ('breaker.window_seconds', 1, '60', 'Failure-rate window of the circuit breaker'),
    ('breaker.min_calls', 1, '10', 'Batches in the window before the breaker may open'),
    ('breaker.failure_rate', 1, '0.5', 'Failure rate that opens the breaker'),
    ('breaker.open_seconds', 1, '15', 'Cool-down before a half-open probe'),
    ('schedule.retention_cron', 1, '"17 3 * * *"', 'When the retention clean-up runs (cron, UTC)'),
    ('schedule.pull_cron', 1, '"*/15 * * * *"', 'When the incremental pull of every entity runs (cron, UTC)'),
    ('schedule.reconcile_cron', 1, '"30 2 * * *"', 'When the nightly reconciliation runs (cron, UTC)');

-- A lease whose worker is gone: expired, or (after a 2 s grace for a worker that just claimed)
-- its owner no longer holds the session-level liveness lock pg_advisory_lock(hashtextextended(
-- worker_id, 0)) that every worker keeps for its lifetime. A killed worker's session ends, the
-- lock goes with it, and its leases can be handed back at once instead of after they expire.
CREATE FUNCTION tds_lease_abandoned(p_locked_by text, p_claimed_at timestamptz, p_locked_until timestamptz,
                                    p_now timestamptz DEFAULT NULL) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT p_locked_until < coalesce(p_now, now())
        OR (p_claimed_at < coalesce(p_now, now()) - interval '2 seconds'
            AND NOT EXISTS (
                -- the bigint advisory key appears in pg_locks split into two oids
                SELECT 1 FROM pg_locks l
                WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND l.classid::bigint = (hashtextextended(p_locked_by, 0) >> 32) & 4294967295
                  AND l.objid::bigint = hashtextextended(p_locked_by, 0) & 4294967295))
$$;

-- ---------------------------------------------------------------- API keys and workers
CREATE TABLE tds_api_keys (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL,
    prefix       text NOT NULL UNIQUE,
    key_hash     text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL DEFAULT 'cli',
    revoked_at   timestamptz,
    revoked_by   text,
    last_used_at timestamptz
);

CREATE TABLE tds_workers (
    worker_id         text PRIMARY KEY,
    hostname          text NOT NULL,
    pid               integer NOT NULL,
    started_at        timestamptz NOT NULL DEFAULT now(),
    heartbeat_at      timestamptz NOT NULL DEFAULT now(),
    stopped_at        timestamptz,
    circuit_state     text NOT NULL DEFAULT 'closed' CHECK (circuit_state IN ('closed', 'open', 'half_open')),
    circuit_changed_at timestamptz NOT NULL DEFAULT now(),
    processed         bigint NOT NULL DEFAULT 0,
    failed            bigint NOT NULL DEFAULT 0
);

-- ---------------------------------------------------------------- ERP tables
CREATE TABLE products (
    id bigserial PRIMARY KEY,
    zoho_id text NOT NULL UNIQUE,
    name text, sku text, status text, description text, rate numeric, purchase_rate numeric,
    unit text, product_type text, item_type text, tax_id text, tax_name text,
    reorder_level numeric, stock_on_hand numeric,
    data jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    source_version timestamptz NOT NULL,
    content_hash text,
    deleted_at timestamptz,
    synced_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE customers (
    id bigserial PRIMARY KEY,
    zoho_id text NOT NULL UNIQUE,
    contact_name text, company_name text, contact_type text, customer_sub_type text, status text,
    email text, phone text, currency_code text, payment_terms integer, payment_terms_label text,
    credit_limit numeric, outstanding_receivable_amount numeric, pricebook_id text,
    data jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    source_version timestamptz NOT NULL,
    content_hash text,
    deleted_at timestamptz,
    synced_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_contact_type ON customers (contact_type);

CREATE TABLE invoices (
    id bigserial PRIMARY KEY,
    zoho_id text NOT NULL UNIQUE,
    invoice_number text, reference_number text, date date, due_date date, status text,
    customer_id text, customer_name text, currency_code text, exchange_rate numeric,
    sub_total numeric, tax_total numeric, total numeric, balance numeric,
    data jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    source_version timestamptz NOT NULL,
    content_hash text,
    deleted_at timestamptz,
    synced_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoices_customer_id ON invoices (customer_id);

CREATE TABLE invoice_line_items (
    invoice_zoho_id text NOT NULL REFERENCES invoices (zoho_id) ON DELETE CASCADE,
    line_item_id text NOT NULL,
    item_id text, name text, description text, item_order integer, rate numeric, quantity numeric,
    unit text, tax_id text, item_total numeric,
    data jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    PRIMARY KEY (invoice_zoho_id, line_item_id)
);

CREATE TABLE bills (
    id bigserial PRIMARY KEY,
    zoho_id text NOT NULL UNIQUE,
    bill_number text, reference_number text, date date, due_date date, status text,
    vendor_id text, vendor_name text, currency_code text, exchange_rate numeric,
    sub_total numeric, tax_total numeric, total numeric, balance numeric,
    data jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    source_version timestamptz NOT NULL,
    content_hash text,
    deleted_at timestamptz,
    synced_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bills_vendor_id ON bills (vendor_id);

CREATE TABLE bill_line_items (
    bill_zoho_id text NOT NULL REFERENCES bills (zoho_id) ON DELETE CASCADE,
    line_item_id text NOT NULL,
    item_id text, name text, description text, item_order integer, rate numeric, quantity numeric,
    unit text, tax_id text, item_total numeric, account_id text,
    data jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    PRIMARY KEY (bill_zoho_id, line_item_id)
);

CREATE TABLE credit_notes (
    id bigserial PRIMARY KEY,
    zoho_id text NOT NULL UNIQUE,
    creditnote_number text, reference_number text, date date, status text, customer_id text,
    customer_name text, currency_code text, total numeric, balance numeric,
    data jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    source_version timestamptz NOT NULL,
    content_hash text,
    deleted_at timestamptz,
    synced_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE credit_note_line_items (
    credit_note_zoho_id text NOT NULL REFERENCES credit_notes (zoho_id) ON DELETE CASCADE,
    line_item_id text NOT NULL,
    item_id text, name text, description text, item_order integer, rate numeric, quantity numeric,
    unit text, tax_id text, item_total numeric, account_id text,
    data jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    PRIMARY KEY (credit_note_zoho_id, line_item_id)
);

CREATE TABLE price_lists (
    id bigserial PRIMARY KEY,
    zoho_id text NOT NULL UNIQUE,
    name text, description text, status text, currency_code text, pricebook_type text,
    sales_or_purchase_type text, is_default boolean, is_increase boolean, percentage numeric,
    data jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    source_version timestamptz NOT NULL,
    content_hash text,
    deleted_at timestamptz,
    synced_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE price_list_items (
    price_list_zoho_id text NOT NULL REFERENCES price_lists (zoho_id) ON DELETE CASCADE,
    item_id text NOT NULL,
    pricebook_item_id text, pricebook_rate numeric, pricing_scheme text,
    data jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    PRIMARY KEY (price_list_zoho_id, item_id)
);

CREATE TABLE stock_levels (
    item_zoho_id text NOT NULL,
    location_id text NOT NULL,
    location_name text, stock_on_hand numeric, available_stock numeric, actual_available_stock numeric,
    data jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    source_version timestamptz NOT NULL,
    content_hash text,
    deleted_at timestamptz,
    synced_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_zoho_id, location_id)
);

-- ---------------------------------------------------------------- monitoring views
CREATE VIEW tds_v_queue_status AS
    SELECT entity, status, count(*) AS events,
           min(enqueued_at) AS oldest_enqueued_at,
           extract(epoch FROM now() - min(enqueued_at)) AS oldest_age_seconds
    FROM tds_sync_queue GROUP BY entity, status;

CREATE VIEW tds_v_sync_health AS
    SELECT e.entity,
           count(*) FILTER (WHERE l.outcome = 'completed') AS applied_1h,
           count(*) FILTER (WHERE l.outcome IN ('skipped_stale', 'skipped_unchanged')) AS skipped_1h,
           count(*) FILTER (WHERE l.outcome IN ('retry', 'dead')) AS failed_1h,
           CASE WHEN count(l.id) = 0 THEN NULL
                ELSE round(100.0 * count(*) FILTER (WHERE l.outcome NOT IN ('retry', 'dead'))
                           / count(l.id), 2) END AS success_rate_1h,
           max(l.created_at) FILTER (WHERE l.outcome = 'completed') AS last_applied_at,
           (SELECT count(*) FROM tds_dead_letter_queue d WHERE d.entity = e.entity AND d.status = 'open')
               AS dlq_open,
           (SELECT count(*) FROM tds_sync_queue q WHERE q.entity = e.entity AND q.status = 'pending')
               AS pending
    FROM unnest(ARRAY['items','contacts','invoices','bills','creditnotes','stock','pricebooks']) AS e(entity)
    LEFT JOIN tds_sync_logs l ON l.entity = e.entity AND l.created_at > now() - interval '1 hour'
    GROUP BY e.entity;

CREATE VIEW tds_v_dlq_summary AS
    SELECT entity, error_class, count(*) AS open_items, min(created_at) AS oldest_at,
           max(created_at) AS newest_at,
           extract(epoch FROM now() - min(created_at)) AS oldest_age_seconds
    FROM tds_dead_letter_queue WHERE status = 'open' GROUP BY entity, error_class;

-- ---------------------------------------------------------------- retention and health
-- Deletes in bounded batches so a large backlog never holds long locks; returns counts per table.
CREATE FUNCTION tds_retention_cleanup(
    p_now timestamptz DEFAULT NULL,
    p_inbox_days integer DEFAULT 7,
    p_queue_days integer DEFAULT 7,
    p_logs_days integer DEFAULT 90,
    p_metrics_days integer DEFAULT 30,
    p_batch integer DEFAULT 10000
) RETURNS TABLE (table_name text, deleted bigint) LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := coalesce(p_now, now());
    n bigint;
BEGIN
    -- Finished queue rows first, so the inbox rows they point at can go next.
    DELETE FROM tds_sync_queue WHERE id IN (
        SELECT id FROM tds_sync_queue
        WHERE finished_at < v_now - make_interval(days => p_queue_days)
          AND status IN ('completed', 'skipped_stale', 'skipped_unchanged')
        LIMIT p_batch);
    GET DIAGNOSTICS n = ROW_COUNT; table_name := 'tds_sync_queue'; deleted := n; RETURN NEXT;
    -- Inbox rows are kept while a live queue row still needs them (pending, processing, dead).
    DELETE FROM tds_inbox_events i WHERE i.id IN (
        SELECT e.id FROM tds_inbox_events e
        WHERE e.received_at < v_now - make_interval(days => p_inbox_days)
          AND NOT EXISTS (SELECT 1 FROM tds_sync_queue q WHERE q.inbox_event_id = e.id
                          AND q.status IN ('pending', 'processing', 'dead'))
        LIMIT p_batch);
    GET DIAGNOSTICS n = ROW_COUNT; table_name := 'tds_inbox_events'; deleted := n; RETURN NEXT;
    DELETE FROM tds_sync_logs WHERE id IN (
        SELECT id FROM tds_sync_logs WHERE created_at < v_now - make_interval(days => p_logs_days)
        LIMIT p_batch);
    GET DIAGNOSTICS n = ROW_COUNT; table_name := 'tds_sync_logs'; deleted := n; RETURN NEXT;
    DELETE FROM tds_metrics WHERE id IN (
        SELECT id FROM tds_metrics WHERE bucket_start < v_now - make_interval(days => p_metrics_days)
        LIMIT p_batch);
    GET DIAGNOSTICS n = ROW_COUNT; table_name := 'tds_metrics'; deleted := n; RETURN NEXT;
END $$;

CREATE FUNCTION tds_health_summary(p_now timestamptz DEFAULT NULL) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'at', coalesce(p_now, now()),
        'queue', (SELECT coalesce(jsonb_object_agg(status, n), '{{}}'::jsonb)
                  FROM (SELECT status::text AS status, count(*) AS n FROM tds_sync_queue GROUP BY status) s),
        'oldest_pending_age_seconds',
            (SELECT extract(epoch FROM coalesce(p_now, now()) - min(enqueued_at))
             FROM tds_sync_queue WHERE status = 'pending'),
        'dlq_open', (SELECT count(*) FROM tds_dead_letter_queue WHERE status = 'open'),
        'oldest_dlq_age_seconds',
            (SELECT extract(epoch FROM coalesce(p_now, now()) - min(created_at))
             FROM tds_dead_letter_queue WHERE status = 'open'),
        'rejected_24h', (SELECT count(*) FROM tds_inbox_events
                         WHERE status = 'rejected' AND received_at > coalesce(p_now, now()) - interval '1 day'),
        'open_alerts', (SELECT count(*) FROM tds_alerts WHERE status IN ('open', 'acknowledged')),
        'workers_alive', (SELECT count(*) FROM tds_workers WHERE stopped_at IS NULL
                          AND heartbeat_at > coalesce(p_now, now()) - interval '30 seconds'),
        'circuit_open', (SELECT count(*) FROM tds_workers WHERE stopped_at IS NULL AND circuit_state <> 'closed')
    )
$$;
"""

DOWNGRADE = """
DROP FUNCTION IF EXISTS tds_health_summary(timestamptz);
DROP FUNCTION IF EXISTS tds_lease_abandoned(text, timestamptz, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS tds_retention_cleanup(timestamptz, integer, integer, integer, integer, integer);
DROP VIEW IF EXISTS tds_v_dlq_summary, tds_v_sync_health, tds_v_queue_status, tds_configuration_current;
DROP TABLE IF EXISTS stock_levels, price_list_items, price_lists, credit_note_line_items, credit_notes,
    bill_line_items, bills, invoice_line_items, invoices, customers, products;
DROP TABLE IF EXISTS tds_workers, tds_api_keys, tds_configuration, tds_metrics, tds_alerts,
    tds_sync_cursors, tds_sync_runs, tds_sync_logs, tds_dead_letter_queue, tds_sync_queue,
    tds_inbox_events;
DROP TABLE IF EXISTS tds_audit_trail;
DROP FUNCTION IF EXISTS tds_audit_trail_immutable();
DROP TYPE IF EXISTS tds_operation, tds_queue_state;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
