"""Senders, one per channel type: email (SMTP), Slack (incoming webhook), Telegram (Bot API
``sendMessage``) and a generic JSON webhook.

Each returns a short receipt or raises :class:`NotifyError`, which says whether trying again
can help (connection trouble, timeouts, 5xx, 429: yes; a 4xx or a refused recipient: no) and
how long the receiver asked us to wait. Secrets (the Slack URL, the bot token, SMTP password,
webhook headers) never appear in an error or a log line: errors are scrubbed of them, and
HTTP errors are described by status and body, never by URL.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx

from tds_core.alerts.messages import Message
from tds_core.config.runtime import Channel, EmailChannel, SlackChannel, TelegramChannel, WebhookChannel
from tds_core.observability.logging import scrub as scrub_text

BODY_EXCERPT = 300


class NotifyError(Exception):
    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


def secrets_of(channel: Channel) -> list[str]:
    """The values that must never be shown."""
    if isinstance(channel, EmailChannel):
        return [channel.password.get_secret_value()] if channel.password else []
    if isinstance(channel, SlackChannel):
        return [channel.url.get_secret_value()]
    if isinstance(channel, TelegramChannel):
        token = channel.bot_token.get_secret_value()
        return [token, token.partition(":")[2]]
    values = [value.get_secret_value() for value in channel.headers.values()]
    for value in list(values):
        scheme, _, credential = value.partition(" ")  # "Bearer <token>": the token alone too
        if credential and scheme.isalpha():
            values.append(credential)
    if "@" in str(channel.url):
        values.append(str(channel.url))  # credentials in the URL itself
    return values


def scrub(text: str, secrets: list[str]) -> str:
    """The shared scrubber (:func:`tds_core.observability.logging.scrub`): the channel's secrets
    in any form (a Slack URL's path echoed alone, a quoted token) and any secret-shaped value."""
    return scrub_text(text, secrets)


async def send(channel: Channel, notice: Message, http: httpx.AsyncClient, timeout: float) -> str:
    """Send ``notice`` through ``channel``; errors come out as scrubbed :class:`NotifyError`."""
    secrets = secrets_of(channel)
    try:
        if isinstance(channel, EmailChannel):
            return await asyncio.to_thread(_send_email, channel, notice, timeout)
        if isinstance(channel, SlackChannel):
            return await _send_slack(channel, notice, http, timeout)
        if isinstance(channel, TelegramChannel):
            return await _send_telegram(channel, notice, http, timeout)
        return await _send_webhook(channel, notice, http, timeout)
    except NotifyError as exc:
        raise NotifyError(
            scrub(str(exc), secrets), retryable=exc.retryable, retry_after=exc.retry_after
        ) from None
    except httpx.HTTPError as exc:  # connection refused, timeout, protocol error: worth a retry
        raise NotifyError(scrub(f"{type(exc).__name__}: {exc}", secrets)) from None


# ---------------------------------------------------------------------------- email
def _send_email(channel: EmailChannel, notice: Message, timeout: float) -> str:
    """Blocking (smtplib); run in a thread."""
    member = notice.recipient
    recipients = [member.email] if member and member.email else list(channel.to)
    if not recipients:
        raise NotifyError(
            f"email channel {channel.name}: no address (the on-call member has none and 'to' is empty)",
            retryable=False,
        )
    message = EmailMessage()
    message["Subject"] = notice.subject
    message["From"] = channel.sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=channel.sender.split("@", 1)[1])
    for name, value in notice.mail_headers.items():
        message[name] = value
    message.set_content(notice.text)
    try:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if channel.security == "tls":
            smtp = smtplib.SMTP_SSL(channel.smtp_host, channel.smtp_port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(channel.smtp_host, channel.smtp_port, timeout=timeout)
        with smtp:
            if channel.security == "starttls":
                smtp.starttls(context=context)
            if channel.username:
                password = channel.password.get_secret_value() if channel.password else ""
                smtp.login(channel.username, password)
            refused = smtp.send_message(message, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        refused_all = sorted(exc.recipients)
        raise NotifyError(f"SMTP refused every recipient: {refused_all}", retryable=False) from None
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc)
        # 5xx is a permanent refusal, except authentication, which an operator may fix mid-incident
        permanent = exc.smtp_code >= 500 and exc.smtp_code != 535
        raise NotifyError(f"SMTP {exc.smtp_code}: {text[:BODY_EXCERPT]}", retryable=not permanent) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise NotifyError(f"SMTP {type(exc).__name__}: {exc}") from None
    accepted = len(recipients) - len(refused)
    return f"accepted for {accepted} of {len(recipients)} recipient(s)"


# ---------------------------------------------------------------------------- HTTP channels
def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _refused(kind: str, response: httpx.Response) -> NotifyError:
    """A non-2xx answer: retry 429 and 5xx, give up on other 4xx."""
    body = response.text[:BODY_EXCERPT].strip()
    retryable = response.status_code == 429 or response.status_code >= 500
    return NotifyError(
        f"{kind} answered {response.status_code}: {body}",
        retryable=retryable,
        retry_after=_retry_after(response),
    )


async def _send_slack(channel: SlackChannel, notice: Message, http: httpx.AsyncClient, timeout: float) -> str:
    text = notice.chat_text
    member = notice.recipient
    if member and member.slack_handle:
        handle = member.slack_handle.lstrip("@")
        text = f"<@{handle}> {text}"
    response = await http.post(channel.url.get_secret_value(), json={"text": text}, timeout=timeout)
    if not response.is_success:
        raise _refused("Slack", response)
    return f"Slack {response.status_code} {response.text[:40]}".strip()


async def _send_telegram(
    channel: TelegramChannel, notice: Message, http: httpx.AsyncClient, timeout: float
) -> str:
    member = notice.recipient
    chat_id = member.telegram_chat_id if member and member.telegram_chat_id else channel.chat_id
    if not chat_id:
        raise NotifyError(
            f"telegram channel {channel.name}: no chat id (the on-call member has none and chat_id is unset)",
            retryable=False,
        )
    base = str(channel.api_base).rstrip("/")
    url = f"{base}/bot{channel.bot_token.get_secret_value()}/sendMessage"
    body = {"chat_id": chat_id, "text": notice.chat_text[:4096], "disable_web_page_preview": True}
    response = await http.post(url, json=body, timeout=timeout)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.is_success and isinstance(answer, dict) and answer.get("ok") is True:
        message_id = (answer.get("result") or {}).get("message_id")
        return f"Telegram message {message_id}"
    if isinstance(answer, dict) and "description" in answer:
        code = int(answer.get("error_code") or response.status_code)
        wait = (answer.get("parameters") or {}).get("retry_after")
        raise NotifyError(
            f"Telegram {code}: {str(answer['description'])[:BODY_EXCERPT]}",
            retryable=code == 429 or code >= 500,
            retry_after=float(wait) if isinstance(wait, int | float) else _retry_after(response),
        )
    raise _refused("Telegram", response)


async def _send_webhook(
    channel: WebhookChannel, notice: Message, http: httpx.AsyncClient, timeout: float
) -> str:
    headers = {name: value.get_secret_value() for name, value in channel.headers.items()}
    headers.setdefault("X-TDS-Delivery", str(notice.delivery_id))
    response = await http.post(str(channel.url), json=notice.payload(), headers=headers, timeout=timeout)
    if not response.is_success:
        raise _refused("webhook", response)
    return f"webhook {response.status_code}"
