"""Zoho API usage per organization and minute: the shared rate limiter of all TDS processes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
-- One row per organization and minute (UTC, truncated): how many calls TDS processes have
-- made or are making. Taking a call slot is one atomic upsert; the day's sum is the daily
-- quota used. Rows older than a couple of days are deleted by api_usage_delete_before.
CREATE TABLE tds_api_usage (
    organization_id text        NOT NULL,
    minute          timestamptz NOT NULL,
    calls           integer     NOT NULL DEFAULT 0 CHECK (calls >= 0),
    PRIMARY KEY (organization_id, minute)
);
COMMENT ON TABLE tds_api_usage IS
    'Zoho API calls per organization and UTC minute, shared by every TDS process (rate limit and daily quota)';
"""

DOWNGRADE = """
DROP TABLE IF EXISTS tds_api_usage;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
