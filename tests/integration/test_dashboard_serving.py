"""The dashboard's files served by the API at ``/`` (independent of a real build: a fake ``dist``).

The built index page answers ``/`` and deep links, assets are cached for a year, and the API's own
paths (``/api/...``, ``/metrics``, ``/docs``, ``/openapi.json``) answer exactly as without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tds_core.api.dashboard import ASSET_CACHE, mount_dashboard

INDEX = (
    '<!doctype html><html><body><div id="root"></div>'
    '<script src="/assets/app-1a2b.js"></script></body></html>'
)
ASSET = "console.log('dashboard');"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "app-1a2b.js").write_text(ASSET)
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return root


def app_of(client: httpx.AsyncClient) -> Any:
    return client._transport.app  # type: ignore[attr-defined]


async def test_index_deep_links_and_assets(client: httpx.AsyncClient, dist: Path) -> None:
    assert mount_dashboard(app_of(client), dist) is True

    root = await client.get("/")
    assert root.status_code == 200
    assert root.text == INDEX
    assert root.headers["content-type"].startswith("text/html")
    assert root.headers["cache-control"] == "no-cache"

    for deep in ("/dead-letters/12", "/queue", "/entities/items/460000000012345"):
        page = await client.get(deep)
        assert page.status_code == 200, deep
        assert page.text == INDEX, deep

    asset = await client.get("/assets/app-1a2b.js")
    assert asset.status_code == 200
    assert asset.text == ASSET
    assert asset.headers["cache-control"] == ASSET_CACHE

    assert (await client.get("/assets/missing-0000.js")).status_code == 404
    favicon = await client.get("/favicon.svg")
    assert favicon.status_code == 200
    assert favicon.text.startswith("<svg")


async def test_api_paths_are_untouched(client: httpx.AsyncClient, dist: Path) -> None:
    before = {path: await client.get(path) for path in ("/api/v1/health", "/api/v1/nope", "/metrics")}
    mount_dashboard(app_of(client), dist)

    health = await client.get("/api/v1/health")
    assert health.status_code == 200
    assert health.json() == before["/api/v1/health"].json()

    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"] == before["/metrics"].headers["content-type"]
    assert "# TYPE" in metrics.text

    missing = await client.get("/api/v1/nope")
    assert missing.status_code == 404 == before["/api/v1/nope"].status_code
    assert missing.json()["error"]

    assert (await client.get("/api/v1/stats")).status_code == 401  # still the API, not the page
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "TDS Core"
    assert "swagger" in (await client.get("/docs")).text.lower()
    assert (await client.post("/queue")).status_code == 404  # only GET/HEAD are the page's
    paths = app_of(client).openapi()["paths"]
    assert not any(path == "/" or "{path" in path for path in paths)


async def test_not_built_page(client: httpx.AsyncClient, tmp_path: Path) -> None:
    assert mount_dashboard(app_of(client), tmp_path / "no-such-dist") is False
    page = await client.get("/")
    assert page.status_code == 200
    assert "not built" in page.text
    assert "make dashboard" in page.text
    assert (await client.get("/api/v1/health")).status_code == 200


async def test_mounting_again_replaces_the_earlier_dashboard(
    client: httpx.AsyncClient, dist: Path, tmp_path: Path
) -> None:
    mount_dashboard(app_of(client), tmp_path / "no-such-dist")
    mount_dashboard(app_of(client), dist)
    assert (await client.get("/")).text == INDEX
