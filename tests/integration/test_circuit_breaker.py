"""The circuit breaker in a running worker: an ERP that keeps failing opens it, the worker stops
claiming, and a half-open probe closes it again once the ERP recovers."""

from __future__ import annotations

import asyncio
from typing import Any

from tds_core.domain.states import CircuitState
from tds_core.processor.worker import Worker

from .conftest import Send

FAIL_ALL = """
CREATE FUNCTION erp_down() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'ERP maintenance: products is read-only'; END $$;
CREATE TRIGGER erp_down BEFORE INSERT OR UPDATE ON products FOR EACH ROW EXECUTE FUNCTION erp_down();
"""


async def configure(pool: Any, **values: str) -> None:
    for key, value in values.items():
        await pool.execute(
            "INSERT INTO tds_configuration (key, version, value, updated_by)"
            " SELECT $1, max(version) + 1, $2::jsonb, 'test' FROM tds_configuration WHERE key = $1",
            key,
            value,
        )


async def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_failing_erp_opens_the_breaker_and_a_probe_closes_it(
    webhook: Send, pool: Any, database_url: str
) -> None:
    await configure(
        pool,
        **{
            "breaker.min_calls": "3",
            "breaker.failure_rate": "0.5",
            "breaker.open_seconds": "2",
            "worker.batch_size": "1",
            "worker.max_attempts": "100",
            "retry.backoff_base_seconds": "0",
            "worker.poll_interval_seconds": "0.05",
        },
    )
    await pool.execute(FAIL_ALL)
    for n in range(6):
        response = await webhook("items", {"item": {"item_id": f"BRK-{n}", "name": f"item {n}"}})
        assert response.status_code == 202
    worker = Worker(pool, database_url, concurrency=1)
    states: list[CircuitState] = []
    task = asyncio.create_task(worker.run())
    try:

        async def opened() -> bool:
            states.append(worker.breaker.state)
            return worker.breaker.state is CircuitState.OPEN

        await wait_for(opened)

        async def published() -> bool:
            state = await pool.fetchval(
                "SELECT circuit_state FROM tds_workers WHERE worker_id = $1", worker.worker_id
            )
            return bool(state != "closed")

        await wait_for(published, timeout=5)  # the dashboard and metrics read it from tds_workers
        # While open the worker claims nothing: attempts stay where they are.
        attempts = await pool.fetchval("SELECT sum(attempts) FROM tds_sync_queue")
        await asyncio.sleep(0.5)
        if worker.breaker.state is CircuitState.OPEN:
            assert await pool.fetchval("SELECT sum(attempts) FROM tds_sync_queue") == attempts
        await pool.execute("DROP TRIGGER erp_down ON products")

        async def drained() -> bool:
            left = await pool.fetchval("SELECT count(*) FROM tds_sync_queue WHERE status <> 'completed'")
            return bool(left == 0)

        await wait_for(drained)
        assert worker.breaker.state is CircuitState.CLOSED
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
    assert await pool.fetchval("SELECT count(*) FROM products WHERE deleted_at IS NULL") == 6
    assert await pool.fetchval("SELECT count(*) FROM tds_dead_letter_queue") == 0
    retries = await pool.fetchval("SELECT count(*) FROM tds_sync_logs WHERE outcome = 'retry'")
    assert retries >= 3


async def test_when_the_breaker_closes_the_outages_failures_are_retried_at_once(
    webhook: Send, pool: Any, database_url: str
) -> None:
    """Events that failed during an ERP outage wait out no backoff once a probe has shown the ERP
    is back: with an hour of backoff configured they still complete right after the recovery."""
    await configure(
        pool,
        **{
            "breaker.min_calls": "3",
            "breaker.failure_rate": "0.5",
            "breaker.open_seconds": "0.5",
            "worker.batch_size": "1",
            "worker.max_attempts": "100",
            "retry.backoff_base_seconds": "3600",
            "retry.backoff_cap_seconds": "3600",
            "worker.poll_interval_seconds": "0.05",
        },
    )
    await pool.execute(FAIL_ALL)
    for n in range(6):
        response = await webhook("items", {"item": {"item_id": f"OUT-{n}", "name": f"item {n}"}})
        assert response.status_code == 202
    worker = Worker(pool, database_url, concurrency=1)
    task = asyncio.create_task(worker.run())
    try:

        async def opened() -> bool:
            return worker.breaker.state is CircuitState.OPEN

        await wait_for(opened)
        waiting = await pool.fetchval(
            "SELECT count(*) FROM tds_sync_queue"
            " WHERE status = 'pending' AND next_attempt_at > now() + interval '1 minute'"
        )
        assert waiting >= 2  # the failures back off for up to an hour (full jitter)
        await pool.execute("DROP TRIGGER erp_down ON products")
        # New traffic proves the ERP is back (an empty probe would not)
        response = await webhook("items", {"item": {"item_id": "OUT-new", "name": "after the outage"}})
        assert response.status_code == 202

        async def drained() -> bool:
            left = await pool.fetchval("SELECT count(*) FROM tds_sync_queue WHERE status <> 'completed'")
            return bool(left == 0)

        await wait_for(drained)  # a probe on a fresh event closes the breaker; the rest follow
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
    assert await pool.fetchval("SELECT count(*) FROM products WHERE deleted_at IS NULL") == 7
