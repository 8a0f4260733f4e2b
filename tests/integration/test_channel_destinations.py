"""A stored secret only goes where its owner sent it (issue 16, item 5): changing a channel's
destination (SMTP host, port, security or user; Telegram's api_base; a webhook's URL; the type)
while keeping a masked secret is refused, naming both; entering the secret again works; SMTP
without transport security refuses a password unless ``allow_cleartext_auth`` says so."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tds_core.operations.configuration import MASK

Headers = Callable[..., Awaitable[dict[str, str]]]
URL = "/api/v1/config/alerts.channels"
CHANNELS = [
    {
        "name": "ops-mail",
        "type": "email",
        "smtp_host": "smtp.example.com",
        "username": "tds",
        "password": "smtp-password-1",
        "sender": "tds@example.com",
    },
    {"name": "ops-bot", "type": "telegram", "bot_token": "123:bot-token", "chat_id": "7"},
    {"name": "ops-hook", "type": "webhook", "url": "https://hook.example.com/x", "headers": {"X-Key": "k1"}},
]


async def stored_and_shown(client: httpx.AsyncClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    put = await client.put(URL, json={"value": CHANNELS}, headers=admin)
    assert put.status_code == 200, put.text
    shown: list[dict[str, Any]] = (await client.get(URL, headers=admin)).json()["value"]
    assert shown[0]["password"] == MASK and shown[1]["bot_token"] == MASK
    return shown


@pytest.mark.parametrize(
    ("index", "field", "value", "kept"),
    [
        (0, "smtp_host", "smtp.attacker.example", "password"),
        (0, "smtp_port", 2525, "password"),
        (0, "security", "tls", "password"),
        (0, "username", "someone-else", "password"),
        (1, "api_base", "https://attacker.example", "bot_token"),
        (2, "url", "https://attacker.example/collect", "headers"),
    ],
)
async def test_a_new_destination_with_a_kept_secret_is_refused(
    client: httpx.AsyncClient, auth_headers: Headers, index: int, field: str, value: Any, kept: str
) -> None:
    admin = await auth_headers("admin")
    shown = await stored_and_shown(client, admin)
    version = (await client.get(URL, headers=admin)).json()["version"]
    changed = copy.deepcopy(shown)
    changed[index][field] = value
    refused = await client.put(URL, json={"value": changed}, headers=admin)
    assert refused.status_code == 422, refused.text
    said = refused.text
    assert f"{field} changed while {kept} kept the stored secret" in said
    assert "smtp-password-1" not in said and "bot-token" not in said
    current = (await client.get(URL, headers=admin)).json()
    assert current["version"] == version  # nothing was stored


async def test_entering_the_secret_again_moves_it_and_other_edits_keep_it(
    client: httpx.AsyncClient, auth_headers: Headers, pool: Any
) -> None:
    admin = await auth_headers("admin")
    shown = await stored_and_shown(client, admin)
    version = (await client.get(URL, headers=admin)).json()["version"]
    moved = copy.deepcopy(shown)
    moved[0]["smtp_host"] = "smtp2.example.com"
    moved[0]["password"] = "smtp-password-2"  # the owner sends it again
    moved[1]["chat_id"] = "8"  # not a destination: the token stays
    moved[2]["enabled"] = False
    put = await client.put(URL, json={"value": moved}, headers=admin)
    assert put.status_code == 200, put.text
    assert (await client.get(URL, headers=admin)).json()["version"] == version + 1


async def test_smtp_without_transport_security_refuses_a_password(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    admin = await auth_headers("admin")
    clear = [{**CHANNELS[0], "security": "none"}]
    refused = await client.put(URL, json={"value": clear}, headers=admin)
    assert refused.status_code == 422, refused.text
    assert "would send the SMTP password in clear" in refused.text
    relay = [{**CHANNELS[0], "security": "none", "allow_cleartext_auth": True, "smtp_host": "localhost"}]
    assert (await client.put(URL, json={"value": relay}, headers=admin)).status_code == 200
    no_password = [{**CHANNELS[0], "security": "none", "password": None, "username": None}]
    assert (await client.put(URL, json={"value": no_password}, headers=admin)).status_code == 200
