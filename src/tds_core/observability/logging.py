"""structlog set-up: JSON lines (or console) with secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import structlog

#: Event keys whose values are never logged: passwords, secrets (TDS_SECRET_KEY, the Zoho client
#: and webhook secrets), tokens (refresh, bot), keys, credentials headers, ciphertexts.
SECRET_KEYS = re.compile(
    r"(password|secret|token|api_key|x-tds-key|authorization|signature|ciphertext|headers)", re.IGNORECASE
)
#: Secret-looking values inside any logged string, with what replaces them: TDS API keys, stored
#: ciphertexts, Slack webhook URLs, Telegram bot tokens in Bot API URLs.
SECRET_VALUES = (
    (re.compile(r"tds_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}"), "tds_***"),
    (re.compile(r"enc:v1:[A-Za-z0-9_=-]+"), "enc:v1:***"),
    (re.compile(r"hooks\.slack\.com/(services|workflows|triggers)/[^\s'\"]+"), r"hooks.slack.com/\1/***"),
    # a Slack webhook's path alone (a receiver echoing the request path): /services/T…/B…/secret
    (
        re.compile(r"(services|workflows|triggers)(/|%2F|%2f)[TBAW][A-Z0-9]{4,}[^\s'\"]*"),
        r"\1/***",
    ),
    (re.compile(r"bot\d+(:|%3A)[A-Za-z0-9_-]+"), "bot***"),
    (re.compile(r"://[^/\s:@'\"]+:[^/\s@'\"]+@"), "://***@"),  # credentials in a URL
)


#: One scan that finds whether any of SECRET_VALUES can match; most strings (every request's log
#: line) have none, and one search costs a fraction of the substitutions.
SECRET_HINT = re.compile(
    r"tds_[0-9a-f]{8}_|enc:v1:|hooks\.slack\.com/|services|workflows|triggers|bot\d|@", re.I
)


def redact_text(text: str) -> str:
    if SECRET_HINT.search(text) is None:
        return text
    for pattern, replacement in SECRET_VALUES:
        text = pattern.sub(replacement, text)
    return text


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without any of ``secrets`` (as given, URL-quoted, or as a URL's path or query)
    and without anything shaped like a secret (:data:`SECRET_VALUES`): the one scrubber for
    logs, stored errors and API answers."""
    for secret in secrets:
        for form in secret_forms(secret):
            text = text.replace(form, "***")
    return redact_text(text)


def secret_forms(secret: str) -> list[str]:
    """The ways ``secret`` may show up in a message: itself, URL-quoted, and for a URL its path
    (with and without the leading ``/``) and query, each quoted too. Longest first."""
    if len(secret) < 4:
        return [secret] if secret else []
    forms = {secret, quote(secret, safe=""), quote(secret)}
    parts = urlsplit(secret) if "://" in secret else None
    if parts is not None:
        for piece in (parts.path, parts.path.lstrip("/"), parts.query, parts.netloc.rpartition("@")[0]):
            if len(piece) >= 8:
                forms |= {piece, quote(piece, safe=""), quote(piece)}
    return sorted(forms, key=len, reverse=True)


def _redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if SECRET_KEYS.search(key):
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = redact_text(value)
    return event


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now (a test runner may swap and close it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _json(event: Any, **_: Any) -> str:
    """orjson, a third of the standard encoder's cost per line; anything it cannot encode
    natively is logged as its ``str``."""
    try:
        return orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # an integer beyond 64 bits, say
        return json.dumps(event, default=str)


def configure(level: str = "INFO", fmt: str = "json") -> None:
    """structlog's lines, and the standard library's (asyncpg's pool, uvicorn, APScheduler) in
    the same shape: one JSON object per line with ``level``, ``timestamp``, ``logger`` and a
    formatted ``exception``, redacted like TDS's own events."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: Any = structlog.processors.JSONRenderer(serializer=_json)
    if fmt != "json":
        renderer = structlog.dev.ConsoleRenderer()
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, structlog.processors.add_log_level, stamp],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _redact,
                renderer,
            ],
        )
    )
    logging.basicConfig(level=numeric, handlers=[handler], force=True)
    for noisy in ("pgserver", "alembic", "asyncio", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            structlog.processors.format_exc_info,
            _redact,  # after the traceback is text, so a secret in an exception's message goes too
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,  # re-configurable; TDS logs per batch, not per event
    )
