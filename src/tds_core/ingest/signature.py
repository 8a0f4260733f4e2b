"""Zoho webhook signatures (``X-Zoho-Webhook-Signature``), per the reference's recipe.

The string signed is every query parameter and (for a form body) every form pair, sorted by
key and concatenated as ``key1value1key2value2...``, followed by the raw JSON body unchanged;
the signature is the lowercase hex HMAC-SHA256 of that string, keyed by the webhook secret.
Zoho documents this for Billing; for Books it is unconfirmed (see docs/architecture.md), so a
signature check is only done when a secret is configured, and an API key also authenticates.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def signing_string(params: Iterable[tuple[str, str]], raw_json_body: bytes) -> bytes:
    pairs = sorted(params, key=lambda pair: pair[0])
    prefix = "".join(f"{key}{value}" for key, value in pairs).encode()
    return prefix + raw_json_body


def sign(secret: str, params: Iterable[tuple[str, str]], raw_json_body: bytes) -> str:
    return hmac.new(secret.encode(), signing_string(params, raw_json_body), hashlib.sha256).hexdigest()


def verify(secret: str, params: Iterable[tuple[str, str]], raw_json_body: bytes, signature: str) -> bool:
    """Constant-time comparison against the expected hex digest."""
    expected = sign(secret, params, raw_json_body)
    return hmac.compare_digest(expected, signature.strip().lower())
