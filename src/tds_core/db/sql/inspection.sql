-- Read-only queries behind the admin API's queue, event trace and entity history views.

-- name: queue_list_filtered
-- One page of queue rows, newest first: optional state, entity, Zoho id, search text (Zoho id or
-- error, including past attempts' errors) and keyset cursor (rows with id < $5).
SELECT q.id, q.inbox_event_id, q.entity, q.zoho_id, q.operation::text AS operation, q.status::text AS status,
       q.attempts, q.next_attempt_at, q.locked_by, q.locked_until, q.last_error, q.error_class,
       q.source_version, q.received_at, q.enqueued_at, q.claimed_at, q.finished_at, q.updated_at
FROM tds_sync_queue q
WHERE ($1::text IS NULL OR q.status = $1::text::tds_queue_state)
  AND ($2::text IS NULL OR q.entity = $2)
  AND ($3::text IS NULL OR q.zoho_id = $3)
  AND ($4::text IS NULL
       OR strpos(lower(q.zoho_id), lower($4)) > 0
       OR strpos(lower(q.last_error), lower($4)) > 0
       -- a completed row has no last_error any more: its failed attempts keep theirs
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(q.attempt_history) h
                  WHERE strpos(lower(h ->> 'error'), lower($4)) > 0))
  AND ($5::bigint IS NULL OR q.id < $5)
ORDER BY q.id DESC
LIMIT $6;

-- name: queue_count_by_entity_state
-- Queue rows counted per entity and state (the queue summary).
SELECT entity, status::text AS status, count(*) AS events, min(enqueued_at) AS oldest_enqueued_at
FROM tds_sync_queue
GROUP BY entity, status;

-- name: queue_get_for_trace
-- One queue row with its payload and attempt history.
SELECT id, inbox_event_id, entity, zoho_id, operation::text AS operation, status::text AS status, attempts,
       next_attempt_at, locked_by, locked_until, last_error, error_class, source_version, received_at,
       enqueued_at, claimed_at, finished_at, updated_at, content_hash, payload, attempt_history
FROM tds_sync_queue WHERE id = $1;

-- name: queue_for_inbox_event
-- The queue row(s) an inbox event produced, with payload and attempt history, in order.
SELECT id, inbox_event_id, entity, zoho_id, operation::text AS operation, status::text AS status, attempts,
       next_attempt_at, locked_by, locked_until, last_error, error_class, source_version, received_at,
       enqueued_at, claimed_at, finished_at, updated_at, content_hash, payload, attempt_history
FROM tds_sync_queue WHERE inbox_event_id = $1 ORDER BY id;

-- name: inbox_get_for_trace
-- One inbox event with its raw body cut to the first $2 bytes (and the full size).
SELECT id, entity, source, status, operation::text AS operation, zoho_id, idempotency_key, content_type,
       headers, substring(body FROM 1 FOR $2) AS body, octet_length(body) AS body_size, rejection_reasons,
       correlation_id, received_at
FROM tds_inbox_events WHERE id = $1;

-- name: sync_logs_for_queue_rows
-- The sync-log lines of some queue rows, in the order they were written.
SELECT id, queue_id, inbox_event_id, entity, zoho_id, outcome, attempt, worker_id, duration_ms, latency_ms,
       message, created_at
FROM tds_sync_logs WHERE queue_id = ANY($1::bigint[]) ORDER BY id;

-- name: audit_for_queue_rows
-- The audit rows (ERP changes) some queue rows caused, in the order they were written.
SELECT id, queue_id, inbox_event_id, entity, zoho_id, erp_table, row_key, action, source_version, before,
       after, actor, worker_id, created_at
FROM tds_audit_trail WHERE queue_id = ANY($1::bigint[]) ORDER BY id;

-- name: audit_history_page
-- One page of an entity instance's audit history, newest first (keyset cursor: id < $3).
SELECT id, queue_id, inbox_event_id, entity, zoho_id, erp_table, row_key, action, source_version, before,
       after, actor, worker_id, created_at
FROM tds_audit_trail
WHERE entity = $1 AND zoho_id = $2 AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC
LIMIT $4;

-- name: erp_rows_for_instance
-- The ERP row(s) of one entity instance as they are now, tombstones included: the entity's
-- row, or for stock one row per location. $1 picks the entity; each branch is skipped by a
-- one-time filter, so only one table is read. (A unit test checks every entity table is here.)
SELECT 'products' AS erp_table, to_jsonb(t) - 'id' AS row FROM products t
    WHERE $1::text = 'items' AND t.zoho_id = $2
UNION ALL
SELECT 'customers', to_jsonb(t) - 'id' FROM customers t WHERE $1::text = 'contacts' AND t.zoho_id = $2
UNION ALL
SELECT 'invoices', to_jsonb(t) - 'id' FROM invoices t WHERE $1::text = 'invoices' AND t.zoho_id = $2
UNION ALL
SELECT 'bills', to_jsonb(t) - 'id' FROM bills t WHERE $1::text = 'bills' AND t.zoho_id = $2
UNION ALL
SELECT 'credit_notes', to_jsonb(t) - 'id' FROM credit_notes t WHERE $1::text = 'creditnotes' AND t.zoho_id = $2
UNION ALL
SELECT 'price_lists', to_jsonb(t) - 'id' FROM price_lists t WHERE $1::text = 'pricebooks' AND t.zoho_id = $2
UNION ALL
(SELECT 'stock_levels', to_jsonb(t) FROM stock_levels t WHERE $1::text = 'stock' AND t.item_zoho_id = $2
 ORDER BY t.location_id);

-- name: erp_lines_for_instance
-- The line items of one document (invoice, bill, credit note) or price list as they are now.
(SELECT 'invoice_line_items' AS erp_table, to_jsonb(t) AS row FROM invoice_line_items t
    WHERE $1::text = 'invoices' AND t.invoice_zoho_id = $2 ORDER BY t.item_order NULLS LAST, t.line_item_id)
UNION ALL
(SELECT 'bill_line_items', to_jsonb(t) FROM bill_line_items t
    WHERE $1::text = 'bills' AND t.bill_zoho_id = $2 ORDER BY t.item_order NULLS LAST, t.line_item_id)
UNION ALL
(SELECT 'credit_note_line_items', to_jsonb(t) FROM credit_note_line_items t
    WHERE $1::text = 'creditnotes' AND t.credit_note_zoho_id = $2 ORDER BY t.item_order NULLS LAST, t.line_item_id)
UNION ALL
(SELECT 'price_list_items', to_jsonb(t) FROM price_list_items t
    WHERE $1::text = 'pricebooks' AND t.price_list_zoho_id = $2 ORDER BY t.item_id);
