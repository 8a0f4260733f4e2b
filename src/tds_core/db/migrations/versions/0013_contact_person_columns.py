"""Contacts: ``mobile``, ``first_name`` and ``last_name`` columns, and every person column
filled from the primary contact person where the top level left it empty.

Recordings of the real API (reference section 10) show a contact's top-level ``email``,
``phone``, ``mobile``, ``first_name`` and ``last_name`` are its primary contact person's, and
the people themselves in ``contact_persons[]`` on a GET. Rows applied before this revision keep
their record in ``data``: the new columns are filled from it, and an empty ``email`` / ``phone``
from the primary person. ``tds_written`` (what TDS last wrote) does not name the new columns, so
filling them is not a change "outside TDS".

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE customers ADD COLUMN mobile text, ADD COLUMN first_name text, ADD COLUMN last_name text;

WITH people AS (
    SELECT c.id,
           (SELECT p FROM jsonb_array_elements(
                       CASE WHEN jsonb_typeof(c.data -> 'contact_persons') = 'array'
                            THEN c.data -> 'contact_persons' ELSE '[]'::jsonb END) AS p
            WHERE jsonb_typeof(p) = 'object'
            ORDER BY (p ->> 'is_primary_contact') IN ('true', 'True') DESC
            LIMIT 1) AS person
    FROM customers c
)
UPDATE customers c
SET email = coalesce(nullif(c.email, ''), nullif(people.person ->> 'email', '')),
    phone = coalesce(nullif(c.phone, ''), nullif(people.person ->> 'phone', '')),
    mobile = coalesce(nullif(c.data ->> 'mobile', ''), nullif(people.person ->> 'mobile', '')),
    first_name = coalesce(nullif(c.data ->> 'first_name', ''), nullif(people.person ->> 'first_name', '')),
    last_name = coalesce(nullif(c.data ->> 'last_name', ''), nullif(people.person ->> 'last_name', ''))
FROM people
WHERE people.id = c.id;
"""

DOWNGRADE = """
ALTER TABLE customers DROP COLUMN mobile, DROP COLUMN first_name, DROP COLUMN last_name;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
