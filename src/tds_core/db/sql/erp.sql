-- name: erp_lock_instances
-- Serialise work on the same entity instances across workers: one transaction advisory lock per
-- (entity, zoho id) key, taken in ascending key order so two batches can never deadlock.
SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS u(k);
