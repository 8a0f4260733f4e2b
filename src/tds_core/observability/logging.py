"""structlog set-up: JSON lines (or console) with secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

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
    (re.compile(r"/bot\d+:[A-Za-z0-9_-]+"), "/bot***"),
)


#: One scan that finds whether any of SECRET_VALUES can match; most strings (every request's log
#: line) have none, and one search costs a quarter of the four substitutions.
SECRET_HINT = re.compile(r"tds_[0-9a-f]{8}_|enc:v1:|hooks\.slack\.com/|/bot\d")


def redact_text(text: str) -> str:
    if SECRET_HINT.search(text) is None:
        return text
    for pattern, replacement in SECRET_VALUES:
        text = pattern.sub(replacement, text)
    return text


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
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    logging.basicConfig(stream=sys.stderr, level=numeric, format="%(message)s")
    for noisy in ("pgserver", "alembic", "asyncio", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
    renderer: Any = structlog.processors.JSONRenderer(serializer=_json)
    if fmt != "json":
        renderer = structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,  # re-configurable; TDS logs per batch, not per event
    )
