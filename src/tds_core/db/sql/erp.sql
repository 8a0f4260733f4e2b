-- name: erp_lock_instances
-- Serialise work on the same entity instances across workers: one transaction advisory lock per
-- (entity, zoho id) key, taken in ascending key order so two batches can never deadlock.
SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS u(k);

-- name: erp_try_lock_instances
-- The same locks without waiting: the keys another batch holds right now are returned, so their
-- events can wait for a later batch instead of this whole batch waiting for that one to commit.
-- Nothing waits here, so the order of taking them cannot deadlock.
SELECT coalesce(array_agg(k), '{}') FROM unnest($1::bigint[]) AS u(k) WHERE NOT pg_try_advisory_xact_lock(k);

-- name: erp_stock_advance_versions
-- Locations whose quantities a newer stock event repeats take its version, and nothing else (not
-- the quantities, so an ERP-side edit stays where it was), so an older event delivered late is
-- refused by the version guard instead of writing its older quantities.
UPDATE stock_levels t SET source_version = x.version
FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS x(item_zoho_id, location_id, version)
WHERE t.item_zoho_id = x.item_zoho_id AND t.location_id = x.location_id
  AND t.source_version < x.version AND t.deleted_at IS NULL;
