"""Property-based run over the OpenAPI document (schemathesis): every operation, with generated
valid and edge-case inputs, as an admin: never a 5xx, and every documented response matches its
schema. The API runs for real (uvicorn, lifespan, a real database) on a local port."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tds_core import app as composition
from tds_core.access import users
from tds_core.access.roles import Role
from tds_core.db.pool import connect
from tds_core.settings import Settings
from tests.conftest import TEST_PASSWORD

EXAMPLES = 12


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _prepare(database_url: str) -> None:
    connection = await connect(database_url)
    try:
        await users.create(connection, "fuzzer", TEST_PASSWORD, Role.admin, "tests")
        # a little of everything for the read endpoints to find
        await connection.execute(
            """
            WITH q AS (
                INSERT INTO tds_sync_queue (entity, zoho_id, operation, source_version, content_hash, payload,
                                            status, attempts, finished_at)
                SELECT 'items', 'F' || g, 'upsert', now(), 'h' || g, jsonb_build_object('item_id', 'F' || g),
                       'dead', 8, now()
                FROM generate_series(1, 5) g RETURNING *)
            INSERT INTO tds_dead_letter_queue (queue_id, entity, zoho_id, operation, source_version, payload,
                                               error, error_class, attempts)
            SELECT id, entity, zoho_id, operation, source_version, payload, 'boom', 'retryable', 8 FROM q
            """
        )
    finally:
        await connection.close()


@pytest.fixture
def live_api(database_url: str, tmp_path: Any) -> Iterator[str]:
    asyncio.run(_prepare(database_url))
    settings = Settings(env="test", home=tmp_path, log_level="WARNING", log_requests=False)
    app = composition.build_api(settings, database_url)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


def test_no_operation_answers_5xx_or_breaks_its_schema(live_api: str) -> None:
    token = httpx.post(
        f"{live_api}/api/v1/auth/token", data={"username": "fuzzer", "password": TEST_PASSWORD}
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_url(f"{live_api}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40, "the admin API should be in the document"
    failures: list[str] = []
    tried = 0
    for operation in operations:
        if operation.path == "/api/v1/auth/token":
            continue  # rate-limited on purpose; its answers are tested in test_auth.py

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            nonlocal tried
            tried += 1
            response = case.call(base_url=live_api, headers=auth, timeout=30)
            try:
                case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
            except Exception as exc:
                failures.append(f"{case.operation.method.upper()} {case.operation.path}: {str(exc)[:400]}")
                raise

        try:
            run()
        except Exception as exc:
            if not failures or not failures[-1].startswith(f"{operation.method.upper()} {operation.path}:"):
                failures.append(f"{operation.method.upper()} {operation.path}: could not run: {exc!r}"[:500])
    print(f"{tried} generated requests over {len(operations)} operations")
    assert not failures, "\n".join(failures[:20])
    assert tried > 3 * len(operations)
