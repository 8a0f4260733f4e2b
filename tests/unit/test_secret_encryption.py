"""The cipher of secrets at rest: keys, the envelope, rotation, and secret positions in JSON values."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tds_core.config.encryption import (
    ENVELOPE,
    Keyring,
    UnreadableSecret,
    count_secrets,
    development_key,
    generate_key,
    invalid_keys,
    is_sealed,
    placeholder_keys,
    reseal,
    seal,
    unseal,
)
from tds_core.config.runtime import SECRET_FIELDS
from tds_core.errors import SecretKeyError

A, B = generate_key(), generate_key()
CHANNELS = [
    {
        "name": "ops-mail",
        "type": "email",
        "smtp_host": "smtp.test",
        "password": "hunter2-mail",
        "to": ["a@b.c"],
    },
    {"name": "ops-slack", "type": "slack", "url": "https://hooks.slack.test/T000/B000/XXXX"},
    {"name": "ops-tg", "type": "telegram", "bot_token": "123456:ABC-telegram", "chat_id": "42"},
    {
        "name": "hook",
        "type": "webhook",
        "url": "https://hook.test/x",
        "headers": {"Authorization": "Bearer s3cr3t"},
    },
]
CLEAR = ["hunter2-mail", "hooks.slack.test", "ABC-telegram", "hook.test", "Bearer s3cr3t"]


def test_a_value_round_trips_in_the_envelope() -> None:
    keyring = Keyring.parse(A)
    sealed = keyring.encrypt("the refresh token")
    assert sealed.startswith(ENVELOPE) and is_sealed(sealed)
    assert "refresh" not in sealed
    assert keyring.decrypt(sealed) == "the refresh token"
    assert keyring.encrypt("x") != keyring.encrypt("x")  # a fresh IV each time


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old = Keyring.parse(A).encrypt("s")
    both = Keyring.parse(f"{B}, {A}")
    assert both.size == 2
    assert both.decrypt(old) == "s"
    assert not both.is_current(old)
    rotated = both.rotate(old)
    assert both.is_current(rotated)
    assert Keyring.parse(B).decrypt(rotated) == "s"
    with pytest.raises(UnreadableSecret, match="none of the 1 key"):
        Keyring.parse(A).decrypt(rotated)


def test_a_wrong_key_or_an_altered_token_is_unreadable() -> None:
    sealed = Keyring.parse(A).encrypt("s")
    with pytest.raises(UnreadableSecret):
        Keyring.parse(B).decrypt(sealed)
    with pytest.raises(UnreadableSecret):
        Keyring.parse(A).decrypt(sealed[:-4] + "AAAA")
    with pytest.raises(UnreadableSecret):
        Keyring.parse(A).decrypt("not sealed")
    assert isinstance(UnreadableSecret("x"), SecretKeyError)


@pytest.mark.parametrize("text", ["", " , ", "not-a-key", "change-me", A[:-2], f"{A},short"])
def test_a_value_that_is_not_fernet_keys_is_refused_without_quoting_it(text: str) -> None:
    problem = invalid_keys(text)
    assert problem is not None and "TDS_SECRET_KEY" in problem
    if text.strip(" ,"):
        assert text.split(",")[-1] not in problem
    with pytest.raises(SecretKeyError):
        Keyring.parse(text)


def test_which_key_is_bad_is_named() -> None:
    assert "key 2 of 2" in (invalid_keys(f"{A},nope") or "")


@pytest.mark.parametrize(
    "key",
    [
        base64.urlsafe_b64encode(b"change-me-change-me-change-me-12").decode(),
        base64.urlsafe_b64encode(bytes(32)).decode(),
        base64.urlsafe_b64encode(b"\x01\x02" * 16).decode(),
    ],
)
def test_placeholder_keys_are_recognised(key: str) -> None:
    assert invalid_keys(key) is None  # well-formed ...
    assert "placeholder" in (placeholder_keys(key) or "")  # ... but not random


def test_generated_keys_are_not_placeholders() -> None:
    for _ in range(200):
        assert placeholder_keys(generate_key()) is None


def test_channel_secrets_are_sealed_at_secret_positions_only() -> None:
    keyring = Keyring.parse(A)
    sealed = seal(CHANNELS, keyring, SECRET_FIELDS)
    text = repr(sealed)
    for clear in CLEAR:
        assert clear not in text
    assert sealed[0]["smtp_host"] == "smtp.test" and sealed[0]["to"] == ["a@b.c"]
    assert list(sealed[3]["headers"]) == ["Authorization"]  # header names stay readable
    assert count_secrets(sealed, SECRET_FIELDS) == (5, 0)
    assert count_secrets(CHANNELS, SECRET_FIELDS) == (0, 5)
    assert seal(sealed, keyring, SECRET_FIELDS) == sealed  # sealing twice changes nothing
    assert unseal(sealed, keyring, SECRET_FIELDS) == CHANNELS


def test_unseal_keeps_clear_values_and_needs_a_key_for_sealed_ones() -> None:
    assert unseal(CHANNELS, None, SECRET_FIELDS) == CHANNELS  # rows written before encryption
    sealed = seal(CHANNELS, Keyring.parse(A), SECRET_FIELDS)
    with pytest.raises(SecretKeyError, match="needs TDS_SECRET_KEY"):
        unseal(sealed, None, SECRET_FIELDS)
    with pytest.raises(UnreadableSecret):
        unseal(sealed, Keyring.parse(B), SECRET_FIELDS)


def test_reseal_rotates_encrypts_and_is_idempotent() -> None:
    half = seal(CHANNELS[:2], Keyring.parse(A), SECRET_FIELDS) + CHANNELS[2:]
    both = Keyring.parse(f"{B},{A}")
    value, encrypted, rotated = reseal(half, both, SECRET_FIELDS)
    assert (encrypted, rotated) == (3, 2)
    again, encrypted, rotated = reseal(value, both, SECRET_FIELDS)
    assert (encrypted, rotated) == (0, 0) and again == value
    assert unseal(value, Keyring.parse(B), SECRET_FIELDS) == CHANNELS


def test_a_whole_value_can_be_secret() -> None:
    keyring = Keyring.parse(A)
    sealed = seal("the-password", keyring, SECRET_FIELDS, secret=True)
    assert is_sealed(sealed)
    assert unseal(sealed, keyring, SECRET_FIELDS, secret=True) == "the-password"
    assert seal(None, keyring, SECRET_FIELDS, secret=True) is None


def test_the_development_key_is_generated_once_and_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key = development_key(home)
    assert invalid_keys(key) is None and placeholder_keys(key) is None
    assert development_key(home) == key
    assert (home / "secret-key").stat().st_mode & 0o777 == 0o600


def test_the_keyring_never_shows_its_keys() -> None:
    assert A not in repr(Keyring.parse(A))
