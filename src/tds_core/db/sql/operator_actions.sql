-- name: operator_actions_insert
-- Record who did what (append-only).
INSERT INTO tds_operator_actions (actor, role, via, action, target, details)
VALUES ($1, $2, $3, $4, $5, coalesce($6::jsonb, '{}'::jsonb))
RETURNING id, at;

-- name: operator_actions_list
-- Recent operator actions, newest first, optionally one action kind or one actor.
SELECT id, at, actor, role, via, action, target, details FROM tds_operator_actions
WHERE ($1::text IS NULL OR action = $1) AND ($2::text IS NULL OR actor = $2)
  AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC LIMIT $4;
