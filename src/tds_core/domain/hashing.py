"""Canonical JSON and content hashes: the same record always hashes the same way."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from tds_core.domain import exact_json


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace: the byte form that hashes are taken over."""
    return exact_json.dumps(value, option=orjson.OPT_SORT_KEYS)


def content_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def idempotency_key(entity: str, operation: str, body_hash: str) -> str:
    """The durable duplicate key used when the caller sends no ``X-Idempotency-Key``."""
    return f"{entity}:{operation}:{body_hash}"


def lock_key(entity: str, zoho_id: str) -> int:
    """A signed 64-bit advisory-lock key for one entity instance."""
    digest = hashlib.blake2b(f"{entity}\x00{zoho_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
