-- name: replay_inbox_bounds
-- Inbox events a replay selects (received in [$1, $2), optionally one entity, of the statuses $4):
-- how many, and the id range a replay walks (fixed when it starts, so later arrivals are not included).
SELECT count(*)::int AS matched, coalesce(min(id), 0) AS first_id, coalesce(max(id), 0) AS last_id
FROM tds_inbox_events
WHERE received_at >= $1 AND received_at < $2 AND ($3::text IS NULL OR entity = $3) AND status = ANY($4::text[]);

-- name: replay_inbox_batch
-- The next batch of selected inbox events with their raw bodies, in arrival (id) order after the
-- keyset id $5, up to id $6.
SELECT id, entity, status, operation::text AS operation, content_type, headers, body, received_at
FROM tds_inbox_events
WHERE id > $5 AND id <= $6
  AND received_at >= $1 AND received_at < $2 AND ($3::text IS NULL OR entity = $3) AND status = ANY($4::text[])
ORDER BY id
LIMIT $7;

-- name: replay_enqueue_batch
-- Queue re-staged inbox events ($1: a JSON array, one object per event) as new queue rows of the
-- same inbox events, replayed by $2 in job $3; returns the new queue row ids.
WITH staged AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(inbox_event_id bigint, entity text, zoho_id text,
        operation tds_operation, source_version timestamptz, content_hash text, payload jsonb)
), queued AS (
    -- A new queue row per event (the original keeps its outcome and audit rows), marked as a replay.
    -- Its received_at is now (the default): latency metrics measure the replay, not the days since
    -- the first delivery; the inbox row keeps that first receipt, and the version was taken from it.
    INSERT INTO tds_sync_queue (inbox_event_id, entity, zoho_id, operation, source_version, content_hash,
                                payload, attempt_history)
    SELECT inbox_event_id, entity, zoho_id, operation, source_version, content_hash, payload,
           jsonb_build_array(jsonb_build_object('at', now(), 'event', 'replayed from the inbox', 'by', $2::text,
                                                'job', $3::bigint))
    FROM staged
    RETURNING id, inbox_event_id, entity, zoho_id
), accepted AS (
    -- A rejected event that validates now is queued: its inbox row says so (the old reasons are kept).
    UPDATE tds_inbox_events i
    SET status = 'queued', operation = coalesce(i.operation, s.operation)
    FROM staged s
    WHERE i.id = s.inbox_event_id AND i.status = 'rejected'
), logged AS (
    -- One sync-log row per queued event: the trace of an inbox event shows each replay.
    INSERT INTO tds_sync_logs (queue_id, inbox_event_id, entity, zoho_id, outcome, message)
    SELECT id, inbox_event_id, entity, zoho_id, 'replayed',
           'replayed from the inbox by ' || $2::text || ' (job ' || $3::bigint || ')'
    FROM queued
)
SELECT id FROM queued ORDER BY id;
