-- name: status_health_summary
-- Counts by state, DLQ size, oldest pending age, alerts and workers (the database function).
SELECT tds_health_summary($1::timestamptz) AS summary;

-- name: status_ping
-- Is the database reachable?
SELECT 1;
