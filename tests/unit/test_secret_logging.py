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
