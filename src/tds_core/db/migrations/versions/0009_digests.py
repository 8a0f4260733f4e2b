"""Weekly dead-letter digest and monthly performance summary.

``tds_reports`` keeps every report sent, one per kind and period (the unique key is what makes a
period's report go out once, whichever scheduler or restart gets there first). Reports travel
through the alert channels as rows of ``tds_alert_deliveries`` (retries, recorded results):
a delivery now belongs to an alert or to a report. New configuration keys: which channels get
the reports, when each goes out, and the dashboard's public address for links.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE tds_reports (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('dlq_digest', 'performance')),
    period_start  timestamptz NOT NULL,
    period_end    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL,              -- 'scheduler' or the operator who sent it
    subject       text NOT NULL,
    text_body     text NOT NULL,              -- plain text: email, generic webhook
    chat_body     text NOT NULL,              -- short Markdown: Slack, Telegram
    data          jsonb NOT NULL,             -- the figures, as the CLI's --json prints them
    CHECK (period_end > period_start),
    UNIQUE (kind, period_start)
);
CREATE INDEX tds_reports_created ON tds_reports (created_at DESC);

-- a delivery carries an alert or a report, never both
ALTER TABLE tds_alert_deliveries
    ALTER COLUMN alert_id DROP NOT NULL,
    ADD COLUMN report_id bigint REFERENCES tds_reports (id) ON DELETE CASCADE,
    DROP CONSTRAINT tds_alert_deliveries_reason_check,
    ADD CONSTRAINT tds_alert_deliveries_reason_check
        CHECK (reason IN ('opened', 'escalated', 'resolved', 'reopened', 'report')),
    ADD CONSTRAINT tds_alert_deliveries_one_subject CHECK ((alert_id IS NULL) <> (report_id IS NULL)),
    ADD CONSTRAINT tds_alert_deliveries_report_reason CHECK ((report_id IS NOT NULL) = (reason = 'report'));
CREATE INDEX tds_alert_deliveries_report ON tds_alert_deliveries (report_id, id) WHERE report_id IS NOT NULL;

INSERT INTO tds_configuration (key, version, value, description) VALUES
    ('schedule.dlq_digest_cron', 1, '"0 8 * * 1"',
     'When the weekly dead-letter digest goes out (cron, in schedule.timezone)'),
    ('schedule.performance_report_cron', 1, '"0 8 1 * *"',
     'When the monthly performance summary of the previous month goes out (cron, in schedule.timezone)'),
    ('reports.channels', 1, 'null',
     'Alert channels (by name) that receive the reports; null = every enabled channel, [] = none'),
    ('reports.dashboard_url', 1, 'null',
     'Public address of the dashboard (e.g. https://tds.example.com) for links in the reports'),
    ('reports.top_errors', 1, '5', 'How many of the most frequent open dead-letter errors the digest lists');
"""

DOWNGRADE = """
DELETE FROM tds_configuration WHERE key IN ('schedule.dlq_digest_cron', 'schedule.performance_report_cron',
                                            'reports.channels', 'reports.dashboard_url', 'reports.top_errors');
DELETE FROM tds_alert_deliveries WHERE report_id IS NOT NULL;
DROP INDEX IF EXISTS tds_alert_deliveries_report;
ALTER TABLE tds_alert_deliveries
    DROP CONSTRAINT tds_alert_deliveries_report_reason,
    DROP CONSTRAINT tds_alert_deliveries_one_subject,
    DROP CONSTRAINT tds_alert_deliveries_reason_check,
    ADD CONSTRAINT tds_alert_deliveries_reason_check
        CHECK (reason IN ('opened', 'escalated', 'resolved', 'reopened')),
    DROP COLUMN report_id,
    ALTER COLUMN alert_id SET NOT NULL;
DROP TABLE IF EXISTS tds_reports;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
