"""Metrics: what is counted (two views), cumulative totals behind /metrics, per-minute histograms,
and the roll-up's watermark.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

Counters must stay monotonic although the rows they count are deleted by retention, and a
scrape must stay cheap however large the tables grow. So the roll-up (the scheduler, every
minute) folds each finished minute into ``tds_metric_totals`` and moves the watermark
``tds_metric_rollup.rolled_through``; a scrape reads the totals plus the rows at or after the
watermark (a few minutes of rows, by index). Both count through the two views below, so the
definition of every count exists once. See ``tds_core.observability.metrics``.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = """
-- ---------------------------------------------------------------- what is counted
-- One row per counted event, with the time it counts at. Only columns that never change after
-- the row is written are used (a hint later 'fetched' still counts as a hint), so a count over
-- a past time range never shrinks. Each arm is a plain range scan on an indexed time column.
CREATE VIEW tds_v_metric_events AS
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
    FROM tds_dead_letter_queue;
COMMENT ON VIEW tds_v_metric_events IS
    'Counted events (sync outcomes, inbox arrivals, dead letters) at their time: the one definition behind /metrics, tds_metrics and the stats API';

-- One row per observation of a histogram, in milliseconds, at the time it counts at.
CREATE VIEW tds_v_metric_samples AS
    -- end-to-end: received by TDS until the apply committed
    SELECT 'latency'::text AS name, entity, created_at AS at, latency_ms AS ms
    FROM tds_sync_logs
    WHERE latency_ms IS NOT NULL AND outcome IN ('completed', 'skipped_stale', 'skipped_unchanged')
    UNION ALL
    -- the apply of the batch the event was in
    SELECT 'apply_duration', entity, created_at, duration_ms
    FROM tds_sync_logs
    WHERE duration_ms IS NOT NULL AND outcome IN ('completed', 'skipped_stale', 'skipped_unchanged')
    UNION ALL
    -- enqueued until claimed (by the worker that finished it), at the time it finished
    SELECT 'claim_wait', entity, finished_at, (extract(epoch FROM claimed_at - enqueued_at) * 1000)::float8
    FROM tds_sync_queue
    WHERE finished_at IS NOT NULL AND claimed_at IS NOT NULL
      AND status IN ('completed', 'skipped_stale', 'skipped_unchanged');
COMMENT ON VIEW tds_v_metric_samples IS
    'Histogram observations in ms (latency, apply_duration, claim_wait) at their time';

-- Dead letters counted by the time they arrived (the open-only index does not cover replayed ones).
CREATE INDEX tds_dead_letter_queue_created_at ON tds_dead_letter_queue (created_at);

-- ---------------------------------------------------------------- cumulative totals
-- Everything counted before tds_metric_rollup.rolled_through, folded minute by minute, plus
-- counts no table row records (webhook answers that stored nothing, Zoho 429s), added by the
-- processes that see them. Never deleted: the base of monotonic Prometheus counters.
CREATE TABLE tds_metric_totals (
    name   text NOT NULL,
    labels jsonb NOT NULL DEFAULT '{}'::jsonb,
    value  double precision NOT NULL DEFAULT 0,   -- a counter; for a histogram, the sum of observations
    counts bigint[],                              -- a histogram: observations per bucket (not cumulative)
    PRIMARY KEY (name, labels)
);

-- ---------------------------------------------------------------- per-minute histograms
-- Observations per bucket for one histogram, entity and minute: windows of any length (the
-- stats API's p50/p95/p99) add these arrays up. Deleted after 30 days by the roll-up.
CREATE TABLE tds_metric_histograms (
    name         text NOT NULL,
    entity       text NOT NULL,
    bucket_start timestamptz NOT NULL,
    counts       bigint[] NOT NULL,
    total        double precision NOT NULL,
    PRIMARY KEY (name, entity, bucket_start)
);
CREATE INDEX tds_metric_histograms_bucket ON tds_metric_histograms (bucket_start);

-- ---------------------------------------------------------------- the roll-up's watermark
-- Everything counted before rolled_through is in tds_metric_totals (NULL: nothing yet).
CREATE TABLE tds_metric_rollup (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    rolled_through timestamptz,
    rolled_at      timestamptz
);
INSERT INTO tds_metric_rollup DEFAULT VALUES;
"""

DOWNGRADE = """
DROP TABLE IF EXISTS tds_metric_rollup, tds_metric_histograms, tds_metric_totals;
DROP INDEX IF EXISTS tds_dead_letter_queue_created_at;
DROP VIEW IF EXISTS tds_v_metric_samples, tds_v_metric_events;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
