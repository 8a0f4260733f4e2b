"""One correlation id follows an event: the request's X-Request-ID (or a new id) is echoed, kept
with the inbox row, and carried in the worker's log lines for that event; every request is logged
once with its status."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from tds_core.observability.logging import configure

from . import samples
from .conftest import Send
from .test_dead_letters import POISON, poisoned  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio


async def test_the_request_id_reaches_the_inbox_and_the_worker_logs(
    poisoned: None,  # noqa: F811
    webhook: Send,
    pool: Any,
    drain: Any,
) -> None:
    response = await webhook(
        "items", {"item": samples.item(item_id=POISON)}, headers={"X-Request-ID": "req-0042.abc"}
    )
    assert response.status_code == 202 and response.headers["x-request-id"] == "req-0042.abc"
    event_id = response.json()["event_id"]
    stored = await pool.fetchval("SELECT correlation_id FROM tds_inbox_events WHERE id = $1", event_id)
    assert stored == "req-0042.abc"
    with capture_logs() as logs:
        await drain()
    worker_lines = [line for line in logs if line.get("inbox_event_id") == event_id]
    assert {line["event"] for line in worker_lines} == {"event will retry", "event dead-lettered"}
    assert {line["correlation_id"] for line in worker_lines} == {"req-0042.abc"}


async def test_an_unusable_request_id_is_replaced_by_a_fresh_one(webhook: Send, pool: Any) -> None:
    response = await webhook(
        "items", {"item": samples.item()}, headers={"X-Request-ID": "bad id with spaces"}
    )
    assigned = response.headers["x-request-id"]
    assert assigned != "bad id with spaces" and len(assigned) == 32
    event_id = response.json()["event_id"]
    assert (
        await pool.fetchval("SELECT correlation_id FROM tds_inbox_events WHERE id = $1", event_id) == assigned
    )


async def test_each_request_is_logged_once_with_its_correlation_id_and_no_secret(
    webhook: Send, api_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure("INFO", "json")
    try:
        capsys.readouterr()
        response = await webhook("items", {"item": samples.item()}, headers={"X-Request-ID": "trace-me"})
        await webhook("items", {"item": samples.item()}, key="tds_00000000_wrong-key-wrong-key-wrong-key")
        err = capsys.readouterr().err
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    assert response.status_code == 202
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    lines = [line for line in logged if line.get("event") == "request"]
    assert len(lines) == 2
    assert lines[0]["correlation_id"] == "trace-me" and lines[0]["status"] == 202
    assert lines[1]["status"] == 401
    assert api_key not in err and "wrong-key-wrong-key" not in err
