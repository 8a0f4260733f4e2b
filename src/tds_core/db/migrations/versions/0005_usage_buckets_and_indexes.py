"""Zoho usage rows are per second (the sliding-window limiter): the column says so. Indexes for
alert fingerprints (reopened and per-event checks scan resolved rows) and open jobs (the claim).
Schedules get a time zone (``schedule.timezone``), the nightly reconciliation 02:00 there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE tds_api_usage RENAME COLUMN minute TO second;
COMMENT ON COLUMN tds_api_usage.second IS
    'The UTC second the calls were made in (a sliding 60-second window counts these rows)';
COMMENT ON TABLE tds_api_usage IS
    'Zoho API calls per organization and UTC second, shared by every TDS process (rate limit and daily quota)';
CREATE INDEX tds_alerts_fingerprint ON tds_alerts (fingerprint, id);
CREATE INDEX tds_jobs_open ON tds_jobs (id) WHERE status IN ('queued', 'running');

-- Schedules are read in a time zone (the organization's, set by the operator); the nightly
-- reconciliation moves to 02:00 there unless an operator already chose another time.
INSERT INTO tds_configuration (key, version, value, description) VALUES
    ('schedule.timezone', 1, '"UTC"',
     'IANA time zone the schedule.* cron expressions are read in (set it to your Zoho organization''s)');
INSERT INTO tds_configuration (key, version, value, description, note)
SELECT 'schedule.reconcile_cron', 2, '"0 2 * * *"', description, 'nightly at 02:00 in schedule.timezone'
FROM tds_configuration WHERE key = 'schedule.reconcile_cron' AND version = 1
  AND NOT EXISTS (SELECT 1 FROM tds_configuration WHERE key = 'schedule.reconcile_cron' AND version > 1);
"""

DOWNGRADE = """
DELETE FROM tds_configuration WHERE key = 'schedule.timezone';
DELETE FROM tds_configuration WHERE key = 'schedule.reconcile_cron' AND version = 2 AND updated_by = 'migration';
DROP INDEX IF EXISTS tds_jobs_open;
DROP INDEX IF EXISTS tds_alerts_fingerprint;
ALTER TABLE tds_api_usage RENAME COLUMN second TO minute;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
