"""What Zoho says of the quota, and the calls in flight, shared by every TDS process.

``tds_zoho_quota``: the latest ``x-rate-limit-limit`` / ``-remaining`` / ``-reset`` an answer
carried, per organization (reference section 10). The limiter adopts the plan's quota from it,
counts the day from the organization's midnight (the reset) instead of UTC's, and never
believes more is left than Zoho said (less the calls made since).

``tds_zoho_inflight``: one row per call slot in use (a lease). Zoho caps calls in process per
organization (5 on Free, 10 on paid plans) across every client, so the cap is taken here, not
per process; a lease expires on its own, so a killed process cannot keep a slot.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE tds_zoho_quota (
    organization_id text PRIMARY KEY,
    daily_limit integer NOT NULL CHECK (daily_limit > 0),
    remaining integer NOT NULL CHECK (remaining >= 0),
    resets_at timestamptz NOT NULL,
    observed_at timestamptz NOT NULL
);
COMMENT ON TABLE tds_zoho_quota IS
    'The x-rate-limit-* headers of the latest Zoho answer per organization (quota, remaining, reset)';

CREATE TABLE tds_zoho_inflight (
    organization_id text NOT NULL,
    slot integer NOT NULL CHECK (slot > 0),
    holder text NOT NULL,
    lease_until timestamptz NOT NULL,
    PRIMARY KEY (organization_id, slot)
);
COMMENT ON TABLE tds_zoho_inflight IS
    'Zoho API calls in flight per organization (leases), shared by every TDS process';
"""

DOWNGRADE = """
DROP TABLE IF EXISTS tds_zoho_inflight;
DROP TABLE IF EXISTS tds_zoho_quota;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
