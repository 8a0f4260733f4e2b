"""A node that cannot take writes is the database being unavailable, not the event's fault
(issue 16, item 11): a worker whose connections reach a read-only node (a standby, a primary
demoted by a failover: SQLSTATE 25006) records no failure, does not open its breaker, releases
the batch, and reopens its connections, so it applies as soon as writes are possible again.

The node is made read-only with ``default_transaction_read_only``, a per-session default fixed
when a connection opens: connections opened while it is on stay read-only until reopened, as
connections to a demoted primary stay on it."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from tds_core.db.pool import connect
from tds_core.domain.circuit_breaker import CircuitState
from tds_core.processor.worker import Worker

from . import samples
from .conftest import Send


async def test_a_read_only_node_is_waited_out_and_reconnected(
    webhook: Send, pool: Any, database_url: str
) -> None:
    sent = await webhook("items", {"item": samples.item(item_id="930000000000001")})
    assert sent.status_code == 202, sent.text
    name = urlsplit(database_url).path.lstrip("/")
    await pool.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    await pool.expire_connections()  # every connection now opens on a read-only node
    worker = Worker(pool, database_url, concurrency=1)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(1.5)  # several batches meet 25006
        row = await pool.fetchrow("SELECT status::text AS status, attempts, last_error FROM tds_sync_queue")
        assert row["status"] in ("pending", "processing") and row["last_error"] is None, dict(row)
        assert worker.breaker.state is CircuitState.CLOSED
        assert worker.stats.failed == 0
        operator = await connect(database_url)  # its own session, not one of the worker's
        try:
            await operator.execute("SET default_transaction_read_only = off")
            await operator.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        finally:
            await operator.close()
        for _ in range(200):  # connections opened read-only must be reopened for this to happen
            applied = await pool.fetchval("SELECT count(*) FROM products WHERE zoho_id = '930000000000001'")
            if applied:
                break
            await asyncio.sleep(0.05)
        assert applied == 1
        assert worker.breaker.state is CircuitState.CLOSED and worker.stats.failed == 0
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
