"""Health, readiness, and the answer when PostgreSQL is unreachable: 503 + Retry-After."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tds_core import __version__
from tds_core import app as composition
from tds_core.db import migrate
from tds_core.settings import Settings

from . import samples

NOWHERE = "postgresql://postgres@127.0.0.1:1/x"  # nothing listens on port 1
SECRET = "abcdefghijkl123"


@pytest.fixture
async def unreachable_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        env="test",
        home=tmp_path,
        api_key_cache_seconds=0,
        log_level="WARNING",
        db_connect_timeout=2.0,
        retry_after_seconds=7,
        zoho_webhook_secret=SECRET,
    )
    app = composition.build_api(settings, NOWHERE)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tds.test") as http:
            yield http


def assert_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "7"
    body = response.json()
    assert body["error"]


async def test_webhook_with_a_key_is_503(unreachable_client: httpx.AsyncClient) -> None:
    response = await unreachable_client.post(
        "/api/v1/webhooks/zoho/invoices",
        json={"invoice": samples.invoice()},
        headers={"X-TDS-Key": "tds_0123abcd_well-formed-but-unverifiable-secret"},
    )
    assert_503(response)


async def test_signed_webhook_is_503(unreachable_client: httpx.AsyncClient) -> None:
    body = json.dumps({"invoice": samples.invoice()}).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = await unreachable_client.post(
        "/api/v1/webhooks/zoho/invoices",
        content=body,
        headers={"Content-Type": "application/json", "X-Zoho-Webhook-Signature": signature},
    )
    assert_503(response)
    assert "nothing was stored" in response.json()["error"]


async def test_signed_invalid_webhook_is_503_not_422(unreachable_client: httpx.AsyncClient) -> None:
    """Even a rejection must be stored before it is answered; without a database it cannot be."""
    body = json.dumps({"invoice": samples.invoice(total="lots")}).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = await unreachable_client.post(
        "/api/v1/webhooks/zoho/invoices",
        content=body,
        headers={"Content-Type": "application/json", "X-Zoho-Webhook-Signature": signature},
    )
    assert_503(response)


async def test_ready_is_503_and_health_is_200(unreachable_client: httpx.AsyncClient) -> None:
    ready = await unreachable_client.get("/api/v1/ready")
    assert_503(ready)
    assert ready.json()["status"] == "unavailable"
    health = await unreachable_client.get("/api/v1/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "version": __version__}


async def test_ready_on_the_migrated_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "migration": migrate.head_revision()}


async def test_ready_is_503_when_migrations_are_behind(client: httpx.AsyncClient, pool: Any) -> None:
    await pool.execute("UPDATE alembic_version SET version_num = 'older'")
    response = await client.get("/api/v1/ready")
    assert response.status_code == 503
    assert response.json()["expected"] == migrate.head_revision()
    assert "Retry-After" in response.headers


async def test_health_on_the_migrated_database(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/health")).status_code == 200


async def test_openapi_documents_the_webhook(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/api/v1/webhooks/zoho/{entity}"]["post"]
    assert {"202", "400", "401", "404", "413", "415", "422", "503"} <= set(operation["responses"])
