-- name: secrets_list
-- Every stored secret's name and who stored it when (never the ciphertext): `tds secrets list`.
SELECT name, updated_at, updated_by FROM tds_secrets ORDER BY name;

-- name: secrets_all
-- Every stored ciphertext, for decrypting at start-up and for rotation.
SELECT name, ciphertext, updated_at, updated_by FROM tds_secrets ORDER BY name;

-- name: secrets_upsert
-- Store (or replace) one secret's ciphertext; `created` tells a new name from a replaced one.
INSERT INTO tds_secrets (name, ciphertext, updated_by) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, updated_at = now(),
                                 updated_by = EXCLUDED.updated_by
RETURNING name, updated_at, updated_by, (xmax = 0) AS created;

-- name: secrets_insert_missing
-- Store a secret only if none of that name exists yet (the key-check canary on first start).
INSERT INTO tds_secrets (name, ciphertext, updated_by) VALUES ($1, $2, $3)
ON CONFLICT (name) DO NOTHING;

-- name: secrets_reencrypt
-- Rotation: replace a ciphertext by the same secret under the first key, guarded by the
-- ciphertext read (zero rows: someone changed it meanwhile; the next run takes it).
UPDATE tds_secrets SET ciphertext = $3 WHERE name = $1 AND ciphertext = $2;

-- name: secrets_delete
-- Forget a stored secret (the environment's value, if any, is used again after a restart).
DELETE FROM tds_secrets WHERE name = $1 RETURNING name;

-- name: secrets_lock
-- Serialise secret writes and rotations for the rest of the transaction.
SELECT pg_advisory_xact_lock(hashtextextended('tds_secrets', 0));

-- name: secrets_table_exists
-- Whether migration 0008 has run (a process started against an older schema skips the check).
SELECT to_regclass('tds_secrets') IS NOT NULL;
