-- name: erp_lock_instances
-- Serialise work on the same entity instances across workers: one transaction advisory lock per
-- (entity, zoho id) key, taken in ascending key order so two batches can never deadlock.
SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS u(k);

-- name: erp_try_lock_instances
-- The same locks without waiting: the keys another batch holds right now are returned, so their
-- events can wait for a later batch instead of this whole batch waiting for that one to commit.
-- Nothing waits here, so the order of taking them cannot deadlock.
SELECT coalesce(array_agg(k), '{}') FROM unnest($1::bigint[]) AS u(k) WHERE NOT pg_try_advisory_xact_lock(k);
