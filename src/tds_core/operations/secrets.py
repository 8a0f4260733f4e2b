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
from tds_core.db.queries import QUERIES
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
    connection: Any, name: str, value: str, actor: Actor, *, keyring: Keyring
) -> StoredSecret:
    """Encrypt and store one secret (replacing a stored one) and record who did it (not the value)."""
    value = validate(name, value)
    async with connection.transaction():
        await connection.execute(QUERIES.secrets_lock)
        row = await connection.fetchrow(QUERIES.secrets_upsert, name, keyring.encrypt(value), actor.name)
        await record(connection, actor, "secret.set", target=name, details={"created": row["created"]})
    return StoredSecret(row["name"], row["updated_at"], row["updated_by"], row["created"])


async def delete_secret(connection: Any, name: str, actor: Actor) -> bool:
    """Forget a stored secret; False when none was stored."""
    if name not in SECRET_NAMES:
        raise UnknownSecret(name)
    async with connection.transaction():
        await connection.execute(QUERIES.secrets_lock)
        deleted = await connection.fetchrow(QUERIES.secrets_delete, name)
        if deleted is not None:
            await record(connection, actor, "secret.delete", target=name)
    return deleted is not None


async def sources(connection: Any, environment: Collection[str]) -> list[SecretSource]:
    """Each known secret with where its effective value comes from; ``environment`` names the
    secrets the process's environment sets (they win over a stored value)."""
    stored = {row["name"]: row for row in await connection.fetch(QUERIES.secrets_list)}
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


async def stored_values(connection: Any, keyring: Keyring) -> dict[str, str]:
    """The stored secrets, decrypted (for the composition root only; never shown or logged)."""
    if not await connection.fetchval(QUERIES.secrets_table_exists):
        return {}
    values = {}
    for row in await connection.fetch(QUERIES.secrets_all):
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
async def verify(connection: Any, keyring: Keyring, *, by: str = "tds") -> KeyCheck:
    """Refuse a key that cannot read what is stored (:class:`SecretKeyError`, one clear message);
    write the canary on the first start; encrypt clear secrets left in configuration versions."""
    if not await connection.fetchval(QUERIES.secrets_table_exists):
        return KeyCheck(skipped=True)
    await connection.execute(QUERIES.secrets_insert_missing, KEY_CHECK, keyring.encrypt(KEY_CHECK_TEXT), by)
    check = KeyCheck()
    unreadable: list[str] = []
    for row in await connection.fetch(QUERIES.secrets_all):
        if row["name"] == KEY_CHECK:
            try:
                readable = keyring.decrypt(row["ciphertext"]) == KEY_CHECK_TEXT
            except UnreadableSecret:
                readable = False
            if not readable:
                raise SecretKeyError(wrong_key_message(keyring.size))
            continue
        check.secrets += 1
        try:
            keyring.decrypt(row["ciphertext"])
        except UnreadableSecret:
            unreadable.append(row["name"])
    after: tuple[str, int] = ("", 0)
    while True:
        rows = await connection.fetch(QUERIES.configuration_versions_page, *after, PAGE)
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


async def _reseal_version(connection: Any, row: Any, keyring: Keyring, *, rotate: bool) -> tuple[int, int]:
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
    async with connection.transaction():
        await connection.execute(QUERIES.configuration_lock)
        status = await connection.execute(
            QUERIES.configuration_reseal_version,
            row["key"],
            row["version"],
            orjson.dumps(value).decode(),
            orjson.dumps(row["value"]).decode(),
        )
    return (encrypted, rotated) if status.endswith(" 1") else (0, 0)


# ---------------------------------------------------------------------------- rotation
async def rotate(
    connection: Any, keyring: Keyring, actor: Actor, progress: Progress | None = None
) -> RotationResult:
    """Re-encrypt every ciphertext (``tds_secrets`` and every configuration version) under the
    first key, and encrypt any secret still in clear. Idempotent: a second run rewrites nothing.
    The key must read everything first (:func:`verify`), so a rotation never half-fails."""
    await verify(connection, keyring, by=actor.name)
    result = RotationResult()
    for row in await connection.fetch(QUERIES.secrets_all):
        result.secrets += 1
        if not keyring.is_current(row["ciphertext"]):
            status = await connection.execute(
                QUERIES.secrets_reencrypt, row["name"], row["ciphertext"], keyring.rotate(row["ciphertext"])
            )
            result.secrets_rotated += int(status.endswith(" 1"))
        if progress:
            progress(result)
    after: tuple[str, int] = ("", 0)
    while True:
        rows = await connection.fetch(QUERIES.configuration_versions_page, *after, PAGE)
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
