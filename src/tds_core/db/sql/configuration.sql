-- name: configuration_current
-- The current value of every configuration key.
SELECT key, version, value, description, updated_at, updated_by FROM tds_configuration_current ORDER BY key;

-- name: configuration_set
-- A new version of one key (history is kept), and a doorbell so running processes reload.
WITH next AS (
    SELECT coalesce(max(version), 0) + 1 AS version,
           coalesce((SELECT description FROM tds_configuration_current WHERE key = $1), '') AS description
    FROM tds_configuration WHERE key = $1
)
INSERT INTO tds_configuration (key, version, value, description, updated_by, note)
SELECT $1, next.version, $2::jsonb, next.description, $3, $4 FROM next
RETURNING key, version, (SELECT pg_notify('tds_config', $1)) IS NULL AS notified;
