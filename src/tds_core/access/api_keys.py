"""Webhook API keys: generated once, shown once, stored as a SHA-256 hash.

A key is ``tds_<prefix>_<secret>`` with 32 random bytes of secret. Because keys are
high-entropy random values (not passwords), a fast hash is the right tool: it keeps the
webhook hot path at microseconds while a database leak reveals nothing usable. Lookup is
by the public prefix, comparison constant-time. Valid keys are cached for a few seconds,
so a revoked key stops working within ``TDS_API_KEY_CACHE_SECONDS``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from tds_core.db import api_keys as stored_keys
from tds_core.db.connection import Executor, Pool, connected

KEY_PREFIX = "tds"


@dataclass(frozen=True)
class NewKey:
    id: int
    name: str
    prefix: str
    key: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate() -> tuple[str, str]:
    """A new (prefix, full key)."""
    prefix = secrets.token_hex(4)
    return prefix, f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


def split_prefix(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 8 or len(key) > 200:
        return None
    return parts[1]


async def create(connection: Executor, name: str, created_by: str = "cli") -> NewKey:
    prefix, key = generate()
    row = await stored_keys.insert(
        connection, name=name, prefix=prefix, key_hash=hash_key(key), created_by=created_by
    )
    return NewKey(id=row["id"], name=row["name"], prefix=row["prefix"], key=key)


class KeyVerifier:
    """Checks keys against ``tds_api_keys`` with a short positive cache."""

    def __init__(self, cache_seconds: float = 5.0) -> None:
        self.cache_seconds = cache_seconds
        self._valid: dict[str, tuple[int, float]] = {}

    async def verify(self, pool: Pool, key: str | None) -> int | None:
        """The key's id when valid, else None."""
        if not key:
            return None
        prefix = split_prefix(key)
        if prefix is None:
            return None
        digest = hash_key(key)
        cached = self._valid.get(digest)
        now = time.monotonic()
        if cached and cached[1] > now:
            return cached[0]
        async with connected(pool) as connection:
            row = await stored_keys.find_active(connection, prefix=prefix)
            if row is None or not hmac.compare_digest(row["key_hash"], digest):
                self._valid.pop(digest, None)
                return None
            if cached is None:
                await stored_keys.touch(connection, key_id=row["id"])
        self._valid[digest] = (row["id"], now + self.cache_seconds)
        return int(row["id"])
