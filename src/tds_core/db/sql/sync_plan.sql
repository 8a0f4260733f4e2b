-- What a sync plan reads: Zoho's lists carry no total, so record counts come from the runs.

-- name: sync_runs_latest_counts
-- Per entity of $1, the records its latest successful complete scan listed: a full pull or a
-- reconciliation (both list every record; an incremental pull lists only the changed ones).
SELECT DISTINCT ON (entity) entity, kind, fetched AS records, finished_at, id AS run_id
FROM tds_sync_runs
WHERE entity = ANY($1::text[]) AND status = 'succeeded' AND kind IN ('full', 'reconcile')
ORDER BY entity, started_at DESC, id DESC;
