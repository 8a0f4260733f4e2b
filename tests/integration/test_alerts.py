"""Alerts end to end against real receivers: an SMTP server (aiosmtpd) and local HTTP servers
standing in for Slack, Telegram's Bot API and a generic webhook.

Clocks are pinned through the ``now`` parameters (the engine's and the runner's); only the
latency measurement runs on the real clock, and it records the figure instead of judging it.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tds_core.access.actions import Actor
from tds_core.alerts import commands
from tds_core.alerts.delivery import DeliveryConfig, DeliveryRunner
from tds_core.alerts.engine import AlertEngine
from tds_core.alerts.numbers import HostUsage
from tds_core.alerts.service import AlertService
from tds_core.alerts.states import AlertStatus, DeliveryReason, DeliveryStatus, Severity
from tds_core.db.queries import QUERIES
from tds_core.domain.backoff import BackoffPolicy

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday; ana holds level 0, ben level 1
BOT_TOKEN = "123456:telegram-bot-secret"
SLACK_PATH = "/services/T000/B000/slack-url-secret"
HOOK_SECRET = "Bearer hook-header-secret"
OPERATOR = Actor("olga", "operator", "api")


def calm_host() -> HostUsage:
    return HostUsage("test-host", cpu_percent=5.0, memory_percent=5.0, disk_percent=5.0, disk_path="/")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------- the receivers
class Mailbox:
    """An aiosmtpd handler keeping every message (it runs in the controller's thread)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content)
        with self.lock:
            self.messages.append(
                {"to": list(envelope.rcpt_tos), "subject": parsed["Subject"], "body": parsed.get_payload()}
            )
        return "250 Message accepted for delivery"

    def taken(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.messages)


class Receivers:
    """Slack, Telegram and webhook stand-ins on one local aiohttp server, plus the mailbox.
    ``fail[kind]`` holds answers (status, body) to give before succeeding again."""

    def __init__(self, base: str, mailbox: Mailbox, smtp_port: int) -> None:
        self.base = base
        self.mailbox = mailbox
        self.smtp_port = smtp_port
        self.slack: list[dict[str, Any]] = []
        self.telegram: list[dict[str, Any]] = []
        self.hooks: list[dict[str, Any]] = []
        self.fail: dict[str, list[tuple[int, Any]]] = {"slack": [], "telegram": [], "webhook": []}
        self.seen_paths: list[str] = []

    def channels(self, **changes: Any) -> list[dict[str, Any]]:
        channels = [
            {
                "type": "email",
                "name": "mail",
                "smtp_host": "127.0.0.1",
                "smtp_port": self.smtp_port,
                "security": "none",
                "sender": "tds@example.com",
                "to": ["ops@example.com"],
            },
            {"type": "slack", "name": "slack", "url": self.base + SLACK_PATH},
            {
                "type": "telegram",
                "name": "telegram",
                "bot_token": BOT_TOKEN,
                "chat_id": "-100",
                "api_base": self.base,
            },
            {
                "type": "webhook",
                "name": "hook",
                "url": self.base + "/hook",
                "headers": {"Authorization": HOOK_SECRET},
            },
        ]
        return [c | changes.get(c["name"], {}) for c in channels]

    async def answer(self, kind: str, request: web.Request, ok: Callable[[], web.Response]) -> web.Response:
        self.seen_paths.append(request.path)
        record = {"json": await request.json(), "headers": dict(request.headers), "path": request.path}
        {"slack": self.slack, "telegram": self.telegram, "webhook": self.hooks}[kind].append(record)
        if self.fail[kind]:
            status, body = self.fail[kind].pop(0)
            return (
                web.json_response(body, status=status)
                if not isinstance(body, str)
                else web.Response(text=body, status=status)
            )
        return ok()

    def app(self) -> web.Application:
        async def slack(request: web.Request) -> web.Response:
            return await self.answer("slack", request, lambda: web.Response(text="ok"))

        async def telegram(request: web.Request) -> web.Response:
            count = len(self.telegram)
            return await self.answer(
                "telegram", request, lambda: web.json_response({"ok": True, "result": {"message_id": count}})
            )

        async def hook(request: web.Request) -> web.Response:
            return await self.answer("webhook", request, lambda: web.json_response({"received": True}))

        app = web.Application()
        app.router.add_post(SLACK_PATH, slack)
        app.router.add_post("/bot{token}/sendMessage", telegram)
        app.router.add_post("/hook", hook)
        return app

    def total(self) -> int:
        return len(self.slack) + len(self.telegram) + len(self.hooks) + len(self.mailbox.taken())


@pytest.fixture
async def receivers() -> AsyncIterator[Receivers]:
    mailbox = Mailbox()
    smtp_port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    runner: web.AppRunner | None = None
    try:
        http_port = free_port()
        found = Receivers(f"http://127.0.0.1:{http_port}", mailbox, smtp_port)
        runner = web.AppRunner(found.app())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", http_port).start()
        yield found
    finally:
        if runner is not None:
            await runner.cleanup()
        controller.stop()


async def configure(pool: Any, **values: Any) -> None:
    """New versions of configuration keys (``alerts__backlog=5`` sets ``alerts.backlog``)."""
    async with pool.acquire() as connection:
        for key, value in values.items():
            await connection.fetch(QUERIES.configuration_set, key.replace("__", "."), value, "tests", None)


ONCALL = {
    "rotation": "weekly",
    "starts_at": "2026-01-05T09:00:00+00:00",
    "levels": [
        {
            "members": [
                {
                    "name": "ana",
                    "email": "ana@example.com",
                    "telegram_chat_id": "111",
                    "slack_handle": "U0ANA",
                },
                {"name": "zed", "email": "zed@example.com"},
            ],
            "channels": ["mail", "slack", "telegram", "hook"],
        },
        {
            "members": [{"name": "ben", "email": "ben@example.com", "telegram_chat_id": "222"}],
            "channels": ["mail", "telegram"],
        },
    ],
}


@pytest.fixture
async def alerting(pool: Any, receivers: Receivers) -> Receivers:
    """Channels and rotation pointing at the receivers; thresholds a shared test server cannot trip."""
    await configure(
        pool,
        alerts__channels=receivers.channels(),
        alerts__oncall=ONCALL,
        alerts__db_connections_percent=100,
        alerts__dlq_growth=3,
        alerts__dlq_growth_window_seconds=3600,
        alerts__escalate_after_minutes=15,
    )
    return receivers


def engine(pool: Any, **kwargs: Any) -> AlertEngine:
    kwargs.setdefault("host_probe", calm_host)
    return AlertEngine(pool, daily_quota=1000, organization_id=None, **kwargs)


@pytest.fixture
async def runner(pool: Any) -> AsyncIterator[DeliveryRunner]:
    delivery = DeliveryRunner(pool, DeliveryConfig(backoff=BackoffPolicy(5.0, 60.0)))
    yield delivery
    await delivery.aclose()


async def dead_letters(pool: Any, count: int, created_at: datetime | None) -> None:
    await pool.execute(
        "INSERT INTO tds_dead_letter_queue (queue_id, entity, zoho_id, operation, source_version, payload,"
        " error, error_class, attempts, created_at)"
        " SELECT n, 'items', 'Z' || n, 'upsert', now(), '{}', 'boom', 'permanent', 8, coalesce($2, now())"
        " FROM generate_series(1, $1) n",
        count,
        created_at,
    )


async def deliveries(pool: Any, alert_id: int) -> list[dict[str, Any]]:
    async with pool.acquire() as connection:
        return list((await commands.show(connection, alert_id))["deliveries"])


async def only_alert(pool: Any) -> dict[str, Any]:
    rows = await pool.fetch("SELECT * FROM tds_alerts ORDER BY id")
    assert len(rows) == 1, [dict(r) for r in rows]
    return dict(rows[0])


# ---------------------------------------------------------------------------- the life of an alert
async def test_open_notify_once_escalate_and_auto_resolve(
    pool: Any, alerting: Receivers, runner: DeliveryRunner
) -> None:
    receivers = alerting
    await dead_letters(pool, 3, T0 - timedelta(minutes=2))
    alerts = engine(pool)

    opened = await alerts.run_once(now=T0)
    assert (opened.opened, opened.deliveries) == (1, 4)
    sent = await runner.run_once(now=T0 + timedelta(seconds=1))
    assert (sent.sent, sent.failed) == (4, 0)
    # condition (the 3rd dead letter, at T0-2min) to notification (T0+1s)
    assert sent.notify_seconds == [121.0] * 4

    # repeated evaluations update the alert and page nobody again
    for seconds in (5, 10, 15):
        again = await alerts.run_once(now=T0 + timedelta(seconds=seconds))
        assert (again.opened, again.updated, again.deliveries) == (0, 1, 0)
        assert not await runner.run_once(now=T0 + timedelta(seconds=seconds))
    alert = await only_alert(pool)
    assert (alert["status"], alert["occurrences"], alert["rule"]) == ("open", 4, "dlq_growth")

    # every channel told exactly once, with the on-call member's own address
    mail = receivers.mailbox.taken()
    assert [m["to"] for m in mail] == [["ana@example.com"]]
    assert mail[0]["subject"].startswith("[TDS WARNING] ALERT: 3 events dead-lettered")
    assert len(receivers.slack) == 1 and receivers.slack[0]["json"]["text"].startswith("<@U0ANA> ")
    assert [t["path"] for t in receivers.telegram] == [f"/bot{BOT_TOKEN}/sendMessage"]
    assert receivers.telegram[0]["json"]["chat_id"] == "111"
    assert "3 events dead-lettered" in receivers.telegram[0]["json"]["text"]
    hook = receivers.hooks[0]
    assert hook["headers"]["Authorization"] == HOOK_SECRET
    assert hook["json"]["event"] == "opened" and hook["json"]["alert"]["fingerprint"] == "dlq_growth"
    assert hook["json"]["recipient"]["name"] == "ana"
    assert [d["notify_seconds"] for d in await deliveries(pool, alert["id"])] == [121.0] * 4

    # unacknowledged for 15 minutes: level 1 (ben) is told, once; there is no level 2
    before = T0 + timedelta(minutes=14, seconds=59)
    assert (await alerts.run_once(now=before)).escalated == 0
    escalated = await alerts.run_once(now=T0 + timedelta(minutes=15))
    assert (escalated.escalated, escalated.deliveries) == (1, 2)
    assert (await runner.run_once(now=T0 + timedelta(minutes=15, seconds=1))).sent == 2
    assert (await alerts.run_once(now=T0 + timedelta(minutes=45))).escalated == 0
    assert [m["to"] for m in receivers.mailbox.taken()] == [["ana@example.com"], ["ben@example.com"]]
    assert [t["json"]["chat_id"] for t in receivers.telegram] == ["111", "222"]
    assert "ESCALATED (level 1)" in receivers.telegram[1]["json"]["text"]
    alert = await only_alert(pool)
    assert alert["escalation_level"] == 1 and alert["escalated_at"] == T0 + timedelta(minutes=15)

    # the dead letters leave the growth window: resolved, and both levels hear it
    resolved = await alerts.run_once(now=T0 + timedelta(minutes=59))
    assert (resolved.resolved, resolved.deliveries) == (1, 6)
    assert (await runner.run_once(now=T0 + timedelta(minutes=59))).sent == 6
    alert = await only_alert(pool)
    assert (alert["status"], alert["resolved_by"]) == ("resolved", "tds")
    assert sorted(m["to"][0] for m in receivers.mailbox.taken()[2:]) == ["ana@example.com", "ben@example.com"]
    assert all("RESOLVED" in m["subject"] for m in receivers.mailbox.taken()[2:])
    assert receivers.hooks[-1]["json"]["event"] == "resolved"
    assert receivers.total() == 4 + 2 + 6
    # and it stays quiet
    assert not await alerts.run_once(now=T0 + timedelta(minutes=60))
    assert not await runner.run_once(now=T0 + timedelta(minutes=60))


async def test_acknowledged_alert_does_not_escalate(
    pool: Any, alerting: Receivers, runner: DeliveryRunner
) -> None:
    await dead_letters(pool, 3, T0 - timedelta(minutes=1))
    alerts = engine(pool)
    await alerts.run_once(now=T0)
    alert = await only_alert(pool)
    async with pool.acquire() as connection:
        await commands.acknowledge(
            connection, alert["id"], OPERATOR, "looking", now=T0 + timedelta(minutes=1)
        )
    assert (await alerts.run_once(now=T0 + timedelta(minutes=30))).escalated == 0
    alert = await only_alert(pool)
    assert (alert["status"], alert["acknowledged_by"], alert["escalation_level"]) == (
        "acknowledged",
        "olga",
        0,
    )


async def test_silence_suppresses_notifications_until_it_ends(
    pool: Any, alerting: Receivers, runner: DeliveryRunner
) -> None:
    receivers = alerting
    async with pool.acquire() as connection:
        silence = await commands.create_silence(
            connection,
            OPERATOR,
            rule="dlq_growth",
            fingerprint=None,
            minutes=60,
            reason="planned replay",
            now=T0 - timedelta(minutes=1),
        )
    await dead_letters(pool, 3, T0 - timedelta(seconds=10))
    alerts = engine(pool)
    muted = await alerts.run_once(now=T0)
    assert (muted.opened, muted.silenced, muted.deliveries) == (1, 1, 0)
    # muted for the whole window: no page, no escalation
    for minutes in (1, 20, 40, 58):
        result = await alerts.run_once(now=T0 + timedelta(minutes=minutes))
        assert result.deliveries == 0 and result.escalated == 0
        assert not await runner.run_once(now=T0 + timedelta(minutes=minutes))
    alert = await only_alert(pool)
    assert (alert["status"], alert["silenced_by"], alert["notified_at"]) == ("silenced", "olga", None)
    assert alert["silenced_until"] == silence["ends_at"]
    assert receivers.total() == 0

    # the silence ends while the condition holds: the alert is told now, once
    live = await alerts.run_once(now=T0 + timedelta(minutes=59, seconds=30))
    assert (live.notified, live.deliveries) == (1, 4)
    assert (await runner.run_once(now=T0 + timedelta(minutes=59, seconds=31))).sent == 4
    assert (await only_alert(pool))["status"] == "open"
    assert receivers.total() == 4


async def test_ending_a_silence_early_and_silencing_one_alert(pool: Any, alerting: Receivers) -> None:
    await dead_letters(pool, 3, T0 - timedelta(seconds=30))
    alerts = engine(pool)
    await alerts.run_once(now=T0)
    alert = await only_alert(pool)
    async with pool.acquire() as connection:
        shown = await commands.silence_alert(
            connection, alert["id"], OPERATOR, minutes=30, reason="known", now=T0 + timedelta(seconds=1)
        )
        assert shown["status"] == "silenced"  # at once, not at the next evaluation
        silences = await commands.list_silences(connection, include_expired=False, limit=10, now=T0)
        assert [(s["rule"], s["fingerprint"]) for s in silences] == [("dlq_growth", "dlq_growth")]
        await commands.end_silence(connection, silences[0]["id"], OPERATOR, now=T0 + timedelta(minutes=2))
        with pytest.raises(commands.AlertConflict, match="already ended"):
            await commands.end_silence(connection, silences[0]["id"], OPERATOR, now=T0 + timedelta(minutes=3))
        with pytest.raises(commands.AlertNotFound):
            await commands.end_silence(connection, 9999, OPERATOR)
        with pytest.raises(commands.InvalidSilence):
            await commands.create_silence(
                connection, OPERATOR, rule=None, fingerprint=None, minutes=5, reason=""
            )
    alert = await only_alert(pool)
    assert (alert["status"], alert["silenced_until"]) == ("open", None)
    actions = await pool.fetch("SELECT actor, action, target FROM tds_operator_actions ORDER BY id")
    assert [(a["actor"], a["action"]) for a in actions] == [
        ("olga", "alert.silence"),
        ("olga", "alert.unsilence"),
    ]
    assert actions[0]["target"] == str(alert["id"])


# ---------------------------------------------------------------------------- delivery failures
async def test_a_failing_receiver_is_retried_and_the_results_recorded(
    pool: Any, alerting: Receivers, runner: DeliveryRunner
) -> None:
    receivers = alerting
    receivers.fail["slack"] = [(500, "internal_error"), (429, "rate_limited")]
    receivers.fail["telegram"] = [
        (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    ]
    await dead_letters(pool, 3, T0)
    await engine(pool).run_once(now=T0)
    first = await runner.run_once(now=T0)
    assert (first.sent, first.retrying, first.failed) == (2, 1, 1)
    alert = await only_alert(pool)
    by_channel = {d["channel"]: d for d in await deliveries(pool, alert["id"])}
    slack, telegram = by_channel["slack"], by_channel["telegram"]
    assert (slack["status"], slack["attempts"]) == ("pending", 1)
    assert slack["last_error"] == "Slack answered 500: internal_error"
    assert T0 < slack["next_attempt_at"] <= T0 + timedelta(seconds=5)
    # a 4xx from Telegram will not get better: failed at once, its reason kept, the token not
    assert (telegram["status"], telegram["attempts"]) == ("failed", 1)
    assert telegram["last_error"] == "Telegram 400: Bad Request: chat not found"

    second = await runner.run_once(now=T0 + timedelta(minutes=1))
    assert (second.sent, second.retrying) == (0, 1)
    third = await runner.run_once(now=T0 + timedelta(minutes=2))
    assert third.sent == 1
    slack = {d["channel"]: d for d in await deliveries(pool, alert["id"])}["slack"]
    assert (slack["status"], slack["attempts"], slack["last_error"]) == ("sent", 3, None)
    assert slack["sent_at"] == T0 + timedelta(minutes=2)
    assert len(receivers.slack) == 3
    # no secret reached the delivery rows
    stored = json.dumps(
        [dict(r) for r in await pool.fetch("SELECT * FROM tds_alert_deliveries")], default=str
    )
    assert BOT_TOKEN not in stored and "slack-url-secret" not in stored and "hook-header-secret" not in stored


async def test_an_unreachable_receiver_gives_up_after_the_attempts(pool: Any, alerting: Receivers) -> None:
    await configure(
        pool, alerts__channels=alerting.channels(hook={"url": f"http://127.0.0.1:{free_port()}/x"})
    )
    await dead_letters(pool, 3, T0)
    await engine(pool).run_once(now=T0)
    delivery = DeliveryRunner(pool, DeliveryConfig(max_attempts=2, backoff=BackoffPolicy(1.0, 1.0)))
    try:
        await delivery.run_once(now=T0)
        last = await delivery.run_once(now=T0 + timedelta(minutes=1))
    finally:
        await delivery.aclose()
    assert last.failed == 1
    hook = {d["channel"]: d for d in await deliveries(pool, (await only_alert(pool))["id"])}["hook"]
    assert (hook["status"], hook["attempts"]) == ("failed", 2)
    assert hook["last_error"].startswith("ConnectError")


async def test_a_channel_removed_from_the_configuration_fails_its_deliveries(
    pool: Any, alerting: Receivers, runner: DeliveryRunner
) -> None:
    await dead_letters(pool, 3, T0)
    await engine(pool).run_once(now=T0)
    await configure(pool, alerts__oncall={"levels": []}, alerts__channels=alerting.channels()[:1])
    result = await runner.run_once(now=T0)
    assert (result.sent, result.failed) == (1, 3)
    errors = {d["channel"]: d["last_error"] for d in await deliveries(pool, (await only_alert(pool))["id"])}
    assert errors["slack"] == "channel slack is no longer configured"


# ---------------------------------------------------------------------------- SMTP with TLS and a login
@pytest.fixture
def certificate(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, trusted by this process (``SSL_CERT_FILE``)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    return cert, key


def smtp_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    good = isinstance(data, LoginPassword) and (data.login, data.password) == (b"tds", b"smtp-secret")
    return AuthResult(success=good, handled=False)  # not handled: aiosmtpd answers 535 itself


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_smtp_over_tls_with_a_login(
    pool: Any, runner: DeliveryRunner, certificate: tuple[str, str], security: str
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    mailbox, port = Mailbox(), free_port()
    # implicit TLS wraps the whole connection, but aiosmtpd only counts STARTTLS as TLS for AUTH:
    # there AUTH is offered (the client logs in because a username is set), not required
    tls: dict[str, Any] = (
        {"ssl_context": context, "auth_require_tls": False}
        if security == "tls"
        else {"tls_context": context, "require_starttls": True, "auth_required": True}
    )
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, authenticator=smtp_login, **tls)
    controller.start()
    try:
        mail = {
            "type": "email",
            "name": "mail",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "security": security,
            "username": "tds",
            "password": "smtp-secret",
            "sender": "tds@example.com",
            "to": ["ops@example.com"],
        }
        await configure(
            pool, alerts__channels=[mail], alerts__db_connections_percent=100, alerts__dlq_growth=3
        )
        await dead_letters(pool, 3, T0)
        await engine(pool).run_once(now=T0)
        assert (await runner.run_once(now=T0)).sent == 1
        assert [m["to"] for m in mailbox.taken()] == [["ops@example.com"]]

        # a wrong password is refused (535): kept as a retryable error, without the password
        await configure(pool, alerts__channels=[mail | {"password": "wrong-secret"}])
        async with pool.acquire() as connection:
            await commands.resolve(connection, (await only_alert(pool))["id"], OPERATOR)
        await engine(pool).run_once(now=T0 + timedelta(seconds=5))
        result = await runner.run_once(now=T0 + timedelta(seconds=5))
        assert result.retrying == 1
        error = await pool.fetchval("SELECT last_error FROM tds_alert_deliveries ORDER BY id DESC LIMIT 1")
        assert error.startswith("SMTP 535") and "wrong-secret" not in error
    finally:
        controller.stop()


# ---------------------------------------------------------------------------- the rules over real rows
async def seed_every_condition(pool: Any) -> dict[str, Any]:
    """One row set that trips every rule (thresholds lowered where the defaults are large)."""
    await pool.execute(
        "INSERT INTO tds_sync_logs (entity, outcome, created_at)"
        " SELECT 'items', CASE WHEN n <= 3 THEN 'retry' ELSE 'completed' END,"
        " $1::timestamptz - interval '1 minute'"
        " FROM generate_series(1, 30) n",
        T0,
    )
    await pool.execute(
        "INSERT INTO tds_sync_queue (entity, zoho_id, operation, source_version, content_hash, payload,"
        " enqueued_at) SELECT 'items', 'Q' || n, 'upsert', $1, 'h', '{}',"
        " $1::timestamptz - interval '20 minutes'"
        " FROM generate_series(1, 3) n",
        T0,
    )
    runs = (
        "INSERT INTO tds_sync_runs (entity, kind, status, started_at, finished_at, drift, details)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
    )
    await pool.execute(
        runs,
        "items",
        "incremental",
        "succeeded",
        T0 - timedelta(minutes=31),
        T0 - timedelta(minutes=30),
        None,
        {},
    )
    await pool.execute(
        runs,
        "contacts",
        "incremental",
        "succeeded",
        T0 - timedelta(minutes=21),
        T0 - timedelta(minutes=20),
        None,
        {},
    )
    await pool.execute(runs, "contacts", "incremental", "running", T0 - timedelta(minutes=1), None, None, {})
    await pool.execute(
        runs, "bills", "full", "failed", T0 - timedelta(minutes=40), T0 - timedelta(minutes=39), None, {}
    )
    # the first pull of invoices finished before the reconciliation began (else no drift alert)
    await pool.execute(
        runs, "invoices", "full", "succeeded", T0 - timedelta(hours=3), T0 - timedelta(hours=3), None, {}
    )
    await pool.execute(
        runs,
        "invoices",
        "incremental",
        "succeeded",
        T0 - timedelta(minutes=3),
        T0 - timedelta(minutes=2),
        None,
        {},
    )
    drift_run = await pool.fetchval(
        runs,
        "invoices",
        "reconcile",
        "succeeded",
        T0 - timedelta(hours=2),
        T0 - timedelta(hours=1),
        2,
        {"counts": {"missing": 2, "stale": 0, "extra": 0, "conflicts": 0}},
    )
    await pool.execute(
        runs, "items", "reconcile", "succeeded", T0 - timedelta(hours=2), T0 - timedelta(hours=1), 0, {}
    )
    await pool.execute(
        "INSERT INTO tds_workers (worker_id, hostname, pid, heartbeat_at, stopped_at, circuit_state,"
        " circuit_changed_at) VALUES"
        " ('w-silent', 'h1', 1, $1::timestamptz - interval '5 minutes', NULL, 'closed', $1),"
        " ('w-tripped', 'h1', 2, $1 - interval '2 seconds', NULL, 'open', $1 - interval '30 seconds'),"
        " ('w-stopped', 'h1', 3, $1 - interval '1 hour', $1 - interval '1 hour', 'closed', $1),"
        " ('w-ancient', 'h1', 4, $1 - interval '3 days', NULL, 'closed', $1)",
        T0,
    )
    await dead_letters(pool, 1, T0 - timedelta(hours=25))
    await pool.execute(
        "INSERT INTO tds_api_usage (organization_id, second, calls) VALUES ('org-1', $1, 95)",
        T0 - timedelta(hours=1),
    )
    await configure(pool, alerts__backlog=2, alerts__db_connections_percent=0.01, alerts__dlq_growth=100)
    return {"drift_run": drift_run}


async def test_every_rule_fires_from_real_rows(
    pool: Any, alerting: Receivers, runner: DeliveryRunner
) -> None:
    seeded = await seed_every_condition(pool)
    hot = HostUsage("test-host", cpu_percent=97.0, memory_percent=96.0, disk_percent=95.0, disk_path="/srv")
    alerts = AlertEngine(pool, daily_quota=100, organization_id="org-1", host_probe=lambda: hot)
    await alerts.run_once(now=T0)
    rows = await pool.fetch("SELECT fingerprint, details FROM tds_alerts WHERE status = 'open'")
    assert {r["fingerprint"] for r in rows} == {
        "failure_rate",
        "backlog",
        "sync_lag:queue",
        "sync_lag:items",
        "sync_lag:bills",
        "dlq_age",
        "circuit_open",
        "zoho_quota:org-1",
        f"reconcile_drift:invoices:{seeded['drift_run']}",
        "worker_heartbeat:w-silent",
        "host_cpu:test-host",
        "host_memory:test-host",
        "host_disk:test-host",
        "db_connections",
    }
    details = {r["fingerprint"]: r["details"] for r in rows}
    assert details["failure_rate"] == {"finished": 30, "failed": 3, "rate": 0.1}
    assert details["zoho_quota:org-1"] == {"used": 95, "daily_quota": 100, "left": 5}
    assert details["sync_lag:queue"]["condition_since"] == (T0 - timedelta(minutes=5)).isoformat()
    assert details["dlq_age"]["condition_since"] == (T0 - timedelta(hours=1)).isoformat()
    assert details["worker_heartbeat:w-silent"]["condition_since"] == (T0 - timedelta(minutes=4)).isoformat()


async def test_only_evaluated_rules_resolve_and_per_event_alerts_stay_resolved(
    pool: Any, alerting: Receivers, runner: DeliveryRunner
) -> None:
    seeded = await seed_every_condition(pool)
    hot = HostUsage("test-host", cpu_percent=97.0, memory_percent=5.0, disk_percent=5.0, disk_path="/srv")
    await AlertEngine(pool, daily_quota=100, organization_id="org-1", host_probe=lambda: hot).run_once(now=T0)

    def broken() -> HostUsage:
        raise OSError("no /proc")

    # no host figures, no organization: the host and quota alerts are not taken for cleared
    blind = AlertEngine(pool, daily_quota=100, organization_id=None, host_probe=broken)
    assert (await blind.run_once(now=T0 + timedelta(seconds=5))).resolved == 0
    open_now = {
        r["fingerprint"] for r in await pool.fetch("SELECT fingerprint FROM tds_alerts WHERE status = 'open'")
    }
    assert {"host_cpu:test-host", "zoho_quota:org-1"} <= open_now

    # an operator resolves a per-event alert: it stays resolved; a lasting condition reopens
    drift = f"reconcile_drift:invoices:{seeded['drift_run']}"
    ids = {r["fingerprint"]: r["id"] for r in await pool.fetch("SELECT id, fingerprint FROM tds_alerts")}
    async with pool.acquire() as connection:
        await commands.resolve(connection, ids[drift], OPERATOR, "healed", now=T0 + timedelta(seconds=6))
        await commands.resolve(connection, ids["dlq_age"], OPERATOR, None, now=T0 + timedelta(seconds=6))
    again = await blind.run_once(now=T0 + timedelta(seconds=10))
    assert again.opened == 1
    rows = await pool.fetch(
        "SELECT fingerprint, status FROM tds_alerts WHERE fingerprint IN ($1, 'dlq_age') ORDER BY id", drift
    )
    assert sorted((r["fingerprint"], r["status"]) for r in rows) == [
        ("dlq_age", "open"),
        ("dlq_age", "resolved"),
        (drift, "resolved"),
    ]
    reasons = await pool.fetch(
        "SELECT DISTINCT d.reason FROM tds_alert_deliveries d JOIN tds_alerts a ON a.id = d.alert_id"
        " WHERE a.fingerprint = 'dlq_age' AND a.status = 'open'"
    )
    assert [r["reason"] for r in reasons] == ["reopened"]


# ---------------------------------------------------------------------------- how fast
async def test_condition_to_notification_time_is_measured(
    pool: Any, alerting: Receivers, record_property: Any, tmp_path: Any
) -> None:
    """On the real clock, as the scheduler runs it (one tick a second, evaluation every second):
    the measured time from the condition's start to the webhook's acceptance is recorded."""
    await configure(pool, alerts__evaluate_seconds=1)
    service = AlertService(pool, daily_quota=1000, organization_id=None, home=tmp_path, host_probe=calm_host)
    try:
        await service.run_once()  # nothing firing yet
        await dead_letters(pool, 3, None)  # the condition begins now (the database's clock)
        started = time.monotonic()
        while not alerting.hooks and time.monotonic() - started < 60:
            await service.run_once()
            await asyncio.sleep(0.1)
    finally:
        await service.aclose()
    assert len(alerting.hooks) == 1
    hook = {d["channel"]: d for d in await deliveries(pool, (await only_alert(pool))["id"])}["hook"]
    assert hook["status"] == "sent" and hook["notify_seconds"] is not None and hook["notify_seconds"] >= 0
    record_property("condition_to_notification_seconds", hook["notify_seconds"])
    print(f"condition to notification: {hook['notify_seconds']:.3f} s")


# ---------------------------------------------------------------------------- states defined once
@pytest.mark.parametrize(
    ("table", "column", "states"),
    [
        ("tds_alerts", "status", AlertStatus),
        ("tds_alerts", "severity", Severity),
        ("tds_alert_deliveries", "status", DeliveryStatus),
        ("tds_alert_deliveries", "reason", DeliveryReason),
    ],
)
async def test_the_code_and_the_schema_agree_on_states(
    pool: Any, table: str, column: str, states: Any
) -> None:
    checks = await pool.fetch(
        "SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint"
        " WHERE conrelid = $1::regclass AND contype = 'c'",
        table,
    )
    mine = [c["definition"] for c in checks if f"({column} = ANY" in c["definition"]]
    assert len(mine) == 1, checks
    assert set(re.findall(r"'([a-z_]+)'::text", mine[0])) == {state.value for state in states}
