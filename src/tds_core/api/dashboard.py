"""The dashboard's built files (``dashboard/dist``), served by the API at ``/``.

- ``/assets/*``: Vite's content-hashed bundles, cached for a year (``immutable``): a new build
  has new names, so a browser never runs a stale bundle.
- ``/`` and every other ``GET`` outside the API (``/queue``, ``/dead-letters/12``, ...): a file of
  that name at the top of ``dist`` if there is one, else ``index.html``, which the single-page
  app routes itself (``no-cache``, so a rebuild shows at once).
- Never shadowed: ``/api/...``, ``/metrics``, ``/docs``, ``/openapi.json``, ``/redoc`` keep their
  own answers, 404 and 405 included; a POST to any path is never caught.
- No build yet: ``/`` answers a short page that says how to build it (``make dashboard``).

The routes are plain Starlette routes, not API routes, so they stay out of the OpenAPI document
and the role matrix. Mounting again (another ``dist``) replaces the earlier dashboard routes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

DEFAULT_DIST = Path(__file__).resolve().parents[3] / "dashboard" / "dist"
"""``dashboard/dist`` of a source checkout (``src/tds_core/api/`` is three levels down);
installs elsewhere set ``TDS_DASHBOARD_DIR``."""

RESERVED = ("/api", "/metrics", "/docs", "/openapi.json", "/redoc")
"""Path prefixes the dashboard never answers: the API's own."""

ASSET_CACHE = "public, max-age=31536000, immutable"
PAGE_CACHE = "no-cache"
ROUTE_PREFIX = "dashboard"

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TDS Core</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>TDS Core</h1>
<p>The dashboard is not built. Run <code>make dashboard</code> (or <code>make run</code>, which builds it)
and reload this page.</p>
<p>The API is up: <a href="/docs">/docs</a>, <a href="/api/v1/health">/api/v1/health</a>,
<a href="/metrics">/metrics</a>.</p>
</body></html>
"""


def is_reserved(path: str) -> bool:
    """Whether ``path`` belongs to the API (so the dashboard must not answer it)."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in RESERVED)


class _CachedAssets(StaticFiles):
    """Static files with a long cache lifetime (file names carry their content hash)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = ASSET_CACHE
        return response


class _PageRoute(Route):
    """A GET/HEAD route that never matches an API path, nor any other method."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or is_reserved(scope["path"]):
            return Match.NONE, {}
        return super().matches(scope)


def _top_level_file(dist: Path, relative: str) -> Path | None:
    """A file right in ``dist`` (favicon, robots.txt) named by the path, never outside ``dist``."""
    if not relative or "/" in relative or relative.startswith("."):
        return None
    candidate = (dist / relative).resolve()
    if candidate.parent != dist.resolve() or not candidate.is_file():
        return None
    return candidate


def mount_dashboard(app: FastAPI, dist: Path) -> bool:
    """Serve the built dashboard from ``dist``; True if it was there, False for the not-built page."""
    app.router.routes[:] = [route for route in app.router.routes if not _is_dashboard(route)]
    index = dist / "index.html"
    if not index.is_file():

        async def not_built(request: Request) -> Response:
            return HTMLResponse(NOT_BUILT, headers={"Cache-Control": PAGE_CACHE})

        app.router.routes.append(_PageRoute("/", not_built, name=f"{ROUTE_PREFIX}-not-built"))
        return False

    assets = dist / "assets"
    if assets.is_dir():
        app.router.routes.append(
            Mount("/assets", app=_CachedAssets(directory=assets), name=f"{ROUTE_PREFIX}-assets")
        )

    async def page(request: Request) -> Response:
        found = _top_level_file(dist, request.path_params.get("path", ""))
        if found is not None and found.name != "index.html":
            return FileResponse(found, headers={"Cache-Control": "public, max-age=3600"})
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": PAGE_CACHE})

    app.router.routes.append(_PageRoute("/{path:path}", page, name=f"{ROUTE_PREFIX}-page"))
    return True


def _is_dashboard(route: BaseRoute) -> bool:
    return str(getattr(route, "name", "") or "").startswith(ROUTE_PREFIX)
