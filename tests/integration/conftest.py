"""Integration helpers: a webhook sender bound to the test client and key, and queue readers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

DEFAULT_KEY: Any = object()

Send = Callable[..., Awaitable[httpx.Response]]


def sender(client: httpx.AsyncClient, default_key: str | None) -> Send:
    async def send(
        entity: str,
        body: Any = None,
        *,
        event: str | None = None,
        key: Any = DEFAULT_KEY,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        content: Any = None,
    ) -> httpx.Response:
        """POST a webhook: ``body`` as JSON, or raw ``content`` (set the content type in headers)."""
        sent_headers: dict[str, str] = {}
        key = default_key if key is DEFAULT_KEY else key
        if key is not None:
            sent_headers["X-TDS-Key"] = key
        sent_headers.update(headers or {})
        query = dict(params or {})
        if event is not None:
            query["event"] = event
        url = f"/api/v1/webhooks/zoho/{entity}"
        if content is not None:
            return await client.post(url, content=content, headers=sent_headers, params=query)
        return await client.post(url, json=body, headers=sent_headers, params=query)

    return send


@pytest.fixture
def webhook(client: httpx.AsyncClient, api_key: str) -> Send:
    """Send a webhook with the test API key (``key=None`` sends none)."""
    return sender(client, api_key)


@pytest.fixture
def queue_states(pool: Any) -> Callable[..., Awaitable[list[str]]]:
    """The queue rows' states in enqueue order (optionally of one zoho id)."""

    async def read(zoho_id: str | None = None) -> list[str]:
        rows = await pool.fetch(
            "SELECT status::text AS status FROM tds_sync_queue WHERE $1::text IS NULL OR zoho_id = $1"
            " ORDER BY id",
            zoho_id,
        )
        return [r["status"] for r in rows]

    return read
