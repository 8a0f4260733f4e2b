"""A hung PostgreSQL and a slow client get prompt answers from a real ``tds api`` (issue 16,
scope 8).

- Every process of a private cluster is stopped with SIGSTOP (a hung server: connections stay
  open, nothing answers). Webhooks and reads get a 503 with ``Retry-After`` once
  ``TDS_DB_COMMAND_TIMEOUT`` has passed, instead of waiting until the server returns; after
  SIGCONT the same API process answers again and the webhook a sender retries is stored exactly
  once.
- A client that sends part of a request's headers, or nothing, is answered ``408`` and
  disconnected after ``TDS_HTTP_HEADER_TIMEOUT``; complete requests on the same server are not
  affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.acceptance.conftest import (
    PrivateCluster,
    Processes,
    connect,
    create_api_key,
    make_workload,
    send_all,
)

pytestmark = pytest.mark.acceptance

#: How long a test waits for any one answer: far above the configured timeouts, so a server that
#: does not time out is seen failing, never a slow machine.
PATIENCE = 90.0
#: ... and for an answer from the API while PostgreSQL is stopped: 20 times the 2 s command timeout
#: the test configures, and below the 60 s a pool without that setting would wait.
HUNG_PATIENCE = 40.0


def cluster_pids(cluster: PrivateCluster) -> list[int]:
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True, check=True
    ).stdout.split()
    return [postmaster, *(int(child) for child in children)]


@contextlib.contextmanager
def frozen(cluster: PrivateCluster) -> Iterator[None]:
    """Every process of the cluster stopped (SIGSTOP), and continued on the way out."""
    pids = cluster_pids(cluster)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


async def test_a_hung_postgresql_is_a_prompt_503_and_the_retried_webhook_is_kept_once(
    tds: Processes, private_cluster: PrivateCluster
) -> None:
    url = private_cluster.url
    key = await create_api_key(url)
    tds.extra_env.update(TDS_DB_COMMAND_TIMEOUT="2", TDS_DB_CONNECT_TIMEOUT="2")
    api = await tds.api(url)
    workload = make_workload(11, seed=16, prefix="H", deletes=False)
    warm, held = workload.deliveries[:10], workload.deliveries[10]
    before = await send_all(api.base_url, key, warm, timeout=60)
    assert not before.failed, before.summary()

    async with httpx.AsyncClient(base_url=api.base_url, timeout=PATIENCE) as http:
        with frozen(private_cluster):
            started = time.monotonic()
            webhook = await http.post(
                held.path, json=held.body, headers={"X-TDS-Key": key}, timeout=HUNG_PATIENCE
            )
            ready = await http.get("/api/v1/ready", timeout=HUNG_PATIENCE)
            waited = time.monotonic() - started
        print(f"two requests against a hung server answered in {waited:.1f} s")
        assert webhook.status_code == 503, webhook.text
        assert webhook.headers.get("Retry-After", "").isdigit(), webhook.headers
        assert webhook.json()["error"].startswith("database unavailable"), webhook.text
        assert ready.status_code == 503, ready.text
        assert api.alive(), api.log()[-3000:]

        # the sender retries, as a 503 asks; the server is back and the same process answers
        async def retried() -> httpx.Response:
            while True:
                answer = await http.post(held.path, json=held.body, headers={"X-TDS-Key": key})
                if answer.status_code != 503:
                    return answer
                await asyncio.sleep(0.5)

        answer = await asyncio.wait_for(retried(), PATIENCE)
    # 202 when the timed-out statement never ran; 200 "duplicate" when PostgreSQL, continued,
    # finished the insert the client had stopped waiting for. Never a second copy.
    assert answer.status_code in (200, 202), answer.text
    connection = await connect(url)
    try:
        total, distinct = await connection.fetchrow(
            "SELECT count(*), count(DISTINCT (entity, zoho_id, source_version)) FROM tds_sync_queue"
        )
    finally:
        await connection.close()
    # the 10 events sent before and the held one, each once: none lost, none doubled
    assert (total, distinct) == (11, 11), (total, distinct)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


async def test_late_request_headers_are_a_408_and_the_connection_is_closed(
    tds: Processes, private_cluster: PrivateCluster
) -> None:
    tds.extra_env["TDS_HTTP_HEADER_TIMEOUT"] = "1"
    api = await tds.api(private_cluster.url)
    assert api.port is not None

    def probe(first: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", api.port), timeout=PATIENCE) as sock:
            if first:
                sock.sendall(first)
            return read_all(sock)

    half = await asyncio.to_thread(probe, b"GET /api/v1/health HTTP/1.1\r\nHost: tds\r\nX-Slow: 1")
    silent = await asyncio.to_thread(probe, b"")
    for answer in (half, silent):
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), answer
        assert b"did not arrive within 1 s" in body, answer

    # a keep-alive connection that sends complete requests is not cut off by the deadline
    async with httpx.AsyncClient(base_url=api.base_url, timeout=PATIENCE) as http:
        for _ in range(3):
            assert (await http.get("/api/v1/health")).status_code == 200
            await asyncio.sleep(0.6)
