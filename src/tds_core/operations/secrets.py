"""Secrets as an operator action: store (encrypted), list (never values), check the key, rotate.

Shared by the admin API and ``tds secrets``. Three secrets may live in ``tds_secrets`` instead of
the environment: the Zoho client secret, the Zoho refresh token and the webhook signing secret
(:data:`SECRET_NAMES`, each named after the setting it stands in for). When both are set, the
environment wins. Values are Fernet ciphertext under ``TDS_SECRET_KEY``
(:mod:`tds_core.config.encryption`); a process reads them once at start-up, so a stored change
takes effect when the processes restart.

:func:`verify` runs at every process start. It writes the ``_key_check`` canary on the first
start, then refuses a key that cannot decrypt it or any other stored ciphertext (the secrets in
``tds_secrets`` and those in every ``tds_configuration`` version) with one clear message, and it
encrypts any secret it finds in clear in a configuration version (rows written before 0008).
:func:`rotate` re-encrypts every ciphertext under the first key of ``TDS_SECRET_KEY``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

import orjson

from tds_core.access.actions import Actor, record
from tds_core.config.encryption import (
    Keyring,
    UnreadableSecret,
    count_secrets,
    reseal,
    seal,
    unseal,
)
from tds_core.config.runtime import SECRET_FIELDS, is_secret_key
from tds_core.db import configuration as configuration_db
from tds_core.db import secrets as secrets_db
from tds_core.db.configuration import StoredValue
from tds_core.db.connection import Connection, Executor, transaction
from tds_core.errors import SecretKeyError

#: The secrets that may be stored in ``tds_secrets``, with the environment variable that wins.
SECRET_NAMES: dict[str, str] = {
    "zoho_client_secret": "TDS_ZOHO_CLIENT_SECRET",
    "zoho_refresh_token": "TDS_ZOHO_REFRESH_TOKEN",
    "zoho_webhook_secret": "TDS_ZOHO_WEBHOOK_SECRET",
}
MIN_LENGTH = {"zoho_webhook_secret": 12}
MAX_LENGTH = 4096
KEY_CHECK = "_key_check"
KEY_CHECK_TEXT = "TDS secrets key check"
PAGE = 500

Source = Literal["environment", "database", "unset"]


def wrong_key_message(keys: int) -> str:
    return (
        "TDS_SECRET_KEY cannot decrypt the secrets stored in this database: it is not the key they "
        f"were written with (keys tried: {keys}). Set the old key first in TDS_SECRET_KEY (or "
        "TDS_SECRET_KEY=NEW,OLD during a rotation, then `tds secrets rotate`); "
        "see docs/runbooks/secrets-rotation.md"
    )


class UnknownSecret(LookupError):
    """Not one of :data:`SECRET_NAMES`."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no secret named {name!r}: one of {', '.join(SECRET_NAMES)}")
        self.name = name


class InvalidSecret(ValueError):
    """The value cannot be that secret (empty, too short, too long, a NUL)."""


@dataclass(frozen=True)
class StoredSecret:
    name: str
    updated_at: datetime
    updated_by: str
    created: bool


@dataclass(frozen=True)
class SecretSource:
    """Where the value a process uses for one secret comes from (never the value)."""

    name: str
    environment_variable: str
    source: Source
    stored: bool
    updated_at: datetime | None
    updated_by: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class KeyCheck:
    """What the start-up check found: ``skipped`` when the schema predates ``tds_secrets``."""

    secrets: int = 0
    configuration_versions: int = 0
    encrypted: int = 0
    skipped: bool = False


@dataclass
class RotationResult:
    secrets: int = 0
    secrets_rotated: int = 0
    configuration_versions: int = 0
    configuration_versions_rewritten: int = 0
    values_rotated: int = 0
    values_encrypted: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


Progress = Callable[[RotationResult], None]


def validate(name: str, value: str) -> str:
    """The value to store for secret ``name``; :class:`UnknownSecret` or :class:`InvalidSecret`."""
    if name not in SECRET_NAMES:
        raise UnknownSecret(name)
    if not value or not value.strip():
        raise InvalidSecret(f"{name}: the value is empty")
    if "\x00" in value:
        raise InvalidSecret(f"{name}: the value contains U+0000 (NUL)")
    if len(value) > MAX_LENGTH:
        raise InvalidSecret(f"{name}: longer than {MAX_LENGTH} characters")
    least = MIN_LENGTH.get(name, 1)
    if len(value) < least:
        raise InvalidSecret(f"{name}: must be at least {least} characters")
    return value


# ---------------------------------------------------------------------------- store and list
async def set_secret(
    connection: Connection, name: str, value: str, actor: Actor, *, keyring: Keyring
) -> StoredSecret:
    """Encrypt and store one secret (replacing a stored one) and record who did it (not the value)."""
    value = validate(name, value)
    async with transaction(connection):
        await secrets_db.lock(connection)
        row = await secrets_db.upsert(
            connection, name=name, ciphertext=keyring.encrypt(value), updated_by=actor.name
        )
        await record(connection, actor, "secret.set", target=name, details={"created": row["created"]})
    return StoredSecret(row["name"], row["updated_at"], row["updated_by"], row["created"])


async def delete_secret(connection: Connection, name: str, actor: Actor) -> bool:
    """Forget a stored secret; False when none was stored."""
    if name not in SECRET_NAMES:
        raise UnknownSecret(name)
    async with transaction(connection):
        await secrets_db.lock(connection)
        deleted = await secrets_db.delete(connection, name=name)
        if deleted:
            await record(connection, actor, "secret.delete", target=name)
    return deleted


async def sources(connection: Executor, environment: Collection[str]) -> list[SecretSource]:
    """Each known secret with where its effective value comes from; ``environment`` names the
    secrets the process's environment sets (they win over a stored value)."""
    stored = {row["name"]: row for row in await secrets_db.list_all(connection)}
    result = []
    for name, variable in SECRET_NAMES.items():
        row = stored.get(name)
        source: Source = "environment" if name in environment else "database" if row else "unset"
        result.append(
            SecretSource(
                name=name,
                environment_variable=variable,
                source=source,
                stored=row is not None,
                updated_at=row["updated_at"] if row else None,
                updated_by=row["updated_by"] if row else None,
            )
        )
    return result


async def stored_values(connection: Executor, keyring: Keyring) -> dict[str, str]:
    """The stored secrets, decrypted (for the composition root only; never shown or logged)."""
    if not await secrets_db.table_exists(connection):
        return {}
    values = {}
    for row in await secrets_db.all_ciphertexts(connection):
        if row["name"] in SECRET_NAMES:
            values[row["name"]] = _open(keyring, row["ciphertext"], row["name"])
    return values


def _open(keyring: Keyring, ciphertext: str, name: str) -> str:
    try:
        return keyring.decrypt(ciphertext)
    except UnreadableSecret as exc:
        raise SecretKeyError(
            f"TDS_SECRET_KEY cannot decrypt the stored secret {name}: {exc} (keys tried: "
            f"{keyring.size}). Add the key it was written with to TDS_SECRET_KEY after the current "
            "one, then run `tds secrets rotate`"
        ) from exc


# ---------------------------------------------------------------------------- the start-up check
async def verify(connection: Connection, keyring: Keyring, *, by: str = "tds") -> KeyCheck:
    """Refuse a key that cannot read what is stored (:class:`SecretKeyError`, one clear message);
    write the canary on the first start; encrypt clear secrets left in configuration versions."""
    if not await secrets_db.table_exists(connection):
        return KeyCheck(skipped=True)
    await secrets_db.insert_missing(
        connection, name=KEY_CHECK, ciphertext=keyring.encrypt(KEY_CHECK_TEXT), updated_by=by
    )
    check = KeyCheck()
    unreadable: list[str] = []
    for stored_secret in await secrets_db.all_ciphertexts(connection):
        if stored_secret["name"] == KEY_CHECK:
            try:
                readable = keyring.decrypt(stored_secret["ciphertext"]) == KEY_CHECK_TEXT
            except UnreadableSecret:
                readable = False
            if not readable:
                raise SecretKeyError(wrong_key_message(keyring.size))
            continue
        check.secrets += 1
        try:
            keyring.decrypt(stored_secret["ciphertext"])
        except UnreadableSecret:
            unreadable.append(stored_secret["name"])
    after: tuple[str, int] = ("", 0)
    while True:
        rows = await configuration_db.versions_page(
            connection, after_key=after[0], after_version=after[1], limit=PAGE
        )
        if not rows:
            break
        after = (rows[-1]["key"], rows[-1]["version"])
        for row in rows:
            check.configuration_versions += 1
            secret = is_secret_key(row["key"])
            sealed, clear = count_secrets(row["value"], SECRET_FIELDS, secret=secret)
            if sealed:
                try:
                    unseal(row["value"], keyring, SECRET_FIELDS, secret=secret)
                except UnreadableSecret:
                    unreadable.append(f"{row['key']} (version {row['version']})")
                    continue
            if clear:
                check.encrypted += (await _reseal_version(connection, row, keyring, rotate=False))[0]
    if unreadable:
        raise SecretKeyError(
            f"TDS_SECRET_KEY cannot decrypt {len(unreadable)} stored secret(s): "
            f"{', '.join(unreadable[:5])}{' ...' if len(unreadable) > 5 else ''}; they were written with "
            f"another key (keys tried: {keyring.size}). Add that key to TDS_SECRET_KEY after the "
            "current one, then run `tds secrets rotate`"
        )
    return check


async def _reseal_version(
    connection: Connection, row: StoredValue, keyring: Keyring, *, rotate: bool
) -> tuple[int, int]:
    """Rewrite one configuration version with its secrets under the first key (``rotate``) or
    with only its clear secrets encrypted; returns how many values were (encrypted, rotated),
    (0, 0) when nothing needed doing or a concurrent rewrite won the guarded UPDATE."""
    secret = is_secret_key(row["key"])
    if rotate:
        value, encrypted, rotated = reseal(row["value"], keyring, SECRET_FIELDS, secret=secret)
    else:
        value = seal(row["value"], keyring, SECRET_FIELDS, secret=secret)
        encrypted, rotated = count_secrets(row["value"], SECRET_FIELDS, secret=secret)[1], 0
    if not encrypted and not rotated:
        return 0, 0
    async with transaction(connection):
        await configuration_db.lock(connection)
        resealed = await configuration_db.reseal_version(
            connection,
            key=row["key"],
            version=row["version"],
            value=orjson.dumps(value).decode(),
            read_value=orjson.dumps(row["value"]).decode(),
        )
    return (encrypted, rotated) if resealed else (0, 0)


# ---------------------------------------------------------------------------- rotation
async def rotate(
    connection: Connection, keyring: Keyring, actor: Actor, progress: Progress | None = None
) -> RotationResult:
    """Re-encrypt every ciphertext (``tds_secrets`` and every configuration version) under the
    first key, and encrypt any secret still in clear. Idempotent: a second run rewrites nothing.
    The key must read everything first (:func:`verify`), so a rotation never half-fails."""
    await verify(connection, keyring, by=actor.name)
    result = RotationResult()
    for stored_secret in await secrets_db.all_ciphertexts(connection):
        result.secrets += 1
        if not keyring.is_current(stored_secret["ciphertext"]):
            replaced = await secrets_db.reencrypt(
                connection,
                name=stored_secret["name"],
                ciphertext=stored_secret["ciphertext"],
                new_ciphertext=keyring.rotate(stored_secret["ciphertext"]),
            )
            result.secrets_rotated += int(replaced)
        if progress:
            progress(result)
    after: tuple[str, int] = ("", 0)
    while True:
        rows = await configuration_db.versions_page(
            connection, after_key=after[0], after_version=after[1], limit=PAGE
        )
        if not rows:
            break
        after = (rows[-1]["key"], rows[-1]["version"])
        for row in rows:
            result.configuration_versions += 1
            encrypted, rotated = await _reseal_version(connection, row, keyring, rotate=True)
            if encrypted or rotated:
                result.configuration_versions_rewritten += 1
                result.values_encrypted += encrypted
                result.values_rotated += rotated
        if progress:
            progress(result)
    await record(connection, actor, "secrets.rotate", details={"keys": keyring.size, **result.as_dict()})
    return result
