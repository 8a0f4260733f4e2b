-- ERP conflicts (tds_conflicts): rows changed outside TDS that an event met. Written by the
-- worker's apply (one statement per batch that met any), listed and resolved by operators.

-- name: conflicts_record_batch
-- The conflicts of one batch, from a JSON array: rows resolved by their policy (source_wins,
-- preserve_columns), and held instances (one object per instance), each joining the instance's open
-- conflict when it has one; returns the conflicts written.
INSERT INTO tds_conflicts AS c (entity, zoho_id, erp_table, row_key, policy, status, resolution, queue_id,
                                inbox_event_id, held_queue_ids, operation, source_version, content_hash,
                                payload, source_row, local_row, written, changed_columns, resolved_at,
                                resolved_by)
SELECT x.entity, x.zoho_id, x.erp_table, x.row_key, x.policy, x.status, x.resolution, x.queue_id,
       x.inbox_event_id, coalesce(x.held_queue_ids, '{}'), x.operation, x.source_version, x.content_hash,
       x.payload, x.source_row, x.local_row, x.written, coalesce(x.changed_columns, '{}'),
       CASE WHEN x.status = 'resolved' THEN now() END, CASE WHEN x.status = 'resolved' THEN 'tds' END
FROM jsonb_to_recordset($1::jsonb) AS x(entity text, zoho_id text, erp_table text, row_key text, policy text,
     status text, resolution text, queue_id bigint, inbox_event_id bigint, held_queue_ids bigint[],
     operation tds_operation, source_version timestamptz, content_hash text, payload jsonb, source_row jsonb,
     local_row jsonb, written jsonb, changed_columns text[])
ON CONFLICT (entity, zoho_id) WHERE status = 'open' DO UPDATE
SET held_queue_ids = c.held_queue_ids || EXCLUDED.held_queue_ids,
    -- the newest held event is the one shown and compared (an older one that arrives late is held too)
    queue_id = CASE WHEN EXCLUDED.source_version >= c.source_version THEN EXCLUDED.queue_id ELSE c.queue_id END,
    inbox_event_id = CASE WHEN EXCLUDED.source_version >= c.source_version
                          THEN EXCLUDED.inbox_event_id ELSE c.inbox_event_id END,
    operation = CASE WHEN EXCLUDED.source_version >= c.source_version THEN EXCLUDED.operation ELSE c.operation END,
    content_hash = CASE WHEN EXCLUDED.source_version >= c.source_version
                        THEN EXCLUDED.content_hash ELSE c.content_hash END,
    payload = CASE WHEN EXCLUDED.source_version >= c.source_version THEN EXCLUDED.payload ELSE c.payload END,
    source_row = CASE WHEN EXCLUDED.source_version >= c.source_version
                      THEN EXCLUDED.source_row ELSE c.source_row END,
    source_version = greatest(c.source_version, EXCLUDED.source_version),
    -- the ERP row as it was found last (local edits may have gone on)
    local_row = coalesce(EXCLUDED.local_row, c.local_row),
    written = coalesce(EXCLUDED.written, c.written),
    changed_columns = CASE WHEN cardinality(EXCLUDED.changed_columns) > 0
                           THEN EXCLUDED.changed_columns ELSE c.changed_columns END,
    updated_at = now()
RETURNING c.id, c.entity, c.zoho_id, c.status;

-- name: conflicts_page
-- Conflicts matching a filter (each part optional), newest first, one page before the keyset id $4.
SELECT id, entity, zoho_id, erp_table, row_key, policy, status, resolution, queue_id, inbox_event_id,
       cardinality(held_queue_ids) AS held_events, operation::text AS operation, source_version,
       changed_columns, detected_at, updated_at, resolved_at, resolved_by, note
FROM tds_conflicts
WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR entity = $2)
  AND ($3::text IS NULL OR zoho_id = $3) AND ($4::bigint IS NULL OR id < $4)
ORDER BY id DESC
LIMIT $5;

-- name: conflicts_get
-- One conflict with the event's payload, the rows compared and the held queue rows.
SELECT id, entity, zoho_id, erp_table, row_key, policy, status, resolution, queue_id, inbox_event_id,
       held_queue_ids, cardinality(held_queue_ids) AS held_events, operation::text AS operation,
       source_version, content_hash, payload, source_row, local_row, written, changed_columns, detected_at,
       updated_at, resolved_at, resolved_by, note
FROM tds_conflicts WHERE id = $1;

-- name: conflicts_lock_one
-- One conflict's state, locked for the rest of the transaction (its resolution).
SELECT id, entity, zoho_id, status, resolution, resolved_by, resolved_at, held_queue_ids, source_version,
       content_hash, payload, operation::text AS operation
FROM tds_conflicts WHERE id = $1 FOR UPDATE;

-- name: conflicts_resolve_open
-- An operator's resolution of an open conflict (guarded: a resolved one is not touched).
UPDATE tds_conflicts
SET status = 'resolved', resolution = $2, resolved_by = $3, resolved_at = now(), note = $4, updated_at = now()
WHERE id = $1 AND status = 'open'
RETURNING id;

-- name: conflicts_requeue_held
-- apply_source: the held queue rows ($1) go back to pending with attempts reset (the version guard
-- decides again), each with a note in its attempt history and a 'replayed' sync-log row.
WITH requeued AS (
    UPDATE tds_sync_queue q
    SET status = 'pending', attempts = 0, next_attempt_at = now(), finished_at = NULL, updated_at = now(),
        attempt_history = q.attempt_history || jsonb_build_array(jsonb_build_object(
            'at', now(), 'event', 'conflict resolved: apply the source', 'by', $2::text, 'conflict', $3::bigint))
    WHERE q.id = ANY($1::bigint[]) AND q.status = 'held'
    RETURNING q.id, q.inbox_event_id, q.entity, q.zoho_id
), logged AS (
    INSERT INTO tds_sync_logs (queue_id, inbox_event_id, entity, zoho_id, outcome, message)
    SELECT id, inbox_event_id, entity, zoho_id, 'replayed',
           'conflict ' || $3::bigint || ' resolved by ' || $2::text || ': apply the source'
    FROM requeued
)
SELECT id FROM requeued ORDER BY id;

-- name: conflicts_discard_held
-- keep_local: the held queue rows ($1) end skipped_unchanged (the ERP row is accepted for their
-- version), each with a note in its attempt history and a 'discarded' sync-log row.
WITH discarded AS (
    UPDATE tds_sync_queue q
    SET status = 'skipped_unchanged', finished_at = now(), updated_at = now(),
        attempt_history = q.attempt_history || jsonb_build_array(jsonb_build_object(
            'at', now(), 'event', 'conflict resolved: keep the local row', 'by', $2::text, 'conflict', $3::bigint))
    WHERE q.id = ANY($1::bigint[]) AND q.status = 'held'
    RETURNING q.id, q.inbox_event_id, q.entity, q.zoho_id
), logged AS (
    INSERT INTO tds_sync_logs (queue_id, inbox_event_id, entity, zoho_id, outcome, message)
    SELECT id, inbox_event_id, entity, zoho_id, 'discarded',
           'conflict ' || $3::bigint || ' resolved by ' || $2::text || ': keep the local row'
    FROM discarded
)
SELECT id FROM discarded ORDER BY id;

-- name: conflicts_open_summary
-- Open conflicts (held for an operator): how many, and since when the oldest waits (alert rule).
SELECT count(*)::int AS open, min(detected_at) AS oldest_at FROM tds_conflicts WHERE status = 'open';
