"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106's recommendations).

An argon2 hash or verification costs tens of milliseconds of CPU by design. Run on the event
loop, it stalls every other request of the process (60 concurrent logins stalled
``/api/v1/health`` for seconds, webhooks included). The async functions run it on a small
thread pool of its own instead (argon2-cffi releases the GIL while hashing), so the loop keeps
answering and at most ``HASHING_THREADS`` hashes run at once, whatever the number of logins.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 10
HASHING_THREADS = 2
_hasher = PasswordHasher()
_hashing = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="tds-argon2")
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


async def hash_password_async(password: str) -> str:
    """:func:`hash_password` off the event loop (bounded by ``HASHING_THREADS``)."""
    check_strength(password)
    return await asyncio.get_running_loop().run_in_executor(_hashing, _hasher.hash, password)


async def verify_async(password_hash: str | None, password: str) -> bool:
    """:func:`verify` off the event loop (bounded by ``HASHING_THREADS``)."""
    return await asyncio.get_running_loop().run_in_executor(_hashing, verify, password_hash, password)
