"""Alerts: the time from a condition to its notification, as the scheduler runs the alert
service (a tick every second, rules evaluated every ``alerts.evaluate_seconds``, default 5 s).

Each trial clones the migrated template, points a webhook channel at a local HTTP receiver,
lets the service settle, then makes the DLQ-growth rule true (ten dead letters at once) and
measures until the receiver has the notification: by the wall clock here, and as TDS itself
records it on the delivery (``notify_seconds``, from the condition's start in the data).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tds_core.alerts.service import AlertService
from tds_core.db.pool import create_pool
from tds_core.db.queries import QUERIES

TICK_SECONDS = 1.0
RULE = "dlq_growth"


@dataclass
class AlertLatency:
    trials: list[float] = field(default_factory=list)  # wall clock, condition → receiver
    recorded: list[float] = field(default_factory=list)  # notify_seconds as TDS recorded it
    evaluate_seconds: float = 5.0

    @property
    def p50(self) -> float:
        return statistics.median(self.trials)

    @property
    def worst(self) -> float:
        return max(self.trials)


async def _receiver() -> tuple[web.AppRunner, int, asyncio.Event]:
    got = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        alert = body.get("alert", body)
        if alert.get("rule") == RULE:  # other rules may fire on a fresh database (a sync lag)
            got.set()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, int(port), got


async def _trial(url: str) -> tuple[float, float | None]:
    runner, port, got = await _receiver()
    pool = await create_pool(url, min_size=1, max_size=4)
    try:
        channels = [{"name": "bench", "type": "webhook", "url": f"http://127.0.0.1:{port}/hook"}]
        async with pool.acquire() as connection:
            await connection.fetch(QUERIES.configuration_set, "alerts.channels", channels, "bench", None)
        with tempfile.TemporaryDirectory() as home:
            async with AlertService(pool, daily_quota=1000, organization_id=None, home=Path(home)) as service:
                await service.run_once()  # settled: nothing firing
                await pool.execute(
                    "INSERT INTO tds_dead_letter_queue (queue_id, entity, zoho_id, operation, source_version,"
                    " payload, error, error_class, attempts)"
                    " SELECT n, 'items', 'B' || n, 'upsert', now(), '{}', 'bench', 'permanent', 8"
                    " FROM generate_series(1, 10) n"
                )
                began = time.perf_counter()
                deadline = began + 120
                while not got.is_set() and time.perf_counter() < deadline:
                    await service.run_once()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(got.wait(), TICK_SECONDS)
                wall = time.perf_counter() - began
                recorded: Any = await pool.fetchval(
                    "SELECT extract(epoch FROM d.sent_at - coalesce((a.details ->> 'condition_since')"
                    "::timestamptz, a.first_seen_at))::float8"
                    " FROM tds_alert_deliveries d JOIN tds_alerts a ON a.id = d.alert_id"
                    " WHERE d.status = 'sent' AND a.rule = $1 ORDER BY d.id LIMIT 1",
                    RULE,
                )
        if not got.is_set():
            raise RuntimeError("no notification within 120 s")
        return wall, float(recorded) if recorded is not None else None
    finally:
        await pool.close()
        await runner.cleanup()


async def measure(server: Any, template: str, trials: int = 5) -> AlertLatency:
    result = AlertLatency()
    for number in range(trials):
        url = await server.create_database(f"alerts{number}", template=template)
        try:
            wall, recorded = await _trial(url)
        finally:
            await server.drop_database(f"alerts{number}")
        result.trials.append(wall)
        if recorded is not None:
            result.recorded.append(recorded)
    return result
