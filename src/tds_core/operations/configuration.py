"""Runtime configuration as an operator action: read (secrets masked), validated change, history.

Shared by the admin API and ``tds config``. A change is one transaction: serialise with other
changes, validate the *whole* resulting configuration with :class:`RuntimeConfig` (so a value
that breaks another key, e.g. an on-call level naming a removed channel, is refused), store a
new version, record who did it, and ``NOTIFY tds_config``, which PostgreSQL delivers at commit:
running workers reload within a moment (and on their periodic refresh if a NOTIFY is missed).

Secrets (the fields named in :data:`SECRET_FIELDS`, e.g. a channel's ``password``, ``url``,
``bot_token`` and ``headers``) are never returned or recorded: reads show :data:`MASK` in
their place. A change may send :data:`MASK` back unchanged to keep the stored secret of the
same channel (matched by ``name``), so a client can round-trip a channel list it read.

Secrets are stored encrypted (:mod:`tds_core.config.encryption`): a change decrypts the stored
configuration with the process's keyring, validates and compares clear values, and encrypts
every secret of the new version before it is written, so no version row holds one in clear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from tds_core.access.actions import Actor, record
from tds_core.config.encryption import Keyring, seal
from tds_core.config.runtime import SECRET_FIELDS, RuntimeConfig, is_secret_key, opened
from tds_core.db import configuration as configuration_db
from tds_core.db.connection import Connection, Executor, transaction

MASK = "********"
HISTORY_LIMIT = 1000


class UnknownKey(LookupError):
    """No configuration key of that name."""


class InvalidChange(ValueError):
    """The change would leave an invalid configuration; ``reasons`` name the offending keys."""

    def __init__(self, key: str, reasons: list[str]) -> None:
        super().__init__(f"invalid value for {key}: " + "; ".join(reasons))
        self.key = key
        self.reasons = reasons


@dataclass(frozen=True)
class Entry:
    """One version of one key, its value already masked."""

    key: str
    version: int
    value: Any
    description: str
    updated_at: datetime
    updated_by: str
    note: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "version": self.version,
            "value": self.value,
            "description": self.description,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
            "note": self.note,
        }


@dataclass(frozen=True)
class Change:
    """The outcome of :func:`set_value`: the current entry and whether a new version was stored."""

    entry: Entry
    changed: bool
    previous_version: int


# ---------------------------------------------------------------------------- masking
def mask(value: Any, *, secret: bool = False) -> Any:
    """``value`` with every secret replaced by :data:`MASK` (a secret that is ``null`` stays
    ``null``, so "not set" remains visible; header names stay visible, their values do not)."""
    if isinstance(value, dict):
        return {name: mask(child, secret=secret or name in SECRET_FIELDS) for name, child in value.items()}
    if isinstance(value, list):
        return [mask(child, secret=secret) for child in value]
    if secret and value is not None:
        return MASK
    return value


def mask_value(key: str, value: Any) -> Any:
    """The value of configuration ``key`` as it may be shown or recorded."""
    return mask(value, secret=is_secret_key(key))


def unmask(new: Any, stored: Any, path: str, *, secret: bool = False) -> Any:
    """``new`` with each :data:`MASK` at a secret position replaced by the stored secret at the
    same place; list items that are objects with a ``name`` are matched by name, others by index.
    Raises :class:`ValueError` naming the path when there is no stored secret to keep, or when
    an object keeps a stored secret while one of its :data:`DESTINATION_FIELDS` changes (an admin
    must not be able to send a stored SMTP password, bot token or header to a server of their
    choice without knowing it)."""
    if secret and new == MASK:
        if stored is None or isinstance(stored, dict | list):
            raise ValueError(
                f"{path}: {MASK!r} keeps a stored secret, but there is none here: send the secret itself"
            )
        return stored
    if isinstance(new, dict):
        old = stored if isinstance(stored, dict) else {}
        unmasked = {
            name: unmask(child, old.get(name), f"{path}.{name}", secret=secret or name in SECRET_FIELDS)
            for name, child in new.items()
        }
        kept = [name for name, child in new.items() if _keeps_secret(child, secret or name in SECRET_FIELDS)]
        if kept:
            fields = DESTINATION_FIELDS & (set(unmasked) | set(old))
            moved = sorted(name for name in fields if unmasked.get(name) != old.get(name))
            if moved:
                raise ValueError(
                    f"{path}: {', '.join(moved)} changed while {', '.join(sorted(kept))} kept the stored "
                    f"secret ({MASK!r}): a stored secret only goes where it was sent; enter "
                    f"{', '.join(sorted(kept))} again to send it to the new destination"
                )
        return unmasked
    if isinstance(new, list):
        old_items = stored if isinstance(stored, list) else []
        by_name = {
            item["name"]: item
            for item in old_items
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        }
        result = []
        for index, child in enumerate(new):
            if isinstance(child, dict) and isinstance(child.get("name"), str):
                counterpart = by_name.get(child["name"])
            else:
                counterpart = old_items[index] if index < len(old_items) else None
            result.append(unmask(child, counterpart, f"{path}[{index}]", secret=secret))
        return result
    return new


DESTINATION_FIELDS = frozenset({"type", "smtp_host", "smtp_port", "security", "username", "api_base", "url"})
"""Where a channel sends its secrets: changing one of them needs the secrets entered again."""


def _keeps_secret(new: Any, secret: bool) -> bool:
    """Whether ``new`` keeps a stored secret anywhere (a :data:`MASK` at a secret position)."""
    if secret and new == MASK:
        return True
    if isinstance(new, dict):
        return any(_keeps_secret(child, secret or name in SECRET_FIELDS) for name, child in new.items())
    if isinstance(new, list):
        return any(_keeps_secret(child, secret) for child in new)
    return False


def _problems(value: Any, path: str) -> list[str]:
    """Values JSON or PostgreSQL's jsonb cannot hold faithfully (non-finite numbers, NUL)."""
    found: list[str] = []
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            found.append(f"{where}: must be a finite number")
        elif isinstance(node, str) and "\x00" in node:
            found.append(f"{where}: contains U+0000 (NUL), which PostgreSQL cannot store")
        elif isinstance(node, dict):
            for name, child in node.items():
                if "\x00" in name:
                    found.append(f"{where}: a name contains U+0000 (NUL)")
                else:
                    stack.append((child, f"{where}.{name}"))
        elif isinstance(node, list):
            stack.extend((child, f"{where}[{index}]") for index, child in enumerate(node))
    return sorted(found)


# ---------------------------------------------------------------------------- validation
def _attribute(key: str) -> str:
    return key.replace(".", "__")


def _location(loc: tuple[Any, ...], key: str) -> str:
    if not loc:
        return key
    text = str(loc[0]).replace("__", ".")
    for part in loc[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def reasons_of(error: ValidationError, key: str) -> list[str]:
    """Pydantic's errors as ``key.path: message`` lines (never the input values: they may be secret)."""
    return [f"{_location(tuple(e.get('loc', ())), key)}: {e.get('msg', 'invalid')}" for e in error.errors()]


def validate_change(rows: list[Any], key: str, value: Any) -> tuple[RuntimeConfig, Any]:
    """Validate the configuration ``rows`` (current values) with ``key`` set to ``value``.

    Returns the validated configuration and the value to store: a scalar in its validated form
    (``"50"`` for a whole number becomes ``50``), anything else as sent. Raises
    :class:`UnknownKey` or :class:`InvalidChange`."""
    values = {row["key"]: row["value"] for row in rows}
    if key not in values:
        raise UnknownKey(key)
    problems = _problems(value, key)
    if problems:
        raise InvalidChange(key, problems)
    values[key] = value
    try:
        config = RuntimeConfig.model_validate({_attribute(name): v for name, v in values.items()})
    except ValidationError as exc:
        raise InvalidChange(key, reasons_of(exc, key)) from exc
    validated = getattr(config, _attribute(key), None)
    if isinstance(validated, bool | int | float | str) and not isinstance(value, dict | list):
        return config, validated
    return config, value


# ---------------------------------------------------------------------------- reads and the change
def _entry(row: Any) -> Entry:
    return Entry(
        key=row["key"],
        version=row["version"],
        value=mask_value(row["key"], row["value"]),
        description=row["description"],
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
        note=row["note"],
    )


async def current(connection: Executor) -> list[Entry]:
    """Every key's current version, masked, by key."""
    return [_entry(row) for row in await configuration_db.current(connection)]


async def get(connection: Executor, key: str) -> Entry:
    """The current version of ``key``, masked; :class:`UnknownKey` when there is none."""
    rows = await configuration_db.history(connection, key=key, limit=1)
    if not rows:
        raise UnknownKey(key)
    return _entry(rows[0])


async def history(connection: Executor, key: str, limit: int = HISTORY_LIMIT) -> list[Entry]:
    """Every version of ``key``, newest first, masked; :class:`UnknownKey` when it has none."""
    rows = await configuration_db.history(connection, key=key, limit=limit)
    if not rows:
        raise UnknownKey(key)
    return [_entry(row) for row in rows]


async def set_value(
    connection: Connection, key: str, value: Any, actor: Actor, note: str | None = None, *, keyring: Keyring
) -> Change:
    """Validate and store a new version of ``key`` (one transaction), its secrets encrypted with
    ``keyring``; record the operator action (masked values only), and ring ``tds_config``. An
    unchanged value stores nothing."""
    async with transaction(connection):
        await configuration_db.lock(connection)
        rows = opened(await configuration_db.current(connection), keyring)
        stored = {row["key"]: row for row in rows}
        if key not in stored:
            raise UnknownKey(key)
        before = stored[key]
        try:
            value = unmask(value, before["value"], key, secret=is_secret_key(key))
        except ValueError as exc:
            raise InvalidChange(key, [str(exc)]) from exc
        _config, value = validate_change(rows, key, value)
        if value == before["value"]:
            return Change(entry=_entry(before), changed=False, previous_version=before["version"])
        sealed = seal(value, keyring, SECRET_FIELDS, secret=is_secret_key(key))
        stored_row = await configuration_db.set_value(
            connection, key=key, value=orjson.dumps(sealed).decode(), updated_by=actor.name, note=note
        )
        await record(
            connection,
            actor,
            "config.set",
            target=key,
            details={
                "from_version": before["version"],
                "to_version": stored_row["version"],
                "before": mask_value(key, before["value"]),
                "after": mask_value(key, value),
                "note": note,
            },
        )
        await configuration_db.notify(connection, key=key)
        (row,) = await configuration_db.history(connection, key=key, limit=1)
    return Change(entry=_entry(row), changed=True, previous_version=before["version"])
