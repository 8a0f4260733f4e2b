-- name: configuration_current
-- The current value of every configuration key.
SELECT key, version, value, description, updated_at, updated_by FROM tds_configuration_current ORDER BY key;

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
