"""Secrets at rest on a real PostgreSQL: the raw tables never hold a secret in clear, rotation
round-trips, a wrong key fails fast, the environment wins over the database, the admin API is
write-only, and the alert notifiers still send with the decrypted secrets."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from tds_core import app as composition
from tds_core.access.actions import Actor
from tds_core.alerts.delivery import DeliveryRunner
from tds_core.alerts.engine import AlertEngine
from tds_core.config.encryption import ENVELOPE, Keyring, generate_key
from tds_core.config.runtime import load
from tds_core.errors import SecretKeyError
from tds_core.operations import configuration, secrets
from tds_core.operations.configuration import MASK
from tds_core.processor.worker import Worker
from tds_core.settings import Settings

from . import samples
from .test_alerts import (  # the alert receivers and helpers, reused
    BOT_TOKEN,
    HOOK_SECRET,
    SLACK_PATH,
    Receivers,
    calm_host,
    dead_letters,
    receivers,
)

Headers = Callable[..., Awaitable[dict[str, str]]]
ADMIN = Actor("root", "admin", "cli")
A, B = generate_key(), generate_key()
REFRESH_TOKEN = "1000.refresh-token-in-the-database"
CLIENT_SECRET = "client-secret-in-the-database"
WEBHOOK_SECRET = "webhook-signing-secret-db"
SMTP_PASSWORD = "smtp-password-secret"
SLACK_URL = "https://hooks.slack.test/services/T1/B1/slack-url-secret"
CHANNELS = [
    {"name": "ops-slack", "type": "slack", "url": SLACK_URL},
    {
        "name": "ops-mail",
        "type": "email",
        "smtp_host": "smtp.test",
        "password": SMTP_PASSWORD,
        "sender": "tds@example.com",
    },
    {"name": "ops-bot", "type": "telegram", "bot_token": BOT_TOKEN, "chat_id": "7"},
    {
        "name": "ops-hook",
        "type": "webhook",
        "url": "https://hook.test/x",
        "headers": {"Authorization": HOOK_SECRET},
    },
]
CLEAR = (
    REFRESH_TOKEN,
    CLIENT_SECRET,
    WEBHOOK_SECRET,
    SMTP_PASSWORD,
    "slack-url-secret",
    BOT_TOKEN,
    HOOK_SECRET,
)

_ = receivers  # a fixture


def settings_with(tmp_path: Path, key: str | None = None, **values: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, env="test", home=tmp_path, log_level="WARNING", secret_key=key, **values
    )


async def raw_text(pool: Any) -> str:
    """Everything the three tables that may see a secret hold, as PostgreSQL stores it."""
    parts = [
        await pool.fetchval("SELECT coalesce(string_agg(value::text, ' '), '') FROM tds_configuration"),
        await pool.fetchval("SELECT coalesce(string_agg(ciphertext, ' '), '') FROM tds_secrets"),
        await pool.fetchval("SELECT coalesce(string_agg(details::text, ' '), '') FROM tds_operator_actions"),
    ]
    return " ".join(parts)


def assert_clear_of_secrets(text: str) -> None:
    for secret in CLEAR:
        assert secret not in text


async def write_everything(pool: Any, keyring: Keyring) -> None:
    async with pool.acquire() as connection:
        await secrets.verify(connection, keyring)
        await configuration.set_value(connection, "alerts.channels", CHANNELS, ADMIN, keyring=keyring)
        await secrets.set_secret(connection, "zoho_refresh_token", REFRESH_TOKEN, ADMIN, keyring=keyring)
        await secrets.set_secret(connection, "zoho_client_secret", CLIENT_SECRET, ADMIN, keyring=keyring)


# ---------------------------------------------------------------------------- never in clear
async def test_the_raw_tables_never_hold_a_secret_in_clear(pool: Any) -> None:
    keyring = Keyring.parse(A)
    await write_everything(pool, keyring)
    text = await raw_text(pool)
    assert_clear_of_secrets(text)
    assert text.count(ENVELOPE) >= 5 + 3  # five channel secrets, two stored secrets and the canary
    async with pool.acquire() as connection:
        config = await load(connection, keyring)
        assert await secrets.stored_values(connection, keyring) == {
            "zoho_refresh_token": REFRESH_TOKEN,
            "zoho_client_secret": CLIENT_SECRET,
        }
    slack, mail, bot, hook = config.alerts__channels
    assert slack.url.get_secret_value() == SLACK_URL  # type: ignore[union-attr]
    assert mail.password.get_secret_value() == SMTP_PASSWORD  # type: ignore[union-attr]
    assert bot.bot_token.get_secret_value() == BOT_TOKEN  # type: ignore[union-attr]
    assert hook.headers["Authorization"].get_secret_value() == HOOK_SECRET  # type: ignore[union-attr]


async def test_the_table_refuses_a_clear_value(pool: Any) -> None:
    with pytest.raises(Exception, match="check constraint"):
        await pool.execute(
            "INSERT INTO tds_secrets (name, ciphertext, updated_by) VALUES ('x', 'clear', 't')"
        )


async def test_clear_secrets_written_before_encryption_are_encrypted_at_start(
    pool: Any, tmp_path: Path
) -> None:
    """Versions written by older releases (or seeded by SQL) hold clear secrets: the first start
    encrypts every one of them, in every version, and nothing else changes."""
    for version, channels in ((2, CHANNELS[:1]), (3, CHANNELS)):
        await pool.execute(
            "INSERT INTO tds_configuration (key, version, value, updated_by)"
            " VALUES ('alerts.channels', $1, $2, 'old')",
            version,
            orjson.dumps(channels).decode(),
        )
    settings = settings_with(tmp_path, A)
    async with pool.acquire() as connection:
        unlocked = await composition.unlock_secrets(settings, connection)
        assert (await secrets.verify(connection, unlocked.keyring)).encrypted == 0  # done once
        config = await load(connection, unlocked.keyring)
    assert_clear_of_secrets(await raw_text(pool))
    assert [c.name for c in config.alerts__channels] == [c["name"] for c in CHANNELS]
    rows = await pool.fetch("SELECT version, updated_by FROM tds_configuration WHERE key = 'alerts.channels'")
    assert sorted((r["version"], r["updated_by"]) for r in rows) == [(1, "migration"), (2, "old"), (3, "old")]
    with pytest.raises(SecretKeyError, match="needs TDS_SECRET_KEY"):
        async with pool.acquire() as connection:
            await load(connection)  # no keyring: never a ciphertext used as the secret


# ---------------------------------------------------------------------------- rotation
async def test_rotation_round_trips_and_the_old_key_alone_then_fails_fast(pool: Any, tmp_path: Path) -> None:
    await write_everything(pool, Keyring.parse(A))
    before = await raw_text(pool)

    both = Keyring.parse(f"{B},{A}")
    async with pool.acquire() as connection:
        result = await secrets.rotate(connection, both, ADMIN)
        again = await secrets.rotate(connection, both, ADMIN)
    assert (result.secrets, result.secrets_rotated) == (3, 3)  # two secrets and the canary
    assert (result.values_rotated, result.values_encrypted, result.configuration_versions_rewritten) == (
        5,
        0,
        1,
    )
    assert (again.secrets_rotated, again.values_rotated, again.configuration_versions_rewritten) == (0, 0, 0)
    assert_clear_of_secrets(await raw_text(pool))
    assert await raw_text(pool) != before

    async with pool.acquire() as connection:  # the new key alone reads everything back
        unlocked = await composition.unlock_secrets(settings_with(tmp_path, B), connection)
        config = await load(connection, unlocked.keyring)
    assert unlocked.settings.zoho_refresh_token == SecretStr(REFRESH_TOKEN)
    assert config.alerts__channels[0].url.get_secret_value() == SLACK_URL  # type: ignore[union-attr]

    with pytest.raises(SecretKeyError) as refused:
        async with pool.acquire() as connection:
            await composition.unlock_secrets(settings_with(tmp_path, A), connection)
    assert str(refused.value).startswith(
        "TDS_SECRET_KEY cannot decrypt the secrets stored in this database: it is not the key they were"
        " written with (keys tried: 1). Set the old key first in TDS_SECRET_KEY"
    )
    actions = await pool.fetch(
        "SELECT action, details FROM tds_operator_actions WHERE action = 'secrets.rotate'"
    )
    assert [a["details"]["secrets_rotated"] for a in actions] == [3, 0]


async def test_a_secret_another_key_wrote_is_named_even_when_the_canary_reads(
    pool: Any, tmp_path: Path
) -> None:
    async with pool.acquire() as connection:
        await secrets.verify(connection, Keyring.parse(A))
        await secrets.set_secret(
            connection, "zoho_refresh_token", REFRESH_TOKEN, ADMIN, keyring=Keyring.parse(B)
        )
        with pytest.raises(SecretKeyError, match=r"cannot decrypt 1 stored secret\(s\): zoho_refresh_token"):
            await composition.unlock_secrets(settings_with(tmp_path, A), connection)


# ---------------------------------------------------------------------------- precedence
async def test_the_environment_wins_over_the_database(pool: Any, tmp_path: Path) -> None:
    keyring = Keyring.parse(A)
    await write_everything(pool, keyring)
    async with pool.acquire() as connection:
        await secrets.set_secret(connection, "zoho_webhook_secret", WEBHOOK_SECRET, ADMIN, keyring=keyring)
        environment = settings_with(
            tmp_path,
            A,
            zoho_refresh_token="1000.from-the-environment",
            zoho_organization_id="1",
            zoho_client_id="c",
        )
        unlocked = await composition.unlock_secrets(environment, connection)
        sources = {s.name: s.source for s in await secrets.sources(connection, {"zoho_refresh_token"})}
    merged = unlocked.settings
    assert merged.zoho_refresh_token == SecretStr("1000.from-the-environment")
    assert merged.zoho_client_secret == SecretStr(CLIENT_SECRET)
    assert merged.zoho_webhook_secret == SecretStr(WEBHOOK_SECRET)
    assert unlocked.from_database == {"zoho_client_secret", "zoho_webhook_secret"}
    assert not merged.uses_simulator
    assert composition.zoho_config(merged).client_secret == CLIENT_SECRET
    assert sources == {
        "zoho_client_secret": "database",
        "zoho_refresh_token": "environment",
        "zoho_webhook_secret": "database",
    }


async def test_without_stored_secrets_the_environment_only_path_is_unchanged(
    pool: Any, tmp_path: Path
) -> None:
    settings = settings_with(tmp_path)  # no key: a development key is generated in TDS_HOME
    async with pool.acquire() as connection:
        unlocked = await composition.unlock_secrets(settings, connection)
    assert unlocked.settings == settings and unlocked.from_database == frozenset()
    assert unlocked.settings.uses_simulator
    assert (tmp_path / "secret-key").exists()


# ---------------------------------------------------------------------------- the admin API
async def test_the_secrets_api_is_admin_only_write_only_and_recorded(
    client: httpx.AsyncClient, pool: Any, auth_headers: Headers
) -> None:
    assert (await client.get("/api/v1/secrets")).status_code == 401
    operator = await auth_headers("operator")
    refused = await client.put(
        "/api/v1/secrets/zoho_refresh_token", json={"value": REFRESH_TOKEN}, headers=operator
    )
    assert refused.status_code == 403 and "admin" in refused.json()["error"]
    admin = await auth_headers("admin")

    stored = await client.put(
        "/api/v1/secrets/zoho_refresh_token", json={"value": REFRESH_TOKEN}, headers=admin
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["source"] == "database" and stored.json()["updated_by"] == "admin-user"
    listed = await client.get("/api/v1/secrets", headers=admin)
    assert listed.status_code == 200
    assert {s["name"]: s["source"] for s in listed.json()} == {
        "zoho_client_secret": "unset",
        "zoho_refresh_token": "database",
        "zoho_webhook_secret": "unset",
    }
    assert_clear_of_secrets(stored.text + listed.text + await raw_text(pool))

    unknown = await client.put("/api/v1/secrets/jwt_secret", json={"value": "x" * 40}, headers=admin)
    assert unknown.status_code == 404 and "zoho_refresh_token" in unknown.json()["error"]
    short = await client.put("/api/v1/secrets/zoho_webhook_secret", json={"value": "short"}, headers=admin)
    assert short.status_code == 422 and short.json()["reasons"] == [
        "zoho_webhook_secret: must be at least 12 characters"
    ]
    assert "short" not in short.json()["error"]
    for body in ({}, {"value": 5}, {"value": "x", "extra": 1}, {"value": ""}, {"value": "a\x00b"}):
        bad = await client.put("/api/v1/secrets/zoho_refresh_token", json=body, headers=admin)
        assert bad.status_code == 422, (body, bad.text)
    not_json = await client.put(
        "/api/v1/secrets/zoho_refresh_token",
        content=b"{",
        headers={**admin, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422

    assert (await client.delete("/api/v1/secrets/zoho_refresh_token", headers=admin)).status_code == 204
    assert (await client.delete("/api/v1/secrets/zoho_refresh_token", headers=admin)).status_code == 404
    actions = await pool.fetch(
        "SELECT actor, via, action, target, details FROM tds_operator_actions ORDER BY id"
    )
    assert [(a["actor"], a["via"], a["action"], a["target"]) for a in actions] == [
        ("admin-user", "api", "secret.set", "zoho_refresh_token"),
        ("admin-user", "api", "secret.delete", "zoho_refresh_token"),
    ]
    assert actions[0]["details"] == {"created": True}


async def test_configuration_reads_stay_masked_while_the_table_holds_ciphertext(
    client: httpx.AsyncClient, pool: Any, auth_headers: Headers
) -> None:
    admin = await auth_headers("admin")
    put = await client.put("/api/v1/config/alerts.channels", json={"value": CHANNELS}, headers=admin)
    assert put.status_code == 200, put.text
    shown = (await client.get("/api/v1/config/alerts.channels", headers=admin)).json()["value"]
    assert shown[0]["url"] == MASK and shown[3]["headers"] == {"Authorization": MASK}
    assert ENVELOPE not in json.dumps(shown)
    again = await client.put("/api/v1/config/alerts.channels", json={"value": shown}, headers=admin)
    assert again.json()["changed"] is False  # the masked round trip keeps the stored secrets
    history = await client.get("/api/v1/config/alerts.channels/history", headers=admin)
    assert ENVELOPE not in history.text
    assert_clear_of_secrets(put.text + history.text + await raw_text(pool))


async def test_an_api_uses_the_webhook_secret_stored_in_the_database(
    pool: Any, database_url: str, settings: Settings
) -> None:
    async with pool.acquire() as connection:
        keyring = composition.secret_keyring(settings)
        await secrets.verify(connection, keyring)
        await secrets.set_secret(connection, "zoho_webhook_secret", WEBHOOK_SECRET, ADMIN, keyring=keyring)
    app = composition.build_api(settings, database_url)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tds.test") as http,
    ):
        body = json.dumps({"item": samples.item()}).encode()
        signed = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json"}
        accepted = await http.post(
            "/api/v1/webhooks/zoho/items",
            content=body,
            headers={**headers, "X-Zoho-Webhook-Signature": signed},
        )
        forged = await http.post(
            "/api/v1/webhooks/zoho/items",
            content=body,
            headers={**headers, "X-Zoho-Webhook-Signature": "0" * 64},
        )
    assert accepted.status_code == 202, accepted.text
    assert forged.status_code == 401


async def test_an_api_with_the_wrong_key_does_not_start(pool: Any, database_url: str, tmp_path: Path) -> None:
    async with pool.acquire() as connection:
        await secrets.verify(connection, Keyring.parse(A))
    app = composition.build_api(settings_with(tmp_path, B), database_url)
    with pytest.raises(SecretKeyError, match="keys tried: 1"):
        async with app.router.lifespan_context(app):
            pass


# ---------------------------------------------------------------------------- the notifiers
async def test_notifiers_send_with_the_decrypted_secrets(pool: Any, receivers: Receivers) -> None:
    keyring = Keyring.parse(A)
    async with pool.acquire() as connection:
        await configuration.set_value(
            connection, "alerts.channels", receivers.channels(), ADMIN, keyring=keyring
        )
        await configuration.set_value(
            connection,
            "alerts.oncall",
            {"levels": [{"channels": ["slack", "telegram", "hook"]}]},
            ADMIN,
            keyring=keyring,
        )
        await configuration.set_value(connection, "alerts.dlq_growth", 3, ADMIN, keyring=keyring)
        await configuration.set_value(
            connection, "alerts.db_connections_percent", 100, ADMIN, keyring=keyring
        )
    text = await raw_text(pool)
    assert BOT_TOKEN not in text and HOOK_SECRET not in text and SLACK_PATH not in text
    await dead_letters(pool, 3, None)
    async with pool.acquire() as connection:
        config = await load(connection, keyring)
    opened = await AlertEngine(pool, daily_quota=1000, organization_id=None, host_probe=calm_host).run_once(
        config=config
    )
    assert opened.deliveries == 3
    runner = DeliveryRunner(pool, keyring=keyring)
    try:
        sent = await runner.run_once()
    finally:
        await runner.aclose()
    assert (sent.sent, sent.failed) == (3, 0)
    assert [t["path"] for t in receivers.telegram] == [f"/bot{BOT_TOKEN}/sendMessage"]
    assert receivers.hooks[0]["headers"]["Authorization"] == HOOK_SECRET
    assert len(receivers.slack) == 1


async def test_a_worker_loads_a_configuration_with_encrypted_channels(pool: Any, database_url: str) -> None:
    """The worker reads the whole configuration (it needs no channel secret, but validating the
    channels needs them readable): it gets the keyring from the composition root."""
    keyring = Keyring.parse(A)
    async with pool.acquire() as connection:
        await configuration.set_value(connection, "alerts.channels", CHANNELS, ADMIN, keyring=keyring)
        await configuration.set_value(connection, "worker.batch_size", 7, ADMIN, keyring=keyring)
        worker = Worker(pool, database_url, keyring=keyring)
        await worker._reload_config(connection)
        assert worker.config.worker__batch_size == 7
        with pytest.raises(SecretKeyError):
            await Worker(pool, database_url)._reload_config(connection)
