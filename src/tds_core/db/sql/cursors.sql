-- name: cursor_get
-- Where an entity's incremental pull stands.
SELECT entity, strategy, watermark, cursor_value, last_run_id, last_full_scan_at, updated_at
FROM tds_sync_cursors WHERE entity = $1;

-- name: cursor_advance
-- Move the watermark forward (never back), in the transaction of the records it covers.
INSERT INTO tds_sync_cursors (entity, strategy, watermark, last_run_id, last_full_scan_at, updated_at)
VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END, now())
ON CONFLICT (entity) DO UPDATE
SET strategy = EXCLUDED.strategy,
    watermark = greatest(tds_sync_cursors.watermark, EXCLUDED.watermark),
    last_run_id = EXCLUDED.last_run_id,
    last_full_scan_at = coalesce(EXCLUDED.last_full_scan_at, tds_sync_cursors.last_full_scan_at),
    updated_at = now();

-- name: cursors_all
-- Every entity's cursor.
SELECT entity, strategy, watermark, last_run_id, last_full_scan_at, updated_at FROM tds_sync_cursors ORDER BY entity;
