"""Runtime configuration through the admin API and ``tds config``: masked reads, validated and
versioned changes recorded with who and when, secrets that never come back out, and changes
that reach a running worker without a restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
import structlog
from typer.testing import CliRunner

from tds_core import app as composition
from tds_core.cli.config import config_app
from tds_core.config.encryption import unseal
from tds_core.config.runtime import SECRET_FIELDS
from tds_core.db.pool import connect
from tds_core.operations.configuration import MASK
from tds_core.processor.worker import Worker
from tds_core.settings import Settings

Headers = Callable[..., Awaitable[dict[str, str]]]

SLACK_URL = "https://hooks.slack.example/services/T000/B000/slack-secret-1"
SMTP_PASSWORD = "smtp-secret-2"
BOT_TOKEN = "123456:telegram-secret-3"
HOOK_TOKEN = "Bearer webhook-secret-4"
HOOK_URL = "https://ops.example/hook?token=webhook-url-secret-5"
SECRETS = (SLACK_URL, SMTP_PASSWORD, BOT_TOKEN, HOOK_TOKEN, HOOK_URL)

CHANNELS = [
    {"name": "team-slack", "type": "slack", "url": SLACK_URL},
    {
        "name": "ops-mail",
        "type": "email",
        "smtp_host": "smtp.example",
        "username": "tds",
        "password": SMTP_PASSWORD,
        "sender": "tds@example.com",
        "to": ["ops@example.com"],
    },
    {"name": "pager-bot", "type": "telegram", "bot_token": BOT_TOKEN, "chat_id": "42"},
    {"name": "ops-hook", "type": "webhook", "url": HOOK_URL, "headers": {"Authorization": HOOK_TOKEN}},
]


async def stored(pool: Any, key: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT version, value, updated_by, note FROM tds_configuration WHERE key = $1 ORDER BY version", key
    )
    return [dict(r) for r in rows]


async def put(client: httpx.AsyncClient, headers: dict[str, str], key: str, body: Any) -> httpx.Response:
    return await client.put(f"/api/v1/config/{key}", json=body, headers=headers)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    for fragment in ("slack-secret", "smtp-secret", "telegram-secret", "webhook-secret", "url-secret"):
        assert fragment not in text


# ---------------------------------------------------------------------------- reads
async def test_every_key_is_listed_with_its_version_and_secrets_masked(
    client: httpx.AsyncClient, pool: Any, auth_headers: Headers
) -> None:
    await pool.execute(
        "INSERT INTO tds_configuration (key, version, value, updated_by, note)"
        " VALUES ('alerts.channels', 2, $1::jsonb, 'seed', 'channels')",
        orjson.dumps(CHANNELS).decode(),
    )
    viewer = await auth_headers("viewer")
    response = await client.get("/api/v1/config", headers=viewer)
    assert response.status_code == 200, response.text
    assert_no_secret(response.text)
    entries = {e["key"]: e for e in response.json()}
    keys = {r["key"] for r in await pool.fetch("SELECT DISTINCT key FROM tds_configuration")}
    assert set(entries) == keys and len(keys) > 30
    batch = entries["worker.batch_size"]
    assert (batch["value"], batch["version"], batch["updated_by"]) == (500, 1, "migration")
    assert batch["description"] == "Events a worker claims per batch" and batch["updated_at"]
    channels = entries["alerts.channels"]
    assert (channels["version"], channels["updated_by"], channels["note"]) == (2, "seed", "channels")
    slack, mail, bot, hook = channels["value"]
    assert slack == {"name": "team-slack", "type": "slack", "url": MASK}
    assert mail["password"] == MASK and mail["username"] == "tds" and mail["smtp_host"] == "smtp.example"
    assert bot["bot_token"] == MASK and bot["chat_id"] == "42"
    assert hook["url"] == MASK and hook["headers"] == {"Authorization": MASK}

    one = await client.get("/api/v1/config/alerts.channels", headers=viewer)
    assert one.status_code == 200 and one.json() == channels
    history = await client.get("/api/v1/config/alerts.channels/history", headers=viewer)
    assert [v["version"] for v in history.json()] == [2, 1]
    assert history.json()[1]["value"] == []
    assert_no_secret(one.text + history.text)


async def test_unknown_keys_are_404_and_only_admins_change(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    admin = await auth_headers("admin")
    for path in ("/api/v1/config/worker.nope", "/api/v1/config/worker.nope/history"):
        response = await client.get(path, headers=admin)
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "no configuration key 'worker.nope'"
    response = await put(client, admin, "worker.nope", {"value": 1})
    assert response.status_code == 404 and "worker.nope" in response.json()["error"]
    for role in ("viewer", "operator"):
        refused = await put(client, await auth_headers(role), "worker.batch_size", {"value": 5})
        assert refused.status_code == 403, refused.text
    assert (await client.get("/api/v1/config")).status_code == 401


# ---------------------------------------------------------------------------- changes
async def test_a_change_is_versioned_recorded_with_who_and_when_and_announced(
    client: httpx.AsyncClient, pool: Any, database_url: str, auth_headers: Headers
) -> None:
    admin = await auth_headers("admin")
    listener = await connect(database_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("tds_config", lambda *args: heard.put_nowait(args[3]))
    try:
        response = await put(client, admin, "worker.batch_size", {"value": "250", "note": "bigger batches"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["key"], body["value"], body["version"]) == ("worker.batch_size", 250, 2)
        assert (body["changed"], body["previous_version"], body["updated_by"]) == (True, 1, "admin-user")
        assert await asyncio.wait_for(heard.get(), 30) == "worker.batch_size"
    finally:
        await listener.close()

    versions = await stored(pool, "worker.batch_size")
    assert [(v["version"], v["value"], v["updated_by"], v["note"]) for v in versions] == [
        (1, 500, "migration", "bigger batches: the per-batch cost spread over more events"),
        (2, 250, "admin-user", "bigger batches"),  # stored as the number it validated to
    ]
    actions = await pool.fetch("SELECT * FROM tds_operator_actions WHERE action = 'config.set'")
    assert len(actions) == 1
    action = actions[0]
    assert (action["actor"], action["role"], action["via"], action["target"]) == (
        "admin-user",
        "admin",
        "api",
        "worker.batch_size",
    )
    assert action["at"] is not None
    assert action["details"] == {
        "from_version": 1,
        "to_version": 2,
        "before": 500,
        "after": 250,
        "note": "bigger batches",
    }
    history = (await client.get("/api/v1/config/worker.batch_size/history", headers=admin)).json()
    assert [(h["version"], h["value"], h["note"]) for h in history] == [
        (2, 250, "bigger batches"),
        (1, 500, "bigger batches: the per-batch cost spread over more events"),
    ]

    # the same value again stores nothing and records nothing
    again = await put(client, admin, "worker.batch_size", {"value": 250})
    assert again.status_code == 200 and again.json()["changed"] is False and again.json()["version"] == 2
    assert len(await stored(pool, "worker.batch_size")) == 2
    assert await pool.fetchval("SELECT count(*) FROM tds_operator_actions") == 1


async def test_invalid_changes_are_refused_with_reasons_naming_the_key(
    client: httpx.AsyncClient, pool: Any, auth_headers: Headers
) -> None:
    admin = await auth_headers("admin")
    cases: list[tuple[str, Any, str]] = [
        ("worker.batch_size", 0, "worker.batch_size: Input should be greater than or equal to 1"),
        ("worker.batch_size", 5001, "worker.batch_size: Input should be less than or equal to 5000"),
        ("worker.max_attempts", "many", "worker.max_attempts: Input should be a valid integer"),
        ("schedule.pull_cron", "every minute", "schedule.pull_cron: Value error, not a cron expression"),
        ("alerts.channels", [{"name": "x", "type": "pigeon"}], "alerts.channels[0]"),
        ("alerts.channels", [{"name": "s", "type": "slack"}], "alerts.channels[0].slack.url: Field required"),
        (
            "alerts.oncall",
            {"levels": [{"channels": ["nowhere"]}]},
            "alerts.oncall.levels[0]: unknown channels ['nowhere']",
        ),
    ]
    for key, value, reason in cases:
        response = await put(client, admin, key, {"value": value})
        assert response.status_code == 422, (key, value, response.text)
        body = response.json()
        assert body["error"] == f"invalid value for {key}"
        assert any(reason in r for r in body["reasons"]), (reason, body["reasons"])
    # JSON that PostgreSQL's jsonb cannot hold faithfully is refused too, never a 5xx
    for raw, reason in (
        (b'{"value": Infinity}', "breaker.window_seconds: must be a finite number"),
        (b'{"value": "a\\u0000b"}', "body.value: contains U+0000"),  # api/text_guard.py names it
    ):
        response = await client.put(
            "/api/v1/config/breaker.window_seconds",
            content=raw,
            headers={**admin, "Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert any(reason in r for r in response.json()["reasons"]), response.json()
    missing = await client.put("/api/v1/config/worker.batch_size", json={"note": "no value"}, headers=admin)
    assert missing.status_code == 422
    extra = await put(client, admin, "worker.batch_size", {"value": 5, "surprise": 1})
    assert extra.status_code == 422
    assert await pool.fetchval("SELECT count(*) FROM tds_configuration WHERE updated_by <> 'migration'") == 0
    assert await pool.fetchval("SELECT count(*) FROM tds_operator_actions") == 0


async def test_secrets_never_come_back_out_and_masked_ones_keep_the_stored_secret(
    client: httpx.AsyncClient, pool: Any, auth_headers: Headers, settings: Settings
) -> None:
    keyring = composition.secret_keyring(settings)  # the API's (a development key in TDS_HOME)

    def opened(value: Any) -> Any:
        return unseal(value, keyring, SECRET_FIELDS)

    admin = await auth_headers("admin")
    created = await put(client, admin, "alerts.channels", {"value": CHANNELS, "note": "channels"})
    assert created.status_code == 200, created.text
    assert_no_secret(created.text)
    assert_no_secret(await pool.fetchval("SELECT string_agg(value::text, ' ') FROM tds_configuration"))
    assert opened((await stored(pool, "alerts.channels"))[-1]["value"]) == CHANNELS

    # The dashboard sends back what it read, with one change and one new channel.
    shown = (await client.get("/api/v1/config/alerts.channels", headers=admin)).json()["value"]
    shown[0]["enabled"] = False
    shown.reverse()  # matched by name, not position
    shown.append({"name": "second-slack", "type": "slack", "url": "https://hooks.slack.example/new-secret-6"})
    changed = await put(client, admin, "alerts.channels", {"value": shown})
    assert changed.status_code == 200, changed.text
    assert "new-secret-6" not in changed.text
    value = opened((await stored(pool, "alerts.channels"))[-1]["value"])
    by_name = {c["name"]: c for c in value}
    assert by_name["team-slack"] == {**CHANNELS[0], "enabled": False}
    assert by_name["ops-mail"]["password"] == SMTP_PASSWORD
    assert by_name["pager-bot"]["bot_token"] == BOT_TOKEN
    assert (
        by_name["ops-hook"]["headers"] == {"Authorization": HOOK_TOKEN}
        and by_name["ops-hook"]["url"] == HOOK_URL
    )
    assert by_name["second-slack"]["url"] == "https://hooks.slack.example/new-secret-6"

    # A mask with no stored secret behind it (a new channel, a renamed one) is refused.
    refused = await put(
        client, admin, "alerts.channels", {"value": [{"name": "renamed", "type": "slack", "url": MASK}]}
    )
    assert refused.status_code == 422
    assert refused.json()["reasons"] == [
        "alerts.channels[0].url: '********' keeps a stored secret, but there is none here:"
        " send the secret itself"
    ]

    actions = await pool.fetch("SELECT details::text AS details FROM tds_operator_actions")
    assert len(actions) == 2
    everything = " ".join(r["details"] for r in actions)
    assert_no_secret(everything)
    assert "new-secret-6" not in everything and MASK in everything
    history = await client.get("/api/v1/config/alerts.channels/history", headers=admin)
    listing = await client.get("/api/v1/config", headers=admin)
    assert_no_secret(history.text + listing.text)
    assert "new-secret-6" not in history.text + listing.text


# ---------------------------------------------------------------------------- running workers
async def listening(pool: Any) -> bool:
    """The worker's LISTEN connection has subscribed to tds_config (its last statement)."""
    found = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = 'tds-worker-listen' AND state = 'idle'"
        " AND query IN ('LISTEN \"tds_config\"', 'SELECT 1')"
    )
    return bool(found)


async def until(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.05)


async def enqueue_items(pool: Any, prefix: str, count: int) -> None:
    """``count`` item events made visible at once (one statement), then the doorbell."""
    await pool.execute(
        "INSERT INTO tds_sync_queue (entity, zoho_id, operation, source_version, content_hash, payload)"
        " SELECT 'items', $1 || n, 'upsert', now(), 'h' || n,"
        "        jsonb_build_object('item_id', $1 || n, 'name', 'Item ' || n)"
        " FROM generate_series(1, $2::int) AS n",
        prefix,
        count,
    )
    await pool.execute("SELECT pg_notify('tds_queue', '')")


async def claim_sizes(pool: Any, prefix: str) -> list[int]:
    """How many of these events each claim took (one claim stamps one claimed_at)."""
    rows = await pool.fetch(
        "SELECT count(*) AS n FROM tds_sync_queue WHERE zoho_id LIKE $1 || '%'"
        " GROUP BY claimed_at ORDER BY 1",
        prefix,
    )
    return [r["n"] for r in rows]


async def all_done(pool: Any, prefix: str) -> bool:
    left = await pool.fetchval(
        "SELECT count(*) FROM tds_sync_queue WHERE zoho_id LIKE $1 || '%' AND status <> 'completed'", prefix
    )
    return bool(left == 0)


async def test_batch_size_and_max_attempts_reach_a_running_worker_without_a_restart(
    client: httpx.AsyncClient, pool: Any, database_url: str, auth_headers: Headers
) -> None:
    admin = await auth_headers("admin")
    # No periodic refresh during the test: only the NOTIFY can deliver the change.
    worker = Worker(pool, database_url, concurrency=1, config_refresh_seconds=3600)
    task = asyncio.create_task(worker.run())
    try:
        await until(lambda: listening(pool), "the worker listens")

        await enqueue_items(pool, "A-", 12)
        await until(lambda: all_done(pool, "A-"), "the first events are applied")
        assert await claim_sizes(pool, "A-") == [12]  # the default batch size (100) takes them all

        response = await put(client, admin, "worker.batch_size", {"value": 5, "note": "smaller"})
        assert response.status_code == 200, response.text

        async def batch_size_is_five() -> bool:
            return worker.config.worker__batch_size == 5

        await until(batch_size_is_five, "the worker reloads")
        await enqueue_items(pool, "B-", 12)
        await until(lambda: all_done(pool, "B-"), "the second events are applied")
        assert await claim_sizes(pool, "B-") == [2, 5, 5]

        # max_attempts 8 → 3 (and retries at once): a poison event is dead after exactly 3 attempts
        await pool.execute(
            """
            CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'ERP trigger refuses product %', NEW.zoho_id; END $$;
            CREATE TRIGGER test_poison BEFORE INSERT OR UPDATE ON products
                FOR EACH ROW WHEN (NEW.zoho_id = 'POISON1') EXECUTE FUNCTION test_poison();
            """
        )
        for key, value in (("retry.backoff_base_seconds", 0), ("worker.max_attempts", 3)):
            assert (await put(client, admin, key, {"value": value})).status_code == 200

        async def max_attempts_is_three() -> bool:
            return worker.config.worker__max_attempts == 3 and worker.config.retry__backoff_base_seconds == 0

        await until(max_attempts_is_three, "the worker reloads again")
        await enqueue_items(pool, "POISON", 1)  # zoho_id 'POISON1'

        async def dead() -> bool:
            return bool(
                await pool.fetchval("SELECT status = 'dead' FROM tds_sync_queue WHERE zoho_id = 'POISON1'")
            )

        await until(dead, "the poison event is dead-lettered")
        row = await pool.fetchrow("SELECT attempts FROM tds_dead_letter_queue WHERE zoho_id = 'POISON1'")
        assert row["attempts"] == 3
        outcomes = await pool.fetch("SELECT outcome FROM tds_sync_logs WHERE zoho_id = 'POISON1' ORDER BY id")
        assert [r["outcome"] for r in outcomes] == ["retry", "retry", "dead"]

        assert not task.done()  # the same worker process throughout
        workers = await pool.fetch("SELECT DISTINCT worker_id FROM tds_sync_logs WHERE worker_id IS NOT NULL")
        assert [r["worker_id"] for r in workers] == [worker.worker_id]
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)


async def test_a_worker_also_picks_up_a_change_that_came_without_a_notify(
    pool: Any, database_url: str
) -> None:
    worker = Worker(pool, database_url, concurrency=1, config_refresh_seconds=0.2)
    task = asyncio.create_task(worker.run())
    try:
        await until(lambda: listening(pool), "the worker listens")
        assert worker.config.worker__batch_size == 500
        await pool.execute(
            "INSERT INTO tds_configuration (key, version, value, updated_by)"
            " VALUES ('worker.batch_size', 2, '7', 'sql')"
        )

        async def reloaded() -> bool:
            return worker.config.worker__batch_size == 7

        await until(reloaded, "the periodic refresh reloads")
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)


# ---------------------------------------------------------------------------- the command line
@pytest.fixture
def tds(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[Any]:
    monkeypatch.setenv("TDS_DATABASE_URL", database_url)
    monkeypatch.setenv("TDS_HOME", str(tmp_path))  # the development secret key lives there
    monkeypatch.setenv("TDS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("TDS_OPERATOR", "ops-lead")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(config_app, list(args))
        assert result.exit_code == code, result.output
        return result

    yield run
    structlog.reset_defaults()


def sql(database_url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        connection = await connect(database_url)
        try:
            return [dict(r) for r in await connection.fetch(query, *args)]
        finally:
            await connection.close()

    return asyncio.run(go())


def test_config_get_set_and_history_from_the_command_line(tds: Any, database_url: str) -> None:
    everything = json.loads(tds("get", "--json").output)
    assert {e["key"] for e in everything} >= {"worker.batch_size", "worker.max_attempts", "alerts.channels"}
    one = json.loads(tds("get", "worker.max_attempts", "--json").output)
    assert (one["key"], one["value"], one["version"]) == ("worker.max_attempts", 8, 1)
    assert "worker.max_attempts" in tds("get").output

    changed = json.loads(tds("set", "worker.max_attempts", "5", "--note", "flaky ERP", "--json").output)
    assert (changed["value"], changed["version"], changed["changed"]) == (5, 2, True)
    assert changed["updated_by"] == "ops-lead"
    cron = json.loads(tds("set", "schedule.pull_cron", "*/5 * * * *", "--json").output)
    assert cron["value"] == "*/5 * * * *"  # not JSON: taken as a string
    assert "unchanged" in tds("set", "worker.max_attempts", "5").output

    history = json.loads(tds("history", "worker.max_attempts", "--json").output)
    assert [(h["version"], h["value"], h["note"], h["updated_by"]) for h in history] == [
        (2, 5, "flaky ERP", "ops-lead"),
        (1, 8, None, "migration"),
    ]
    assert "flaky ERP" in tds("history", "worker.max_attempts").output

    refused = tds("set", "worker.max_attempts", "0", "--json", code=2)
    assert json.loads(refused.output)["reasons"] == [
        "worker.max_attempts: Input should be greater than or equal to 1"
    ]
    tds("get", "worker.nope", code=1)
    tds("set", "worker.nope", "1", code=1)
    tds("history", "worker.nope", code=1)

    actions = sql(
        database_url,
        "SELECT actor, role, via, action, target, details FROM tds_operator_actions ORDER BY id",
    )
    assert [(a["actor"], a["role"], a["via"], a["action"], a["target"]) for a in actions] == [
        ("ops-lead", None, "cli", "config.set", "worker.max_attempts"),
        ("ops-lead", None, "cli", "config.set", "schedule.pull_cron"),
    ]
    assert actions[0]["details"] == {
        "from_version": 1,
        "to_version": 2,
        "before": 8,
        "after": 5,
        "note": "flaky ERP",
    }
