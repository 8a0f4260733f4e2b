-- name: configuration_current
-- The current version of every key with its change note (runtime loading, the admin API and
-- `tds config get`).
SELECT DISTINCT ON (key) key, version, value, description, updated_at, updated_by, note
FROM tds_configuration ORDER BY key, version DESC;

-- name: configuration_set
-- A new version of one key (history is kept); the caller rings configuration_notify after commit.
INSERT INTO tds_configuration (key, version, value, description, updated_by, note)
SELECT $1, coalesce(max(c.version), 0) + 1, $2::jsonb,
       coalesce((SELECT description FROM tds_configuration_current WHERE key = $1), ''), $3, $4
FROM tds_configuration c WHERE c.key = $1
RETURNING key, version;

-- name: configuration_notify
-- Tell running processes to reload their configuration.
SELECT pg_notify('tds_config', $1);

-- name: configuration_history
-- Every version of one key, newest first.
SELECT key, version, value, description, updated_at, updated_by, note
FROM tds_configuration WHERE key = $1 ORDER BY version DESC LIMIT $2;

-- name: configuration_lock
-- Serialise configuration changes for the rest of the transaction, so each change is validated
-- against the configuration it will actually join (two admins cannot each break half of it).
SELECT pg_advisory_xact_lock(hashtextextended('tds_configuration', 0));

-- name: configuration_versions_page
-- Every version of every key, in keyset pages of (key, version): secrets encryption and rotation.
SELECT key, version, value FROM tds_configuration
WHERE (key, version) > ($1, $2) ORDER BY key, version LIMIT $3;

-- name: configuration_reseal_version
-- Replace one stored version's value by the same value with its secrets (re-)encrypted; guarded
-- by the value read, so a concurrent rewrite is never overwritten (zero rows: leave it).
UPDATE tds_configuration SET value = $3::jsonb WHERE key = $1 AND version = $2 AND value = $4::jsonb;
