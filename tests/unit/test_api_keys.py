"""access.api_keys: key format, prefix lookup and hashing (no database)."""

from __future__ import annotations

import hashlib

import pytest

from tds_core.access.api_keys import KEY_PREFIX, generate, hash_key, split_prefix


def test_generate_format() -> None:
    prefix, key = generate()
    assert len(prefix) == 8 and all(c in "0123456789abcdef" for c in prefix)
    assert key.startswith(f"{KEY_PREFIX}_{prefix}_")
    assert len(key) > 40  # 32 random bytes of secret


def test_generated_keys_are_unique_and_always_split_back() -> None:
    keys = [generate() for _ in range(500)]
    assert len({key for _, key in keys}) == 500
    for prefix, key in keys:  # the secret may itself contain "_" and "-"
        assert split_prefix(key) == prefix


@pytest.mark.parametrize(
    "key",
    [
        "",
        "tds",
        "tds_abcdef12",
        "xyz_abcdef12_secret",
        "tds_short_secret",
        "tds_abcdef123_secret",
        "TDS_abcdef12_secret",
        "tds_abcdef12_" + "s" * 200,
    ],
)
def test_split_prefix_refuses_malformed_keys(key: str) -> None:
    assert split_prefix(key) is None


def test_hash_is_sha256_hex_and_does_not_contain_the_key() -> None:
    _, key = generate()
    digest = hash_key(key)
    assert digest == hashlib.sha256(key.encode()).hexdigest()
    assert key not in digest
    assert hash_key(key) == digest
    assert hash_key(key + "x") != digest
