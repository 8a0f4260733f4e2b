"""Operations plane: users and roles, the operator action log, background jobs (bulk replay),
alert deliveries and silences, and the configuration keys of auth, rate limits and alerting.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
-- ---------------------------------------------------------------- users and roles
CREATE TABLE tds_users (
    id                  bigserial PRIMARY KEY,
    username            text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
    password_hash       text NOT NULL,            -- argon2id, never the password
    role                text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by          text NOT NULL DEFAULT 'cli',
    disabled_at         timestamptz,
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    last_login_at       timestamptz,
    -- Bumped to revoke every refresh token issued so far (password change, disable, role change).
    token_generation    integer NOT NULL DEFAULT 1
);

-- ---------------------------------------------------------------- operator actions (append-only)
-- Who did what and when: replay, discard, configuration change, key change, alert ack, ...
CREATE TABLE tds_operator_actions (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,
    role       text,
    via        text NOT NULL DEFAULT 'api' CHECK (via IN ('api', 'cli', 'scheduler')),
    action     text NOT NULL,
    target     text,
    details    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX tds_operator_actions_at ON tds_operator_actions (at DESC);
CREATE INDEX tds_operator_actions_action ON tds_operator_actions (action, at DESC);
CREATE FUNCTION tds_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER tds_operator_actions_no_update BEFORE UPDATE OR DELETE ON tds_operator_actions
    FOR EACH ROW EXECUTE FUNCTION tds_append_only();
CREATE TRIGGER tds_operator_actions_no_truncate BEFORE TRUNCATE ON tds_operator_actions
    FOR EACH STATEMENT EXECUTE FUNCTION tds_append_only();

-- ---------------------------------------------------------------- background jobs
-- Long operator actions (bulk DLQ replay, inbox replay, manual sync, reconciliation) run as jobs with
-- progress and can be cancelled: the runner checks cancel_requested between bounded batches.
CREATE TABLE tds_jobs (
    id               bigserial PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('dlq_replay', 'inbox_replay', 'sync', 'reconcile')),
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'completed', 'cancelled', 'failed')),
    params           jsonb NOT NULL DEFAULT '{}'::jsonb,
    total            integer NOT NULL DEFAULT 0,
    done             integer NOT NULL DEFAULT 0,
    skipped          integer NOT NULL DEFAULT 0,
    cancel_requested boolean NOT NULL DEFAULT false,
    result           jsonb NOT NULL DEFAULT '{}'::jsonb,
    runner           text,                  -- the process running it (host:pid)
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    heartbeat_at     timestamptz,
    finished_at      timestamptz,
    error            text
);
CREATE INDEX tds_jobs_created_at ON tds_jobs (created_at DESC);

-- ---------------------------------------------------------------- alerts: escalation, deliveries, silences
ALTER TABLE tds_alerts
    ADD COLUMN escalation_level integer NOT NULL DEFAULT 0,
    ADD COLUMN escalated_at     timestamptz,
    ADD COLUMN silenced_by      text,
    ADD COLUMN note             text;

-- One row per notification sent (or tried) to one channel: retried with backoff, results kept.
CREATE TABLE tds_alert_deliveries (
    id              bigserial PRIMARY KEY,
    alert_id        bigint NOT NULL REFERENCES tds_alerts (id) ON DELETE CASCADE,
    reason          text NOT NULL CHECK (reason IN ('opened', 'escalated', 'resolved', 'reopened')),
    level           integer NOT NULL DEFAULT 0,
    channel         text NOT NULL,           -- the channel's configured name
    channel_type    text NOT NULL CHECK (channel_type IN ('email', 'slack', 'telegram', 'webhook')),
    recipient       text,                    -- who was on call, if any
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX tds_alert_deliveries_pending ON tds_alert_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX tds_alert_deliveries_alert ON tds_alert_deliveries (alert_id, id);

-- A silence mutes matching alerts (by rule, by fingerprint, or both) until it ends.
CREATE TABLE tds_alert_silences (
    id          bigserial PRIMARY KEY,
    rule        text,
    fingerprint text,
    starts_at   timestamptz NOT NULL DEFAULT now(),
    ends_at     timestamptz NOT NULL,
    reason      text NOT NULL DEFAULT '',
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (rule IS NOT NULL OR fingerprint IS NOT NULL),
    CHECK (ends_at > starts_at)
);
CREATE INDEX tds_alert_silences_ends ON tds_alert_silences (ends_at);

-- ---------------------------------------------------------------- configuration keys
INSERT INTO tds_configuration (key, version, value, description) VALUES
    ('auth.access_token_minutes', 1, '15', 'Lifetime of an access token (JWT)'),
    ('auth.refresh_token_hours', 1, '12', 'Lifetime of a refresh token'),
    ('ratelimit.login_per_minute', 1, '10', 'Login attempts per client address and minute (per API process)'),
    ('ratelimit.webhooks_per_second', 1, '5000',
     'Webhooks per API key and second, with a burst of the same size (per API process)'),
    ('alerts.evaluate_seconds', 1, '5', 'How often the scheduler evaluates the alert rules'),
    ('alerts.failure_rate', 1, '0.05', 'Alert when more than this share of finished events failed'),
    ('alerts.failure_window_seconds', 1, '300', 'Window of the failure-rate rule'),
    ('alerts.failure_min_events', 1, '20', 'Finished events in the window before the failure rate counts'),
    ('alerts.backlog', 1, '1000', 'Alert when more events than this are waiting'),
    ('alerts.sync_lag_minutes', 1, '15', 'Alert when an entity has not pulled successfully for this long'),
    ('alerts.dlq_growth', 1, '10', 'Alert when this many events were dead-lettered in the growth window'),
    ('alerts.dlq_growth_window_seconds', 1, '900', 'Window of the DLQ growth rule'),
    ('alerts.dlq_max_age_hours', 1, '24', 'Alert when an open dead letter is older than this'),
    ('alerts.quota_remaining_fraction', 1, '0.1', 'Alert when less than this share of the Zoho daily quota is left'),
    ('alerts.heartbeat_missing_seconds', 1, '60', 'Alert when a running worker has not beaten for this long'),
    ('alerts.cpu_percent', 1, '90', 'Host CPU use that raises an alert'),
    ('alerts.memory_percent', 1, '90', 'Host memory use that raises an alert'),
    ('alerts.disk_percent', 1, '90', 'Disk use (of TDS_HOME) that raises an alert'),
    ('alerts.db_connections_percent', 1, '80', 'Share of max_connections in use that raises an alert'),
    ('alerts.escalate_after_minutes', 1, '15', 'Unacknowledged this long: notify the next on-call level'),
    ('alerts.channels', 1, '[]', 'Notification channels: email, slack, telegram, webhook (secrets masked on read)'),
    ('alerts.oncall', 1, '{"rotation": "weekly", "starts_at": "2026-01-05T09:00:00+00:00", "levels": []}',
     'On-call rotation: escalation levels, each with members taking turns and the channels to notify'),
    ('metrics.rollup_seconds', 1, '60', 'How often the metrics roll-up writes tds_metrics');
"""

DOWNGRADE = """
DELETE FROM tds_configuration WHERE key LIKE 'auth.%' OR key LIKE 'ratelimit.%' OR key LIKE 'alerts.%'
    OR key LIKE 'metrics.%';
DROP TABLE IF EXISTS tds_alert_silences, tds_alert_deliveries, tds_jobs, tds_operator_actions, tds_users;
DROP FUNCTION IF EXISTS tds_append_only();
ALTER TABLE tds_alerts DROP COLUMN IF EXISTS escalation_level, DROP COLUMN IF EXISTS escalated_at,
    DROP COLUMN IF EXISTS silenced_by, DROP COLUMN IF EXISTS note;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
