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

-- name: entities_never_pulled
-- Of the entities $1 (in that order), those no pull ever finished for (no cursor yet), leaving out
-- an entity whose pull paused at the quota reserve until the quota resets (its next run would
-- pause again at once, without a call).
SELECT e.entity FROM unnest($1::text[]) WITH ORDINALITY AS e(entity, n)
WHERE NOT EXISTS (SELECT 1 FROM tds_sync_cursors c WHERE c.entity = e.entity)
  AND NOT EXISTS (
      SELECT 1 FROM tds_sync_runs r
      WHERE r.entity = e.entity AND r.status = 'paused'
        AND (r.details -> 'paused' ->> 'resets_at')::timestamptz > now())
ORDER BY e.n;
