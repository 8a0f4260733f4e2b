-- name: audit_insert_batch
-- Audit rows for one batch, from a JSON array (one round trip). ``local_changes`` names the columns
-- changed outside TDS that the write met (an ERP conflict); ``actor`` is 'tds' unless an operator acted.
INSERT INTO tds_audit_trail (queue_id, inbox_event_id, entity, zoho_id, erp_table, row_key, action,
                             source_version, before, after, worker_id, local_changes, actor)
SELECT queue_id, inbox_event_id, entity, zoho_id, erp_table, row_key, action, source_version, before, after,
       worker_id, local_changes, coalesce(actor, 'tds')
FROM jsonb_to_recordset($1::jsonb) AS x(queue_id bigint, inbox_event_id bigint, entity text, zoho_id text,
     erp_table text, row_key text, action text, source_version timestamptz, before jsonb, after jsonb,
     worker_id text, local_changes text[], actor text);
