"""Secrets encrypted at rest: ``tds_secrets`` holds the Zoho client secret, the refresh token and
the webhook signing secret when operators store them in the database instead of the environment,
plus the ``_key_check`` canary that tells a wrong ``TDS_SECRET_KEY`` at start-up.

Every value is Fernet ciphertext in the ``enc:v1:`` envelope (a CHECK refuses anything else), so
the table never holds a secret in clear. The secrets of ``alerts.channels`` stay in
``tds_configuration`` but are encrypted too. SQL cannot encrypt the clear secrets that older
versions wrote there (it has no key): the first TDS process that starts with this schema encrypts
every clear secret it finds in every stored version (``tds secrets rotate`` does the same), see
docs/runbooks/secrets-rotation.md. Downgrading drops the stored secrets; processes then need them
in the environment again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE tds_secrets (
    name        text PRIMARY KEY CHECK (name ~ '^_?[a-z][a-z0-9_]{0,62}$'),
    ciphertext  text NOT NULL CHECK (ciphertext LIKE 'enc:v1:%'),   -- never a clear value
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL
);
COMMENT ON TABLE tds_secrets IS
    'Secrets stored encrypted under TDS_SECRET_KEY (Fernet, enc:v1: envelope); _key_check is the canary';
"""

DOWNGRADE = """
DROP TABLE IF EXISTS tds_secrets;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
