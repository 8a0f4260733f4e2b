-- Reports: the weekly dead-letter digest and the monthly performance summary, one row per kind
-- and period (tds_reports), their deliveries (rows of tds_alert_deliveries with a report_id),
-- and the period aggregates the reports need beyond the stats and dead-letter queries.

-- name: reports_insert
-- Record a report for its period; nothing when that kind and period already has one (another scheduler, a restart).
INSERT INTO tds_reports (kind, period_start, period_end, created_at, created_by, subject, text_body, chat_body, data)
VALUES ($1, $2, $3, coalesce($4::timestamptz, now()), $5, $6, $7, $8, $9::jsonb)
ON CONFLICT (kind, period_start) DO NOTHING
RETURNING id;

-- name: reports_deliveries_insert
-- Queue a report's deliveries ($1 now, $2 report id, then arrays: channels, channel types).
INSERT INTO tds_alert_deliveries (report_id, reason, level, channel, channel_type, next_attempt_at, created_at)
SELECT $2, 'report', 0, d.channel, d.channel_type, coalesce($1::timestamptz, now()), coalesce($1::timestamptz, now())
FROM unnest($3::text[], $4::text[]) AS d(channel, channel_type)
RETURNING id;

-- name: reports_list
-- Reports newest first, optionally of one kind ($1), before id $2, at most $3; with how their deliveries stand.
SELECT r.id, r.kind, r.period_start, r.period_end, r.created_at, r.created_by, r.subject,
       count(d.id)::int AS deliveries,
       count(d.id) FILTER (WHERE d.status = 'sent')::int AS sent,
       count(d.id) FILTER (WHERE d.status = 'pending')::int AS pending,
       count(d.id) FILTER (WHERE d.status = 'failed')::int AS failed
FROM tds_reports r
LEFT JOIN tds_alert_deliveries d ON d.report_id = r.id
WHERE ($1::text IS NULL OR r.kind = $1) AND ($2::bigint IS NULL OR r.id < $2)
GROUP BY r.id
ORDER BY r.id DESC
LIMIT $3;

-- name: reports_get
-- One report with its bodies and figures.
SELECT id, kind, period_start, period_end, created_at, created_by, subject, text_body, chat_body, data
FROM tds_reports WHERE id = $1;

-- name: reports_find
-- The report of one kind and period, if it was made.
SELECT id, kind, period_start, period_end, created_at, created_by, subject, text_body, chat_body, data
FROM tds_reports WHERE kind = $1 AND period_start = $2;

-- name: reports_deliveries
-- One report's deliveries in order.
SELECT id, channel, channel_type, status, attempts, last_error, next_attempt_at, created_at, sent_at
FROM tds_alert_deliveries WHERE report_id = $1
ORDER BY id;

-- name: reports_alerts_opened
-- Alerts opened in [$1, $2) per rule and severity (the monthly summary).
SELECT rule, severity, count(*)::int AS opened
FROM tds_alerts
WHERE first_seen_at >= $1 AND first_seen_at < $2
GROUP BY rule, severity
ORDER BY opened DESC, rule, severity;

-- name: reports_reconciliations
-- Reconciliation runs started in [$1, $2) per entity: how many, how they ended, and the drift they found.
SELECT entity,
       count(*)::int AS runs,
       count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
       count(*) FILTER (WHERE status = 'failed')::int AS failed,
       count(*) FILTER (WHERE drift > 0)::int AS with_drift,
       coalesce(sum(drift), 0)::int AS drift
FROM tds_sync_runs
WHERE kind = 'reconcile' AND started_at >= $1 AND started_at < $2
GROUP BY entity
ORDER BY entity;

-- name: reports_zoho_calls_by_day
-- Zoho API calls per UTC day (the quota's day) over the rolled minutes in [$1, $2).
SELECT date_trunc('day', bucket_start, 'UTC') AS day, sum(value)::float8 AS calls
FROM tds_metrics
WHERE name = 'zoho_calls' AND resolution_s = 60 AND bucket_start >= $1 AND bucket_start < $2
GROUP BY 1
ORDER BY 1;
