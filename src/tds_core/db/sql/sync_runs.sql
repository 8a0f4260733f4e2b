-- name: sync_run_start
-- A pull (or reconciliation) run begins.
INSERT INTO tds_sync_runs (entity, kind, triggered_by, cursor_from) VALUES ($1, $2, $3, $4) RETURNING id;

-- name: sync_run_finish
-- A run ends with its counts (succeeded, failed or paused) and, when $10 is given, its details
-- (a paused pull's reason and quota reset, a sort the answer did not apply).
UPDATE tds_sync_runs
SET status = $2, fetched = $3, queued = $4, unchanged = $5, failed = $6, api_calls = $7, cursor_to = $8,
    error = $9, details = coalesce($10::jsonb, details), finished_at = now()
WHERE id = $1;

-- name: sync_run_finish_reconcile
-- A reconciliation ends: records checked, events staged to heal, drift and the drifted ids.
UPDATE tds_sync_runs
SET status = $2, fetched = $3, queued = $4, api_calls = $5, drift = $6, details = $7::jsonb, error = $8,
    finished_at = now()
WHERE id = $1;

-- name: sync_runs_page
-- Runs newest first, filtered by entity, kind and status (each optional), keyset-paged by id.
SELECT id, entity, kind, status, triggered_by, started_at, finished_at, fetched, queued, unchanged, failed,
       api_calls, drift, cursor_from, cursor_to, error,
       extract(epoch FROM coalesce(finished_at, now()) - started_at)::float8 AS seconds
FROM tds_sync_runs
WHERE ($1::text IS NULL OR entity = $1) AND ($2::text IS NULL OR kind = $2)
  AND ($3::text IS NULL OR status = $3) AND ($4::bigint IS NULL OR id < $4)
ORDER BY id DESC LIMIT $5;

-- name: sync_run_get
-- One run with its details (a reconciliation's drifted ids).
SELECT id, entity, kind, status, triggered_by, started_at, finished_at, fetched, queued, unchanged, failed,
       api_calls, drift, cursor_from, cursor_to, error, details,
       extract(epoch FROM coalesce(finished_at, now()) - started_at)::float8 AS seconds
FROM tds_sync_runs WHERE id = $1;
