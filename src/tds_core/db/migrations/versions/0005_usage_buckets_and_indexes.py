"""Zoho usage rows are per second (the sliding-window limiter): the column says so. Indexes for
alert fingerprints (reopened and per-event checks scan resolved rows) and open jobs (the claim).

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
"""

DOWNGRADE = """
DROP INDEX IF EXISTS tds_jobs_open;
DROP INDEX IF EXISTS tds_alerts_fingerprint;
ALTER TABLE tds_api_usage RENAME COLUMN second TO minute;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
