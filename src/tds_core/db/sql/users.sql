-- name: users_insert
-- A new user (argon2 hash only); no row back when the name is taken.
INSERT INTO tds_users (username, password_hash, role, created_by) VALUES ($1, $2, $3, $4)
ON CONFLICT (username) DO NOTHING
RETURNING id, username, role, token_generation, disabled_at, created_at;

-- name: users_find
-- One user by name, with the hash for verification.
SELECT id, username, password_hash, role, token_generation, disabled_at FROM tds_users WHERE username = $1;

-- name: users_touch_login
-- Record a successful login.
UPDATE tds_users SET last_login_at = now() WHERE id = $1;

-- name: users_list
-- Every user, never the hash.
SELECT id, username, role, created_at, created_by, disabled_at, password_changed_at, last_login_at
FROM tds_users ORDER BY username;

-- name: users_get
-- One user by name, never the hash.
SELECT id, username, role, created_at, created_by, disabled_at, password_changed_at, last_login_at
FROM tds_users WHERE username = $1;

-- name: users_update
-- Change role, password hash and/or disabled state (NULL keeps); any change revokes refresh tokens.
UPDATE tds_users
SET role = coalesce($2, role),
    password_hash = coalesce($3, password_hash),
    password_changed_at = CASE WHEN $3::text IS NULL THEN password_changed_at ELSE now() END,
    disabled_at = CASE WHEN $4::boolean IS NULL THEN disabled_at
                       WHEN $4 THEN coalesce(disabled_at, now()) ELSE NULL END,
    token_generation = token_generation + 1
WHERE username = $1
RETURNING id, username, role, created_at, created_by, disabled_at, password_changed_at, last_login_at;

-- name: users_count
-- How many users exist (a fresh installation has none).
SELECT count(*)::integer FROM tds_users;
