-- name: dlq_list
-- Dead letters filtered by status, entity and zoho id (each filter optional), newest first.
SELECT id, queue_id, entity, zoho_id, operation::text AS operation, error, error_class, attempts, status,
       created_at, resolved_at, resolved_by
FROM tds_dead_letter_queue
WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR entity = $2)
  AND ($3::text IS NULL OR zoho_id = $3)
ORDER BY id DESC
LIMIT $4;

-- name: dlq_get
-- One dead letter with its payload and attempt history.
SELECT id, queue_id, inbox_event_id, entity, zoho_id, operation::text AS operation, source_version, payload,
       error, error_class, attempts, attempt_history, status, created_at, resolved_at, resolved_by,
       resolution_note
FROM tds_dead_letter_queue WHERE id = $1;

-- name: dlq_replay
-- Re-queue open dead letters (by id list) with attempts reset; records who and when.
WITH letters AS (
    -- Lock the open letters so two operators cannot replay the same one twice.
    UPDATE tds_dead_letter_queue
    SET status = 'replayed', resolved_at = now(), resolved_by = $2, resolution_note = $3
    WHERE id = ANY($1::bigint[]) AND status = 'open'
    RETURNING id, queue_id
), requeued AS (
    UPDATE tds_sync_queue q
    SET status = 'pending', attempts = 0, next_attempt_at = now(), finished_at = NULL, last_error = NULL,
        error_class = NULL, updated_at = now(),
        attempt_history = q.attempt_history || jsonb_build_array(jsonb_build_object(
            'at', now(), 'event', 'replayed from the dead letter queue', 'by', $2))
    FROM letters
    WHERE q.id = letters.queue_id AND q.status = 'dead'
    RETURNING q.id, q.entity, q.zoho_id, q.inbox_event_id
)
INSERT INTO tds_sync_logs (queue_id, inbox_event_id, entity, zoho_id, outcome, message)
SELECT id, inbox_event_id, entity, zoho_id, 'replayed', 'replayed by ' || $2 FROM requeued
RETURNING queue_id;

-- name: dlq_discard
-- Dismiss open dead letters with a note; the queue rows stay dead.
WITH letters AS (
    UPDATE tds_dead_letter_queue
    SET status = 'discarded', resolved_at = now(), resolved_by = $2, resolution_note = $3
    WHERE id = ANY($1::bigint[]) AND status = 'open'
    RETURNING id, queue_id, inbox_event_id, entity, zoho_id
)
INSERT INTO tds_sync_logs (queue_id, inbox_event_id, entity, zoho_id, outcome, message)
SELECT queue_id, inbox_event_id, entity, zoho_id, 'discarded', 'discarded by ' || $2 || ': ' || $3
FROM letters
RETURNING queue_id;

-- name: dlq_open_ids
-- Open dead letters matching a filter (entity and error substring optional), oldest first.
SELECT id FROM tds_dead_letter_queue
WHERE status = 'open' AND ($1::text IS NULL OR entity = $1) AND ($2::text IS NULL OR error ILIKE '%' || $2 || '%')
ORDER BY id
LIMIT $3;

-- name: dlq_open_summary
-- Open dead letters: how many, and the age of the oldest.
SELECT count(*) AS open, extract(epoch FROM now() - min(created_at))::float8 AS oldest_age
FROM tds_dead_letter_queue WHERE status = 'open';
