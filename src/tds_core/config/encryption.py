"""Secrets at rest: Fernet encryption under ``TDS_SECRET_KEY``.

``TDS_SECRET_KEY`` holds one or more Fernet keys separated by commas. The first key encrypts;
every key decrypts (:class:`cryptography.fernet.MultiFernet`), so a key is rotated by putting
the new key first (``NEW,OLD``), running ``tds secrets rotate`` (which re-encrypts every stored
ciphertext under the first key) and then dropping the old key.

An encrypted value is the string ``"enc:v1:<fernet token>"`` (:data:`ENVELOPE`), so code, a
``CHECK`` constraint and a test reading the raw tables can tell ciphertext from clear text. Inside
a JSON configuration value only the secret positions are encrypted (the fields named in
``SECRET_FIELDS`` and everything under them, e.g. each value of a webhook channel's ``headers``
while the header names stay readable): :func:`seal` encrypts them, :func:`unseal` decrypts them.

This module does no I/O apart from :func:`development_key`, which keeps a generated key in
``TDS_HOME`` for development installations (through :mod:`tds_core.config.home`).
"""

from __future__ import annotations

import base64
import binascii
import string
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tds_core.config.home import kept_secret
from tds_core.errors import SecretKeyError

ENVELOPE = "enc:v1:"
KEY_BYTES = 32
#: Bytes a random key cannot plausibly be made of only: a typed phrase or a repeated byte.
_TYPED = frozenset(string.printable.encode())
_MIN_DISTINCT_BYTES = 16
GENERATE_HINT = "generate one with `tds secrets generate-key`"


class UnreadableSecret(SecretKeyError):
    """A ciphertext that none of the keys decrypts (another key wrote it, or it was altered)."""


def generate_key() -> str:
    """A new random Fernet key (url-safe base64 of 32 bytes)."""
    return Fernet.generate_key().decode()


def _raw(key: str) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    return raw if len(raw) == KEY_BYTES else None


def split_keys(text: str) -> list[str]:
    """The keys of a ``TDS_SECRET_KEY`` value, blanks around commas ignored."""
    return [part.strip() for part in text.split(",") if part.strip()]


def invalid_keys(text: str) -> str | None:
    """Why ``text`` is not a usable ``TDS_SECRET_KEY`` (never quoting the key), or None."""
    keys = split_keys(text)
    if not keys:
        return f"TDS_SECRET_KEY is empty: {GENERATE_HINT}"
    for number, key in enumerate(keys, 1):
        if _raw(key) is None:
            return (
                f"TDS_SECRET_KEY: key {number} of {len(keys)} is not a Fernet key "
                f"(32 url-safe base64-encoded bytes): {GENERATE_HINT}"
            )
    return None


def placeholder_keys(text: str) -> str | None:
    """Why a well-formed ``TDS_SECRET_KEY`` still looks like a placeholder, or None: a key whose
    32 bytes are all printable characters (a typed phrase, base64-encoded) or that has fewer than
    16 different bytes (``AAAA...``) was not generated at random."""
    keys = split_keys(text)
    for number, key in enumerate(keys, 1):
        raw = _raw(key)
        if raw is not None and (set(raw) <= _TYPED or len(set(raw)) < _MIN_DISTINCT_BYTES):
            return (
                f"TDS_SECRET_KEY: key {number} of {len(keys)} is a placeholder, not a random key: "
                f"{GENERATE_HINT}"
            )
    return None


def is_sealed(value: Any) -> bool:
    """Whether ``value`` is an encrypted value (the :data:`ENVELOPE` string)."""
    return isinstance(value, str) and value.startswith(ENVELOPE)


class Keyring:
    """The keys of ``TDS_SECRET_KEY``: the first encrypts, every one decrypts."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretKeyError(f"TDS_SECRET_KEY is empty: {GENERATE_HINT}")
        problem = invalid_keys(",".join(keys))
        if problem:
            raise SecretKeyError(problem)
        self._first = Fernet(keys[0])
        self._all = MultiFernet([Fernet(key) for key in keys])
        self.size = len(keys)

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """The keyring of a ``TDS_SECRET_KEY`` value; :class:`SecretKeyError` when it is not one."""
        problem = invalid_keys(text)
        if problem:
            raise SecretKeyError(problem)
        return cls(split_keys(text))

    def __repr__(self) -> str:
        return f"Keyring(keys={self.size})"

    def encrypt(self, clear: str) -> str:
        """``clear`` encrypted under the first key, in the envelope."""
        return ENVELOPE + self._first.encrypt(clear.encode("utf-8")).decode("ascii")

    def _token(self, sealed: str) -> bytes:
        if not is_sealed(sealed):
            raise UnreadableSecret("not an encrypted value")
        return sealed[len(ENVELOPE) :].encode("ascii", "replace")

    def decrypt(self, sealed: str) -> str:
        """The clear text of an envelope; :class:`UnreadableSecret` when no key decrypts it."""
        try:
            return self._all.decrypt(self._token(sealed)).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError) as exc:
            raise UnreadableSecret(f"none of the {self.size} key(s) in TDS_SECRET_KEY decrypts it") from exc

    def is_current(self, sealed: str) -> bool:
        """Whether the first key decrypts ``sealed`` (rotation has nothing to do for it)."""
        try:
            self._first.decrypt(self._token(sealed))
        except (InvalidToken, UnreadableSecret):
            return False
        return True

    def rotate(self, sealed: str) -> str:
        """``sealed`` re-encrypted under the first key (:class:`UnreadableSecret` if unreadable)."""
        return self.encrypt(self.decrypt(sealed))


def development_key(home: Path) -> str:
    """A random key kept in ``TDS_HOME/secret-key`` (0600), shared by the processes of one
    development installation. Production sets ``TDS_SECRET_KEY``."""
    return kept_secret(home / "secret-key", generate_key)


# ---------------------------------------------------------------------------- JSON values
def _walk(value: Any, fields: frozenset[str], secret: bool, leaf: Callable[[str], str]) -> Any:
    """``value`` with ``leaf`` applied to every string at a secret position."""
    if isinstance(value, dict):
        return {name: _walk(child, fields, secret or name in fields, leaf) for name, child in value.items()}
    if isinstance(value, list):
        return [_walk(child, fields, secret, leaf) for child in value]
    if secret and isinstance(value, str):
        return leaf(value)
    return value


def seal(value: Any, keyring: Keyring, fields: frozenset[str], *, secret: bool = False) -> Any:
    """``value`` with every clear string at a secret position encrypted (sealed ones kept)."""
    return _walk(value, fields, secret, lambda text: text if is_sealed(text) else keyring.encrypt(text))


def unseal(value: Any, keyring: Keyring | None, fields: frozenset[str], *, secret: bool = False) -> Any:
    """``value`` with every encrypted string at a secret position decrypted (clear ones kept, as in
    rows written before secrets were encrypted). Without a keyring an encrypted value raises
    :class:`SecretKeyError`: a process must never use a ciphertext as if it were the secret."""

    def open_one(text: str) -> str:
        if not is_sealed(text):
            return text
        if keyring is None:
            raise SecretKeyError("an encrypted secret needs TDS_SECRET_KEY to be read")
        return keyring.decrypt(text)

    return _walk(value, fields, secret, open_one)


def count_secrets(value: Any, fields: frozenset[str], *, secret: bool = False) -> tuple[int, int]:
    """(encrypted, clear) strings at the secret positions of ``value``."""
    found = [0, 0]

    def tally(text: str) -> str:
        found[0 if is_sealed(text) else 1] += 1
        return text

    _walk(value, fields, secret, tally)
    return found[0], found[1]


def reseal(
    value: Any, keyring: Keyring, fields: frozenset[str], *, secret: bool = False
) -> tuple[Any, int, int]:
    """``value`` with every secret under the first key, and how many were (encrypted, rotated):
    clear ones are encrypted, ones another key wrote re-encrypted, current ones kept as they
    are, so a second run changes nothing. :class:`UnreadableSecret` if one cannot be read."""
    counts = [0, 0]

    def one(text: str) -> str:
        if not is_sealed(text):
            counts[0] += 1
            return keyring.encrypt(text)
        if keyring.is_current(text):
            return text
        counts[1] += 1
        return keyring.rotate(text)

    result = _walk(value, fields, secret, one)
    return result, counts[0], counts[1]
