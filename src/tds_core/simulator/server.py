"""Run the simulator as a real HTTP server (what ``tds simulate`` calls)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import replace

import uvicorn
from fastapi import FastAPI

from tds_core.simulator.app import create_app
from tds_core.simulator.config import SimulatorConfig
from tds_core.simulator.store import MODULES, Store
from tds_core.simulator.webhooks import WebhookConfig, WebhookEmitter, generate

DEFAULT_PORT = 8090


def banner(config: SimulatorConfig, store: Store) -> str:
    """What a user needs to point a Zoho client at the simulator."""
    counts = ", ".join(f"{module} {store.count(module)}" for module in MODULES)
    return "\n".join(
        (
            f"Zoho Books simulator on {config.api_domain} (records: {counts})",
            f"  accounts (token) URL   {config.api_domain}/oauth/v2/token",
            f"  Books API              {config.api_domain}/books/v3",
            f"  Inventory API          {config.api_domain}/inventory/v1",
            f"  organization_id        {config.organization_id}",
            f"  client_id              {config.client_id}",
            f"  client_secret          {config.client_secret}",
            f"  refresh_token          {config.refresh_token}",
        )
    )


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    seed: int = 0,
    records_per_module: int = 50,
    *,
    config: SimulatorConfig | None = None,
    webhook_url: str | None = None,
    webhook_key: str | None = None,
    events_per_second: float = 1.0,
    duplicate_percent: float = 0.0,
    reorder_percent: float = 0.0,
    drop_percent: float = 0.0,
    log_level: str = "info",
    quiet: bool = False,
) -> None:
    """Seed a store and serve it until interrupted (blocks; uvicorn handles SIGINT/SIGTERM).

    With ``webhook_url`` (TDS's base URL, e.g. ``http://127.0.0.1:8000``) and ``webhook_key``
    (a TDS API key), a traffic generator also mutates records at ``events_per_second`` and
    posts their webhooks, with the given duplicate/reorder/drop percentages.
    """
    if webhook_url and not webhook_key:
        raise ValueError("webhook_key (a TDS API key) is required with webhook_url")
    public_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    config = replace(config or SimulatorConfig(), api_domain=f"http://{public_host}:{port}")
    store = Store(seed)
    store.seed(records_per_module)

    @contextlib.asynccontextmanager
    async def traffic(app: FastAPI) -> AsyncIterator[None]:
        if not webhook_url or webhook_key is None:
            yield
            return
        webhooks = WebhookConfig(
            base_url=webhook_url,
            api_key=webhook_key,
            duplicate_percent=duplicate_percent,
            reorder_percent=reorder_percent,
            drop_percent=drop_percent,
            seed=seed,
        )
        async with WebhookEmitter(webhooks) as emitter:
            task = asyncio.create_task(generate(store, emitter, events_per_second, None, seed))
            app.state.emitter = emitter
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = create_app(store, config=config, lifespan=traffic)
    if not quiet:
        print(banner(config, store), file=sys.stderr)
        if webhook_url:
            print(f"  webhooks -> {webhook_url} at {events_per_second}/s", file=sys.stderr)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level)).run()
