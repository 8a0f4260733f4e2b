-- name: status_health_summary
-- Counts by state, DLQ size, oldest pending age, alerts and workers (the database function).
SELECT tds_health_summary($1::timestamptz) AS summary;

-- name: retention_cleanup
-- One bounded pass of the retention clean-up (the database function); counts per table.
SELECT table_name, deleted FROM tds_retention_cleanup($1::timestamptz, $2, $3, $4, $5, $6);

-- name: scheduler_try_lead
-- Try to become the one scheduler (a session lock: released when the leader's session ends).
SELECT pg_try_advisory_lock(7312002);
