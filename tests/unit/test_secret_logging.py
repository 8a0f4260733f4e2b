"""Log redaction covers the secrets TDS stores: their names as event keys, and secret-looking
values (ciphertexts, Slack webhook URLs, Telegram bot tokens) inside any logged string."""

from __future__ import annotations

import json

import pytest
import structlog

from tds_core.config.encryption import Keyring, generate_key
from tds_core.observability.logging import configure, redact_text


@pytest.fixture
def log_lines(capsys: pytest.CaptureFixture[str]) -> object:
    configure("INFO", "json")
    yield lambda: [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    structlog.reset_defaults()


@pytest.mark.parametrize(
    "key",
    [
        "secret_key",
        "zoho_client_secret",
        "zoho_refresh_token",
        "zoho_webhook_secret",
        "bot_token",
        "password",
        "ciphertext",
        "headers",
    ],
)
def test_secret_names_are_redacted_as_event_keys(log_lines: object, key: str) -> None:
    structlog.get_logger("t").info("event", **{key: "the-clear-value"})
    (line,) = log_lines()  # type: ignore[operator]
    assert line[key] == "***"


def test_secret_values_inside_strings_are_redacted() -> None:
    sealed = Keyring.parse(generate_key()).encrypt("x")
    text = redact_text(
        f"stored {sealed}; posting to https://hooks.slack.com/services/T000/B000/XXXXSECRET and "
        "https://api.telegram.org/bot123456:ABC-secret_token/sendMessage failed"
    )
    assert "XXXXSECRET" not in text and "ABC-secret_token" not in text and sealed not in text
    assert "enc:v1:***" in text and "hooks.slack.com/services/***" in text and "/bot***/sendMessage" in text


def test_standard_library_records_are_json_lines_with_the_traceback_redacted(log_lines: object) -> None:
    """asyncpg's pool, uvicorn and APScheduler log through the standard library: their lines,
    tracebacks included, are JSON objects like TDS's own (issue 16, item 11: pool errors were
    plain-text tracebacks outside the JSON log)."""
    import logging

    try:
        raise TimeoutError("while posting to https://hooks.slack.com/services/T0001/B0001/abcdefSECRET")
    except TimeoutError:
        logging.getLogger("asyncpg.pool").exception("Failed to restore the pool connection floor; retrying")
    (line,) = log_lines()  # type: ignore[operator]
    assert line["logger"] == "asyncpg.pool" and line["level"] == "error", line
    assert line["event"] == "Failed to restore the pool connection floor; retrying"
    assert "Traceback" in line["exception"] and "TimeoutError" in line["exception"], line
    assert "abcdefSECRET" not in json.dumps(line), line
