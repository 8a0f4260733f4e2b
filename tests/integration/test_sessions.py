"""Access ends when access ends: an access token is honoured only while its user is enabled and
unchanged (issue 16, item 3), and password checks never run on the event loop (item 4)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest

from tds_core.access import passwords, users
from tds_core.access.roles import Role
from tds_core.access.sessions import CurrentUsers
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.asyncio

NEW_PASSWORD = "another horse battery staple"


async def make_user(pool: Any, username: str, role: Role) -> None:
    async with pool.acquire() as connection:
        await users.create(connection, username, TEST_PASSWORD, role, "tests")


async def bearer(client: httpx.AsyncClient, username: str, password: str = TEST_PASSWORD) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_a_disabled_admin_cannot_use_an_unexpired_token_to_create_an_admin(
    client: httpx.AsyncClient, pool: Any
) -> None:
    await make_user(pool, "root", Role.admin)
    await make_user(pool, "mallory", Role.admin)
    root, mallory = await bearer(client, "root"), await bearer(client, "mallory")
    assert (await client.get("/api/v1/users", headers=mallory)).status_code == 200

    disabled = await client.patch("/api/v1/users/mallory", json={"disabled": True}, headers=root)
    assert disabled.status_code == 200, disabled.text

    created = await client.post(
        "/api/v1/users",
        json={"username": "mallory2", "role": "admin", "password": TEST_PASSWORD},
        headers=mallory,
    )
    assert created.status_code == 401, created.text
    assert "log in again" in created.json()["error"]
    assert await pool.fetchval("SELECT count(*) FROM tds_users WHERE username = 'mallory2'") == 0


async def test_a_demoted_user_loses_the_old_role_at_once(client: httpx.AsyncClient, pool: Any) -> None:
    await make_user(pool, "root", Role.admin)
    await make_user(pool, "olga", Role.admin)
    root, olga = await bearer(client, "root"), await bearer(client, "olga")

    demoted = await client.patch("/api/v1/users/olga", json={"role": "viewer"}, headers=root)
    assert demoted.status_code == 200, demoted.text
    assert (await client.get("/api/v1/users", headers=olga)).status_code == 401

    viewer = await bearer(client, "olga")
    assert (await client.get("/api/v1/auth/me", headers=viewer)).json()["role"] == "viewer"
    assert (await client.get("/api/v1/users", headers=viewer)).status_code == 403


async def test_a_password_change_ends_every_session_issued_before_it(
    client: httpx.AsyncClient, pool: Any
) -> None:
    await make_user(pool, "olga", Role.operator)
    await make_user(pool, "root", Role.admin)
    old = await bearer(client, "olga")
    root = await bearer(client, "root")
    changed = await client.patch("/api/v1/users/olga", json={"password": NEW_PASSWORD}, headers=root)
    assert changed.status_code == 200, changed.text
    assert (await client.get("/api/v1/auth/me", headers=old)).status_code == 401
    assert (
        await client.get("/api/v1/auth/me", headers=await bearer(client, "olga", NEW_PASSWORD))
    ).is_success


async def test_a_deleted_or_unknown_user_token_is_refused(client: httpx.AsyncClient, pool: Any) -> None:
    await make_user(pool, "ghost", Role.admin)
    token = await bearer(client, "ghost")
    await pool.execute("DELETE FROM tds_users WHERE username = 'ghost'")
    assert (await client.get("/api/v1/auth/me", headers=token)).status_code == 401


async def test_the_state_cache_lasts_its_ttl_and_no_longer(pool: Any) -> None:
    await make_user(pool, "olga", Role.operator)
    now = [100.0]
    cache = CurrentUsers(2.0, clock=lambda: now[0])
    first = await cache.current(pool, "olga")
    assert first is not None and first.role is Role.operator
    await pool.execute("UPDATE tds_users SET disabled_at = now() WHERE username = 'olga'")
    now[0] += 1.9
    assert await cache.current(pool, "olga") == first  # cached: within the ttl
    now[0] += 0.2
    assert await cache.current(pool, "olga") is None  # the ttl passed: the disable is seen


async def test_logins_verify_passwords_off_the_event_loop_with_bounded_concurrency(
    client: httpx.AsyncClient, pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While argon2 verifications run, the event loop keeps running other tasks; a blocking
    verify would make ``seen_during_verify`` impossible (nothing else runs while it computes)."""
    await make_user(pool, "olga", Role.operator)
    running = 0
    most = 0
    threads: set[str] = set()
    lock = threading.Lock()
    original = passwords.verify

    def counted(password_hash: str | None, password: str) -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            threads.add(threading.current_thread().name)
        try:
            return original(password_hash, password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(passwords, "verify", counted)
    seen_during_verify = 0
    stop = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal seen_during_verify
        while not stop.is_set():
            if running:
                seen_during_verify += 1
            await asyncio.sleep(0.001)

    beat = asyncio.create_task(heartbeat())
    try:
        answers = await asyncio.gather(
            *(
                client.post("/api/v1/auth/token", data={"username": "olga", "password": TEST_PASSWORD})
                for _ in range(12)
            )
        )
    finally:
        stop.set()
        await beat
    assert all(a.status_code in (200, 429) for a in answers), [a.status_code for a in answers]
    assert seen_during_verify > 0, "no other task ran while passwords were verified"
    assert threading.main_thread().name not in threads
    assert 1 <= most <= passwords.HASHING_THREADS
