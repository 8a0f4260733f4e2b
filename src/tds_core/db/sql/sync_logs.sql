-- name: sync_logs_insert_batch
-- Sync-log rows for one batch, from a JSON array (one round trip). The end-to-end latency is
-- taken here, as the last statement before the commit: receipt (received_at) to now.
INSERT INTO tds_sync_logs (queue_id, inbox_event_id, entity, zoho_id, outcome, attempt, worker_id,
                           duration_ms, latency_ms, message)
SELECT queue_id, inbox_event_id, entity, zoho_id, outcome, attempt, worker_id, duration_ms,
       coalesce(latency_ms, extract(epoch FROM clock_timestamp() - received_at) * 1000.0), message
FROM jsonb_to_recordset($1::jsonb) AS x(queue_id bigint, inbox_event_id bigint, entity text, zoho_id text,
     outcome text, attempt integer, worker_id text, duration_ms float8, latency_ms float8, message text,
     received_at timestamptz);
