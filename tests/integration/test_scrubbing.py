"""One scrubber for every secret's shape (issue 16, item 6): a receiver that echoes the request
(its path, its query, its headers) in an error cannot get a Slack webhook path, a bot token, a
header credential or URL credentials into a delivery error, a log line or an API answer.

The receivers are real local HTTP servers (aiohttp); the errors are the notifiers' own."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from tds_core.alerts import notifiers
from tds_core.config.runtime import OnCallMember, SlackChannel, TelegramChannel, WebhookChannel
from tds_core.observability.logging import redact_text, scrub

SLACK_PATH = "/services/T0ABCDEF1/B0GHIJKL2/xSecretPathPart0123456789"
BOT_TOKEN = "123456789:AAHsecretBotToken_abcdefghijklmno"
HOOK_TOKEN = "hook-credential-0123456789abcdef"


@dataclass
class Notice:
    """What a notifier needs of a notification (alerts.messages.Message)."""

    delivery_id: int = 1
    recipient: OnCallMember | None = None
    subject: str = "test"
    text: str = "test"
    chat_text: str = "test"
    mail_headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {"text": self.text}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def echo() -> AsyncIterator[str]:
    """A receiver that refuses everything and echoes the request back, quoted and not."""

    async def handler(request: web.Request) -> web.Response:
        text = f"no such route {request.path} (raw {request.raw_path}); headers {dict(request.headers)}"
        return web.Response(status=404, text=text)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def refusal(channel: Any) -> str:
    async with httpx.AsyncClient() as http:
        with pytest.raises(notifiers.NotifyError) as refused:
            await notifiers.send(channel, Notice(), http, timeout=5)  # type: ignore[arg-type]
    return str(refused.value)


async def test_an_echoed_slack_path_is_scrubbed(echo: str) -> None:
    said = await refusal(SlackChannel(name="s", url=f"{echo}{SLACK_PATH}"))  # type: ignore[arg-type]
    assert "404" in said
    assert "xSecretPathPart" not in said and "B0GHIJKL2" not in said, said


async def test_an_echoed_bot_token_is_scrubbed(echo: str) -> None:
    channel = TelegramChannel(name="t", bot_token=BOT_TOKEN, chat_id="7", api_base=echo)  # type: ignore[arg-type]
    said = await refusal(channel)
    assert "AAHsecretBotToken" not in said, said


async def test_echoed_header_credentials_are_scrubbed(echo: str) -> None:
    channel = WebhookChannel(
        name="w",
        url=f"{echo}/hook",  # type: ignore[arg-type]
        headers={"Authorization": f"Bearer {HOOK_TOKEN}", "X-Api-Key": "another-secret-value-42"},  # type: ignore[dict-item]
    )
    said = await refusal(channel)
    assert HOOK_TOKEN not in said and "another-secret-value-42" not in said, said


def test_secret_shapes_are_scrubbed_without_knowing_the_secret() -> None:
    """What logs and API answers get even when the secret itself is not at hand."""
    for text, secret in (
        (f"receiver said: no such route {SLACK_PATH}", "xSecretPathPart"),
        ("receiver said: %2Fservices%2FT0ABCDEF1%2FB0GHIJKL2%2FxSecretPathPart", "xSecretPathPart"),
        (f"POST https://api.telegram.org/bot{BOT_TOKEN}/sendMessage", "AAHsecretBotToken"),
        ("connecting to https://tds:s3cretPass@mail.example.com failed", "s3cretPass"),
    ):
        assert secret not in redact_text(text), text
        assert secret not in scrub(text), text
    assert (
        scrub("mail ops@example.com, path /api/v1/services/list")
        == "mail ops@example.com, path /api/v1/services/list"
    )
