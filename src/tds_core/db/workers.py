"""``tds_workers``: a worker process's registration, heartbeat and liveness lock."""

from __future__ import annotations

from tds_core.db.connection import Executor, statement
from tds_core.db.queries import QUERIES


@statement
async def register(db: Executor, *, worker_id: str, hostname: str, pid: int) -> None:
    await db.execute(QUERIES.workers_register, worker_id, hostname, pid)


@statement
async def heartbeat(db: Executor, *, worker_id: str, processed: int, failed: int, circuit_state: str) -> None:
    await db.execute(QUERIES.workers_heartbeat, worker_id, processed, failed, circuit_state)


@statement
async def stopped(db: Executor, *, worker_id: str) -> None:
    await db.execute(QUERIES.workers_stopped, worker_id)


@statement
async def hold_liveness_lock(db: Executor, *, worker_id: str) -> None:
    """Take the worker's liveness lock on this session (held until the session ends)."""
    await db.execute(QUERIES.workers_hold_liveness_lock, worker_id)
