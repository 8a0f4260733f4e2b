-- name: dlq_get
-- One dead letter with its payload and attempt history.
SELECT id, queue_id, inbox_event_id, entity, zoho_id, operation::text AS operation, source_version, payload,
       error, error_class, attempts, attempt_history, status, created_at, resolved_at, resolved_by,
       resolution_note
FROM tds_dead_letter_queue WHERE id = $1;

-- name: dlq_for_queue_rows
-- The dead letters of some queue rows (a replayed event that failed again has more than one).
SELECT id, queue_id, inbox_event_id, entity, zoho_id, operation::text AS operation, source_version, payload,
       error, error_class, attempts, attempt_history, status, created_at, resolved_at, resolved_by,
       resolution_note
FROM tds_dead_letter_queue WHERE queue_id = ANY($1::bigint[]) ORDER BY id;

-- name: dlq_page
-- Dead letters matching a filter (each part optional; the error filter is a literal, case-blind
-- substring), newest first, one page before the keyset id $6.
SELECT id, queue_id, inbox_event_id, entity, zoho_id, operation::text AS operation, error, error_class,
       attempts, status, created_at, resolved_at, resolved_by, resolution_note
FROM tds_dead_letter_queue
WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR entity = $2)
  AND ($3::text IS NULL OR zoho_id = $3) AND ($4::text IS NULL OR strpos(lower(error), lower($4)) > 0)
  AND ($5::text IS NULL OR error_class = $5) AND ($6::bigint IS NULL OR id < $6)
ORDER BY id DESC
LIMIT $7;

-- name: dlq_lock_one
-- One dead letter's state, locked for the rest of the transaction (replay or discard of one letter).
SELECT id, status, resolved_by, resolved_at FROM tds_dead_letter_queue WHERE id = $1 FOR UPDATE;

-- name: dlq_open_bounds
-- Open dead letters matching a filter ($5: an id list, or NULL), oldest first, capped at $6: how
-- many, and the last id (a bulk job replays those and no later arrival, not even its own failures).
SELECT count(*)::int AS total, coalesce(max(id), 0) AS upto
FROM (
    SELECT id FROM tds_dead_letter_queue
    WHERE status = 'open' AND ($1::text IS NULL OR entity = $1) AND ($2::text IS NULL OR zoho_id = $2)
      AND ($3::text IS NULL OR strpos(lower(error), lower($3)) > 0) AND ($4::text IS NULL OR error_class = $4)
      AND ($5::bigint[] IS NULL OR id = ANY($5))
    ORDER BY id
    LIMIT $6
) AS chosen;

-- name: dlq_open_after
-- The next open dead letters matching a filter, in id order after the keyset id $6, up to id $7.
SELECT id FROM tds_dead_letter_queue
WHERE status = 'open' AND id > $6 AND id <= $7
  AND ($1::text IS NULL OR entity = $1) AND ($2::text IS NULL OR zoho_id = $2)
  AND ($3::text IS NULL OR strpos(lower(error), lower($3)) > 0) AND ($4::text IS NULL OR error_class = $4)
  AND ($5::bigint[] IS NULL OR id = ANY($5))
ORDER BY id
LIMIT $8;

-- name: dlq_requeue
-- Replay open dead letters (by id): each letter is resolved and its queue row goes back to pending
-- with attempts reset, in one statement; returns the letters replayed (the others were not open).
WITH letters AS (
    -- Open letters whose queue row is still dead, locked in id order: a letter that another
    -- operator is replaying or discarding right now is re-checked after their commit and drops
    -- out, so no letter is ever replayed twice.
    SELECT d.id, d.queue_id FROM tds_dead_letter_queue d
    JOIN tds_sync_queue q ON q.id = d.queue_id AND q.status = 'dead'
    WHERE d.id = ANY($1::bigint[]) AND d.status = 'open'
    ORDER BY d.id
    FOR UPDATE OF d, q
), resolved AS (
    -- The letters: replayed, by whom, when and why.
    UPDATE tds_dead_letter_queue d
    SET status = 'replayed', resolved_at = now(), resolved_by = $2, resolution_note = $3
    FROM letters
    WHERE d.id = letters.id AND d.status = 'open'
    RETURNING d.id, d.queue_id
), requeued AS (
    -- Their queue rows: ready again, attempts reset, the replay kept in the attempt history.
    UPDATE tds_sync_queue q
    SET status = 'pending', attempts = 0, next_attempt_at = now(), finished_at = NULL, last_error = NULL,
        error_class = NULL, updated_at = now(),
        attempt_history = q.attempt_history || jsonb_build_array(jsonb_build_object(
            'at', now(), 'event', 'replayed from the dead letter queue', 'by', $2, 'letter', resolved.id))
    FROM resolved
    WHERE q.id = resolved.queue_id AND q.status = 'dead'
    RETURNING q.id, q.entity, q.zoho_id, q.inbox_event_id
), logged AS (
    -- One sync-log row per replayed event, so its trace shows the replay.
    INSERT INTO tds_sync_logs (queue_id, inbox_event_id, entity, zoho_id, outcome, message)
    SELECT id, inbox_event_id, entity, zoho_id, 'replayed', 'replayed by ' || $2 FROM requeued
)
SELECT id, queue_id FROM resolved ORDER BY id;

-- name: dlq_discard_open
-- Discard open dead letters (by id) with a note; the queue rows stay dead. Returns the letters
-- discarded (the others were not open).
WITH resolved AS (
    UPDATE tds_dead_letter_queue
    SET status = 'discarded', resolved_at = now(), resolved_by = $2, resolution_note = $3
    WHERE id = ANY($1::bigint[]) AND status = 'open'
    RETURNING id, queue_id, inbox_event_id, entity, zoho_id
), logged AS (
    -- One sync-log row per discarded event, so its trace ends with who discarded it and why.
    INSERT INTO tds_sync_logs (queue_id, inbox_event_id, entity, zoho_id, outcome, message)
    SELECT queue_id, inbox_event_id, entity, zoho_id, 'discarded', 'discarded by ' || $2 || ': ' || $3
    FROM resolved
)
SELECT id, queue_id FROM resolved ORDER BY id;

-- name: dlq_period_by_entity
-- Per entity, dead letters added in [$1, $2) (and how many of those are still open), and letters replayed or discarded in it (the weekly digest).
SELECT entity,
       count(*) FILTER (WHERE created_at >= $1 AND created_at < $2)::int AS added,
       count(*) FILTER (WHERE created_at >= $1 AND created_at < $2 AND status = 'open')::int AS added_open,
       count(*) FILTER (WHERE status = 'replayed' AND resolved_at >= $1 AND resolved_at < $2)::int AS replayed,
       count(*) FILTER (WHERE status = 'discarded' AND resolved_at >= $1 AND resolved_at < $2)::int AS discarded
FROM tds_dead_letter_queue
WHERE (created_at >= $1 AND created_at < $2) OR (resolved_at >= $1 AND resolved_at < $2)
GROUP BY entity
ORDER BY entity;

-- name: dlq_open_by_class
-- Open dead letters per error class (the weekly digest).
SELECT error_class, count(*)::int AS letters
FROM tds_dead_letter_queue WHERE status = 'open'
GROUP BY error_class
ORDER BY error_class;

-- name: dlq_open_top_errors
-- The $1 most frequent errors (first 200 characters) of open dead letters, each with an example letter (its lowest id) and its entities.
SELECT left(error, 200) AS error, error_class, count(*)::int AS letters, min(id) AS example_id,
       array_agg(DISTINCT entity ORDER BY entity) AS entities, min(created_at) AS oldest_at
FROM tds_dead_letter_queue WHERE status = 'open'
GROUP BY 1, 2
ORDER BY letters DESC, example_id
LIMIT $1;

-- name: dlq_oldest_open
-- The open dead letter waiting longest (through the partial index of open letters).
SELECT id, entity, zoho_id, error, created_at
FROM tds_dead_letter_queue WHERE status = 'open'
ORDER BY created_at, id
LIMIT 1;
