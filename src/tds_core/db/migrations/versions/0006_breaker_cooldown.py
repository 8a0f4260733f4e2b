"""The breaker's cool-down before a half-open probe drops from 15 s to 5 s (a probe is one
event; the soak showed 15 s kept the queue waiting long after the ERP was back). Only an
unchanged default moves: an operator's own value stays.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UPGRADE = """
INSERT INTO tds_configuration (key, version, value, description, note)
SELECT 'breaker.open_seconds', 2, '5', description, 'a probe every 5 s heals faster after an outage'
FROM tds_configuration WHERE key = 'breaker.open_seconds' AND version = 1
  AND NOT EXISTS (SELECT 1 FROM tds_configuration WHERE key = 'breaker.open_seconds' AND version > 1);
"""

DOWNGRADE = """
DELETE FROM tds_configuration WHERE key = 'breaker.open_seconds' AND version = 2 AND updated_by = 'migration';
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
