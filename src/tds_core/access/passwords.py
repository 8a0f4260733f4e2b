"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106's recommendations)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a miss costs the same time as a hit.
_DUMMY_HASH = _hasher.hash("tds-timing-equaliser")


def check_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() != password or not password.strip():
        raise ValueError("password must not start or end with whitespace")


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """Constant-time check; an unknown user (``None``) is checked against a dummy hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
