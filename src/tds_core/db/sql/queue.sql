-- name: queue_claim_batch
-- Lease up to $2 ready events to worker $1 for $4 seconds, oldest first.
WITH ready AS (
    -- Ready rows via the partial index; SKIP LOCKED lets many workers claim side by side.
    SELECT id FROM tds_sync_queue
    WHERE status = 'pending' AND next_attempt_at <= coalesce($3::timestamptz, now())
    ORDER BY next_attempt_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE tds_sync_queue q
SET status = 'processing', locked_by = $1,
    locked_until = coalesce($3::timestamptz, now()) + make_interval(secs => $4),
    attempts = q.attempts + 1, claimed_at = coalesce($3::timestamptz, now()), updated_at = now()
FROM ready
WHERE q.id = ready.id
RETURNING q.id, q.inbox_event_id, q.entity, q.zoho_id, q.operation::text AS operation, q.source_version,
          q.content_hash, q.payload, q.attempts, q.received_at, q.enqueued_at,
          -- the request's correlation id, so the worker's log lines for this event carry it
          (SELECT i.correlation_id FROM tds_inbox_events i WHERE i.id = q.inbox_event_id) AS correlation_id,
          -- where the event came from: the audit trail names reconciliation's own changes
          (SELECT i.source FROM tds_inbox_events i WHERE i.id = q.inbox_event_id) AS source;

-- name: queue_lock_leased
-- At the start of the apply transaction: lock the rows this worker still leases. Rows missing
-- from the answer were rescued by someone else and must not be applied.
SELECT id FROM tds_sync_queue
WHERE id = ANY($1::bigint[]) AND status = 'processing' AND locked_by = $2
ORDER BY id
FOR UPDATE;

-- name: queue_finish_if_leased
-- Mark applied/skipped events finished, guarded by the lease owner.
UPDATE tds_sync_queue q
SET status = x.status::tds_queue_state, finished_at = now(), locked_by = NULL, locked_until = NULL,
    last_error = NULL, error_class = NULL, updated_at = now()
FROM unnest($1::bigint[], $2::text[]) AS x(id, status)
WHERE q.id = x.id AND q.status = 'processing' AND q.locked_by = $3;

-- name: queue_retry_if_leased
-- A retryable failure: back to pending after a backoff, with the attempt recorded.
UPDATE tds_sync_queue
SET status = 'pending', locked_by = NULL, locked_until = NULL,
    next_attempt_at = now() + make_interval(secs => $3), last_error = $4, error_class = $5,
    attempt_history = attempt_history || $6::jsonb, updated_at = now()
WHERE id = $1 AND status = 'processing' AND locked_by = $2;

-- name: queue_retry_now_after_outage
-- The worker's breaker closed again after an outage that began at $1: the events that failed
-- for a retryable reason since then are ready now, not after the rest of their backoff.
UPDATE tds_sync_queue
SET next_attempt_at = now(), updated_at = now()
WHERE status = 'pending' AND next_attempt_at > now() AND error_class = 'retryable' AND updated_at >= $1
RETURNING id;

-- name: queue_dead_if_leased
-- A permanent failure or the last attempt: the queue row ends dead and a DLQ row is written.
WITH dead AS (
    UPDATE tds_sync_queue
    SET status = 'dead', locked_by = NULL, locked_until = NULL, finished_at = now(), last_error = $3,
        error_class = $4, attempt_history = attempt_history || $5::jsonb, updated_at = now()
    WHERE id = $1 AND status = 'processing' AND locked_by = $2
    RETURNING id, inbox_event_id, entity, zoho_id, operation, source_version, payload, last_error,
              error_class, attempts, attempt_history
)
INSERT INTO tds_dead_letter_queue (queue_id, inbox_event_id, entity, zoho_id, operation, source_version,
                                   payload, error, error_class, attempts, attempt_history)
SELECT id, inbox_event_id, entity, zoho_id, operation, source_version, payload, last_error, error_class,
       attempts, attempt_history
FROM dead
RETURNING id;

-- name: queue_renew_leases
-- Extend this worker's leases on rows it is still working on (rows locked by its own apply
-- transaction are skipped: they cannot be rescued while locked anyway).
UPDATE tds_sync_queue SET locked_until = now() + make_interval(secs => $3), updated_at = now()
WHERE id IN (
    SELECT id FROM tds_sync_queue
    WHERE id = ANY($1::bigint[]) AND status = 'processing' AND locked_by = $2
    FOR UPDATE SKIP LOCKED
);

-- name: queue_rescue_expired
-- Give back to the queue, in bounded batches, the leases of workers that are gone (expired, or
-- the owner's liveness lock is gone: see tds_lease_abandoned and workers_hold_liveness_lock).
-- Rows whose owner is still applying them are locked by its transaction and skipped. Only events with
-- attempts left (< $3) come back; exhausted ones are dead-lettered by queue_dead_exhausted.
WITH expired AS (
    SELECT q.id FROM tds_sync_queue q
    WHERE q.status = 'processing' AND q.attempts < $3
      AND tds_lease_abandoned(q.locked_by, q.claimed_at, q.locked_until, $1::timestamptz)
    ORDER BY q.locked_until
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE tds_sync_queue q
SET status = 'pending', next_attempt_at = coalesce($1::timestamptz, now()),
    attempt_history = q.attempt_history || jsonb_build_array(jsonb_build_object(
        'attempt', q.attempts, 'at', coalesce($1::timestamptz, now()), 'worker', q.locked_by,
        'error', 'lease expired: the worker stopped or stalled', 'class', 'retryable')),
    locked_by = NULL, locked_until = NULL, updated_at = now()
FROM expired
WHERE q.id = expired.id
RETURNING q.id, q.entity, q.zoho_id, q.attempts;

-- name: queue_dead_exhausted
-- Leases of gone workers on events that used their last attempt (e.g. an event that crashes
-- every worker that takes it): dead-letter them instead of handing them out again.
WITH exhausted AS (
    SELECT q.id FROM tds_sync_queue q
    WHERE q.status = 'processing' AND q.attempts >= $3
      AND tds_lease_abandoned(q.locked_by, q.claimed_at, q.locked_until, $1::timestamptz)
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), dead AS (
    UPDATE tds_sync_queue q
    SET status = 'dead', finished_at = now(), error_class = 'retryable',
        last_error = 'the worker stopped while holding this event on its last attempt',
        attempt_history = q.attempt_history || jsonb_build_array(jsonb_build_object(
            'attempt', q.attempts, 'at', coalesce($1::timestamptz, now()), 'worker', q.locked_by,
            'error', 'lease lost on the last attempt: the worker stopped or stalled', 'class', 'retryable')),
        locked_by = NULL, locked_until = NULL, updated_at = now()
    FROM exhausted
    WHERE q.id = exhausted.id
    RETURNING q.id, q.inbox_event_id, q.entity, q.zoho_id, q.operation, q.source_version, q.payload,
              q.last_error, q.error_class, q.attempts, q.attempt_history
)
INSERT INTO tds_dead_letter_queue (queue_id, inbox_event_id, entity, zoho_id, operation, source_version,
                                   payload, error, error_class, attempts, attempt_history)
SELECT id, inbox_event_id, entity, zoho_id, operation, source_version, payload, last_error, error_class,
       attempts, attempt_history
FROM dead
RETURNING queue_id;

-- name: queue_release_worker
-- On shutdown: hand back anything this worker still leases, without spending an attempt.
UPDATE tds_sync_queue
SET status = 'pending', locked_by = NULL, locked_until = NULL, next_attempt_at = now(),
    attempts = greatest(attempts - 1, 0), updated_at = now()
WHERE status = 'processing' AND locked_by = $1
RETURNING id;

-- name: queue_release_leased
-- A batch lost its database connection (the apply rolled back): hand these events back at once,
-- without spending an attempt, instead of leaving them leased until the lease runs out.
UPDATE tds_sync_queue
SET status = 'pending', locked_by = NULL, locked_until = NULL, next_attempt_at = now(),
    attempts = greatest(attempts - 1, 0), updated_at = now()
WHERE id = ANY($1::bigint[]) AND status = 'processing' AND locked_by = $2
RETURNING id;

-- name: queue_notify
-- Ring the workers' doorbell (an empty payload: NOTIFY is a wake-up, not a message).
SELECT pg_notify('tds_queue', '');
