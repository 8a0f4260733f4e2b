"""The OpenAPI document is complete and true (issue 16, item 10): ``schemathesis run`` with every
check it has (status codes, content types, response schemas and headers, ``Allow`` on 405,
negative data refused, positive data accepted, auth not ignored, ...) over every operation of a
real API (uvicorn, lifespan, a real database) on a local port, with a bounded number of examples
per operation and a fixed seed: 0 failures. ``tests/contracts/schemathesis.toml`` holds the
settings and the two operations whose cross-field rules JSON Schema cannot state."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tds_core import app as composition
from tds_core.access import api_keys, users
from tds_core.access.roles import Role
from tds_core.db.pool import connect
from tds_core.settings import Settings
from tests.conftest import TEST_PASSWORD

EXAMPLES = 10
SEED = 16
CONFIG = Path(__file__).parents[1] / "contracts" / "schemathesis.toml"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _prepare(database_url: str) -> str:
    connection = await connect(database_url)
    try:
        await users.create(connection, "fuzzer", TEST_PASSWORD, Role.admin, "tests")
        await users.create(connection, "fuzz-target", TEST_PASSWORD, Role.viewer, "tests")
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
        return (await api_keys.create(connection, "fuzzer")).key
    finally:
        await connection.close()


@pytest.fixture
def live_api(database_url: str, tmp_path: Any) -> Iterator[tuple[str, str]]:
    key = asyncio.run(_prepare(database_url))
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
    yield f"http://127.0.0.1:{port}", key
    server.should_exit = True
    thread.join(timeout=15)


def test_every_operation_passes_every_schemathesis_check(live_api: tuple[str, str], tmp_path: Path) -> None:
    base, key = live_api
    token = httpx.post(f"{base}/api/v1/auth/token", data={"username": "fuzzer", "password": TEST_PASSWORD})
    assert token.status_code == 200, token.text
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--no-color",
        "--config-file",
        str(CONFIG),
        "run",
        f"{base}/openapi.json",
        "--header",
        f"Authorization: Bearer {token.json()['access_token']}",
        "--header",
        f"X-TDS-Key: {key}",
        "--phases",
        "examples,coverage,fuzzing",  # stateful would chain into the caller's own account
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=tmp_path,  # schemathesis keeps a cache (.schemathesis/) in its working directory
        env={**os.environ, "NO_COLOR": "1"},
    )
    said = done.stdout + done.stderr
    print(said[-3000:])
    assert done.returncode == 0, said[-20000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", said)
    tested = re.search(r"Tested: (\d+)", said)
    assert selected and tested, said[-3000:]
    # every operation of the document was run, and the document has the admin API in it
    assert int(tested.group(1)) == int(selected.group(2)) > 40, said[-3000:]
