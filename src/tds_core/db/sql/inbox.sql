-- name: inbox_accept_event
-- Store the raw event and its queue row in one statement; a repeated idempotency key inserts
-- nothing and names the first event instead.
WITH inserted AS (
    -- The inbox row. The partial unique index on idempotency_key turns a repeat into no row.
    INSERT INTO tds_inbox_events (entity, source, status, operation, zoho_id, idempotency_key, body_hash,
                                  content_type, headers, body, correlation_id, received_at)
    VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id
), queued AS (
    -- Its queue row, only when the inbox row is new: both commit together or not at all.
    INSERT INTO tds_sync_queue (inbox_event_id, entity, zoho_id, operation, source_version, content_hash,
                                payload, received_at)
    SELECT id, $1, $4, $3, $12, $13, $14, $11 FROM inserted
    RETURNING inbox_event_id
)
SELECT inbox_event_id AS event_id, 'queued' AS status FROM queued
UNION ALL
-- A repeat committed before this statement began: answer with the first event.
SELECT id, 'duplicate' FROM tds_inbox_events
WHERE idempotency_key = $5 AND NOT EXISTS (SELECT 1 FROM inserted);

-- name: inbox_accept_events
-- Group commit: many webhooks' inbox and queue rows in one statement (one array per column, one
-- element per event, keys distinct within the call); per event, in input order: its id and
-- 'queued', or the first event's id and 'duplicate'.
WITH input AS (
    -- One row per event; ord keeps the caller's order for the answer.
    SELECT *
    FROM unnest($1::text[], $2::text[], $3::tds_operation[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::jsonb[], $9::bytea[], $10::text[], $11::timestamptz[],
                $12::timestamptz[], $13::text[], $14::jsonb[])
         WITH ORDINALITY AS t(entity, source, operation, zoho_id, idempotency_key, body_hash, content_type,
                              headers, body, correlation_id, received_at, source_version, content_hash,
                              payload, ord)
), inserted AS (
    -- The inbox rows. The partial unique index on idempotency_key turns a repeat into no row.
    INSERT INTO tds_inbox_events (entity, source, status, operation, zoho_id, idempotency_key, body_hash,
                                  content_type, headers, body, correlation_id, received_at)
    SELECT entity, source, 'queued', operation, zoho_id, idempotency_key, body_hash, content_type, headers,
           body, correlation_id, received_at
    FROM input ORDER BY ord
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, idempotency_key
), queued AS (
    -- Their queue rows, only for new inbox rows: both commit together or not at all.
    INSERT INTO tds_sync_queue (inbox_event_id, entity, zoho_id, operation, source_version, content_hash,
                                payload, received_at)
    SELECT inserted.id, input.entity, input.zoho_id, input.operation, input.source_version,
           input.content_hash, input.payload, input.received_at
    FROM inserted JOIN input USING (idempotency_key)
    ORDER BY inserted.id
    RETURNING inbox_event_id
)
SELECT input.ord, queued.inbox_event_id AS event_id, 'queued' AS status
FROM input
JOIN inserted USING (idempotency_key)
JOIN queued ON queued.inbox_event_id = inserted.id
UNION ALL
-- Repeats committed before this statement began: answer with the first event.
SELECT input.ord, first.id, 'duplicate'
FROM input JOIN tds_inbox_events AS first USING (idempotency_key)
WHERE NOT EXISTS (SELECT 1 FROM inserted WHERE inserted.idempotency_key = input.idempotency_key);

-- name: inbox_find_by_idempotency_key
-- The first event stored under a key (used when a concurrent repeat committed mid-statement).
SELECT id FROM tds_inbox_events WHERE idempotency_key = $1;

-- name: inbox_insert_rejected
-- Keep an invalid event with its reasons; it is never queued.
INSERT INTO tds_inbox_events (entity, source, status, operation, zoho_id, body_hash, content_type, headers,
                              body, rejection_reasons, correlation_id, received_at)
VALUES ($1, $2, 'rejected', $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING id;

-- name: inbox_accept_hint
-- Keep a partial webhook as a hint (no queue row yet); a repeated idempotency key inserts nothing
-- and names the first event.
WITH inserted AS (
    INSERT INTO tds_inbox_events (entity, source, status, operation, zoho_id, idempotency_key, body_hash,
                                  content_type, headers, body, correlation_id, received_at)
    VALUES ($1, $2, 'hint', $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id
)
SELECT id AS event_id, 'queued' AS status FROM inserted
UNION ALL
SELECT id, 'duplicate' FROM tds_inbox_events
WHERE idempotency_key = $5 AND NOT EXISTS (SELECT 1 FROM inserted);

-- name: inbox_claim_hints
-- The oldest hints, locked so that two completers never fetch the same one.
SELECT id, entity, operation::text AS operation, zoho_id, correlation_id, received_at
FROM tds_inbox_events WHERE status = 'hint' ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED;

-- name: inbox_mark_fetched
-- A hint whose full record was staged as event $2.
UPDATE tds_inbox_events
SET status = 'fetched', headers = headers || jsonb_build_object('completed_by_event', $2::bigint)
WHERE id = $1 AND status = 'hint';
