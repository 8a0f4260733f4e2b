"""Pull progress: a pull that stops at the daily quota's reserve ends ``paused``; the reserve
is the run-time key ``sync.quota_reserve`` (default 0.2 of the daily quota).

A paused run (``tds_sync_runs.status = 'paused'``) staged what it could and left the cursor
where it was; its ``details`` say why and when the quota resets (source/pull.py). The next run
lists again from the old watermark and fetches only records the ERP does not hold yet.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE tds_sync_runs DROP CONSTRAINT tds_sync_runs_status_check;
        ALTER TABLE tds_sync_runs ADD CONSTRAINT tds_sync_runs_status_check
            CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled', 'paused'));
        INSERT INTO tds_configuration (key, version, value, description) VALUES
            ('sync.quota_reserve', 1, '0.2',
             'Share of the daily Zoho quota pulls leave for webhook hints and reconciliation (0-0.99)');
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DELETE FROM tds_configuration WHERE key = 'sync.quota_reserve';
        UPDATE tds_sync_runs SET status = 'failed', error = coalesce(error, 'paused (downgraded)')
        WHERE status = 'paused';
        ALTER TABLE tds_sync_runs DROP CONSTRAINT tds_sync_runs_status_check;
        ALTER TABLE tds_sync_runs ADD CONSTRAINT tds_sync_runs_status_check
            CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled'));
        """
    )
