"""Who may do what: users with roles, argon2 password hashes, and short-lived JWTs."""
