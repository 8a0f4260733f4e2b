-- name: api_keys_insert
-- A new key: only its prefix and hash are stored.
INSERT INTO tds_api_keys (name, prefix, key_hash, created_by) VALUES ($1, $2, $3, $4)
RETURNING id, name, prefix, created_at;

-- name: api_keys_find_active
-- The active key with this prefix, if any.
SELECT id, key_hash FROM tds_api_keys WHERE prefix = $1 AND revoked_at IS NULL;

-- name: api_keys_list
-- All keys, never their hashes.
SELECT id, name, prefix, created_at, created_by, revoked_at, revoked_by, last_used_at
FROM tds_api_keys ORDER BY id;

-- name: api_keys_revoke
-- Revoke a key by id or prefix.
UPDATE tds_api_keys SET revoked_at = now(), revoked_by = $2
WHERE (id::text = $1 OR prefix = $1) AND revoked_at IS NULL
RETURNING id, name, prefix;

-- name: api_keys_touch
-- Record that a key was used (at most once a minute per key, from the cache).
UPDATE tds_api_keys SET last_used_at = now() WHERE id = $1;
