"""Authentication and roles: the password flow, refresh and its revocation, rate limits on login
and webhooks, CORS closed by default, and the admin endpoints for keys, users and the action log."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from tds_core.access import users
from tds_core.access.roles import Role
from tests.conftest import TEST_PASSWORD
from tests.integration.samples import item

pytestmark = pytest.mark.asyncio


async def make_user(pool: Any, username: str, role: Role, password: str = TEST_PASSWORD) -> None:
    async with pool.acquire() as connection:
        await users.create(connection, username, password, role, "tests")


async def login(client: httpx.AsyncClient, username: str, password: str = TEST_PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": username, "password": password})


async def test_login_issues_a_short_lived_access_token_and_a_refresh_token(
    client: httpx.AsyncClient, pool: Any
) -> None:
    await make_user(pool, "olga", Role.operator)
    response = await login(client, "olga")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["role"] == "operator"
    assert body["expires_in"] == 15 * 60
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "olga" and claims["role"] == "operator" and claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == 15 * 60
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"username": "olga", "role": "operator"}
    # a refresh token is not an access token
    wrong = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['refresh_token']}"})
    assert wrong.status_code == 401 and "access" in wrong.json()["error"]


async def test_wrong_password_unknown_user_and_disabled_user_get_the_same_401(
    client: httpx.AsyncClient, pool: Any
) -> None:
    await make_user(pool, "vera", Role.viewer)
    await make_user(pool, "gone", Role.viewer)
    await pool.execute("UPDATE tds_users SET disabled_at = now() WHERE username = 'gone'")
    answers = [
        await login(client, "vera", "not the password"),
        await login(client, "nobody-here"),
        await login(client, "gone"),
    ]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert {a.json()["error"] for a in answers} == {"wrong username or password"}
    assert all(a.headers["www-authenticate"] == "Bearer" for a in answers)


async def test_passwords_are_stored_as_argon2_hashes(pool: Any) -> None:
    await make_user(pool, "hash-check", Role.viewer)
    stored = await pool.fetchval("SELECT password_hash FROM tds_users WHERE username = 'hash-check'")
    assert stored.startswith("$argon2id$") and TEST_PASSWORD not in stored


async def test_refresh_gives_a_new_pair_until_the_password_changes(
    client: httpx.AsyncClient, pool: Any
) -> None:
    await make_user(pool, "rita", Role.admin)
    first = (await login(client, "rita")).json()
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 200 and again.json()["role"] == "admin"
    admin = {"Authorization": f"Bearer {first['access_token']}"}
    changed = await client.patch(
        "/api/v1/users/rita", json={"password": "a brand new password"}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    revoked = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]
    assert (await login(client, "rita", "a brand new password")).status_code == 200


async def test_missing_bad_expired_and_forged_tokens_are_401_and_low_roles_403(
    client: httpx.AsyncClient, pool: Any, settings: Any, auth_headers: Any
) -> None:
    assert (await client.get("/api/v1/users")).status_code == 401
    bad = await client.get("/api/v1/users", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401 and bad.json()["error"].startswith("invalid token")
    secret = (settings.home / "jwt-secret").read_text().strip()
    now = int(time.time())
    expired = jwt.encode(
        {"sub": "x", "role": "admin", "typ": "access", "iss": "tds-core", "iat": now - 100, "exp": now - 10},
        secret,
        algorithm="HS256",
    )
    answer = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {expired}"})
    assert answer.status_code == 401 and "expired" in answer.json()["error"]
    forged = jwt.encode(
        {"sub": "x", "role": "admin", "typ": "access", "iss": "tds-core", "iat": now, "exp": now + 60},
        "someone else's secret of enough length!!",
        algorithm="HS256",
    )
    assert (
        await client.get("/api/v1/users", headers={"Authorization": f"Bearer {forged}"})
    ).status_code == 401
    viewer = await client.get("/api/v1/users", headers=await auth_headers("viewer"))
    assert viewer.status_code == 403 and "admin" in viewer.json()["error"]


async def test_login_is_rate_limited_with_retry_after(client: httpx.AsyncClient, pool: Any) -> None:
    await pool.execute(QUERY_SET, "ratelimit.login_per_minute", "3")
    statuses = [(await login(client, "nobody", "wrong password")).status_code for _ in range(5)]
    assert statuses[:3] == [401, 401, 401] and statuses[3:] == [429, 429]
    limited = await login(client, "nobody", "wrong password")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "too many login attempts" in limited.json()["error"]


QUERY_SET = (
    "INSERT INTO tds_configuration (key, version, value) "
    "SELECT $1, max(version) + 1, $2::jsonb FROM tds_configuration WHERE key = $1"
)


async def test_webhooks_are_rate_limited_per_key_with_retry_after(
    client: httpx.AsyncClient, pool: Any, api_key: str
) -> None:
    await pool.execute(QUERY_SET, "ratelimit.webhooks_per_second", "2")
    answers = [
        await client.post(
            "/api/v1/webhooks/zoho/items",
            json={"item": item(item_id=str(9000 + i))},
            headers={"X-TDS-Key": api_key},
        )
        for i in range(4)
    ]
    assert [a.status_code for a in answers][:2] == [202, 202]
    assert answers[-1].status_code == 429 and int(answers[-1].headers["retry-after"]) >= 1
    assert "rate limit" in answers[-1].json()["error"]
    # a refused webhook stored nothing: the sender retries it
    stored = await pool.fetchval("SELECT count(*) FROM tds_inbox_events")
    assert stored == sum(a.status_code == 202 for a in answers)


async def test_cors_is_closed_by_default(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/api/v1/auth/me",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    plain = await client.get("/api/v1/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in plain.headers


async def test_admins_manage_keys_and_users_and_every_change_is_recorded(
    client: httpx.AsyncClient, pool: Any, auth_headers: Any
) -> None:
    admin = await auth_headers("admin")
    created = await client.post("/api/v1/keys", json={"name": "zoho-eu"}, headers=admin)
    assert created.status_code == 201
    key = created.json()["key"]
    listed = (await client.get("/api/v1/keys", headers=admin)).json()
    assert [k["name"] for k in listed] == ["zoho-eu"] and key not in str(listed)
    revoked = await client.post(f"/api/v1/keys/{created.json()['prefix']}/revoke", headers=admin)
    assert revoked.status_code == 200
    assert (
        await client.post(f"/api/v1/keys/{created.json()['id']}/revoke", headers=admin)
    ).status_code == 404

    made = await client.post(
        "/api/v1/users",
        json={"username": "oscar", "password": "long enough pw", "role": "operator"},
        headers=admin,
    )
    assert (
        made.status_code == 201
        and made.json()["role"] == "operator"
        and "long enough pw" not in made.text
        and "argon2" not in made.text
    )
    duplicate = await client.post(
        "/api/v1/users",
        json={"username": "oscar", "password": "long enough pw", "role": "viewer"},
        headers=admin,
    )
    assert duplicate.status_code == 409
    short = await client.post(
        "/api/v1/users", json={"username": "pat", "password": "short", "role": "viewer"}, headers=admin
    )
    assert short.status_code == 422 and "password" in str(short.json()["reasons"])
    demoted = await client.patch("/api/v1/users/oscar", json={"role": "viewer"}, headers=admin)
    assert demoted.json()["role"] == "viewer"
    assert (
        await client.patch("/api/v1/users/admin-user", json={"disabled": True}, headers=admin)
    ).status_code == 409
    assert (
        await client.patch("/api/v1/users/nobody", json={"disabled": True}, headers=admin)
    ).status_code == 404

    actions = (await client.get("/api/v1/actions", headers=admin)).json()
    assert [a["action"] for a in reversed(actions)] == [
        "key.create",
        "key.revoke",
        "user.create",
        "user.update",
    ]
    assert {a["actor"] for a in actions} == {"admin-user"} and {a["via"] for a in actions} == {"api"}
    assert key not in str(actions) and "long enough pw" not in str(actions)
    refused = await pool.fetchval("SELECT count(*) FROM tds_operator_actions")
    with pytest.raises(Exception, match="append-only"):
        await pool.execute("DELETE FROM tds_operator_actions")
    assert await pool.fetchval("SELECT count(*) FROM tds_operator_actions") == refused
