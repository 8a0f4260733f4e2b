"""The ceiling: raw batched ``INSERT ... ON CONFLICT DO UPDATE`` of JSONB rows, no TDS code.

100 rows per statement, each statement its own (durable) commit, over 1 and 4 connections;
first as inserts of new keys, then as newer versions of the same keys. The documents are the
same webhook records the pipeline benchmarks send, so the ratio is like for like.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tds_core.db.urls import asyncpg_dsn

BATCH = 100
TABLE = """
CREATE TABLE IF NOT EXISTS bench_upsert (
    zoho_id        text PRIMARY KEY,
    data           jsonb NOT NULL,
    source_version timestamptz NOT NULL,
    synced_at      timestamptz NOT NULL DEFAULT now()
)
"""
UPSERT = """
INSERT INTO bench_upsert (zoho_id, data, source_version)
SELECT * FROM unnest($1::text[], $2::jsonb[], $3::timestamptz[])
ON CONFLICT (zoho_id) DO UPDATE
SET data = EXCLUDED.data, source_version = EXCLUDED.source_version, synced_at = now()
WHERE bench_upsert.source_version < EXCLUDED.source_version
"""


@dataclass(frozen=True)
class CeilingResult:
    connections: int
    insert_rows_per_s: float
    update_rows_per_s: float
    insert_passes: list[float]
    update_passes: list[float]


async def _run(
    url: str, connections: int, batches: list[tuple[list[str], list[str], list[datetime]]]
) -> float:
    pool: Any = await asyncpg.create_pool(asyncpg_dsn(url), min_size=connections, max_size=connections)
    try:
        queue = iter(batches)

        async def loop() -> None:
            async with pool.acquire() as connection:
                statement = await connection.prepare(UPSERT)
                for ids, docs, versions in queue:
                    await statement.fetch(ids, docs, versions)

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    finally:
        await pool.close()
    rows = sum(len(batch[0]) for batch in batches)
    return rows / elapsed


async def measure(url: str, documents: list[bytes], connections: int, passes: int) -> CeilingResult:
    """Insert ``len(documents)`` new rows, then update them all to a newer version; per pass."""
    texts = [d.decode() for d in documents]
    ids = [f"k{n}" for n in range(len(texts))]
    base = datetime(2024, 1, 1, tzinfo=UTC)
    inserts, updates = [], []
    for number in range(passes):
        old = [base] * BATCH
        new = [base + timedelta(days=1)] * BATCH
        setup = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await setup.execute(TABLE)
            await setup.execute("TRUNCATE bench_upsert")
            with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
                await setup.execute("CHECKPOINT")
        finally:
            await setup.close()
        insert_batches = [
            (ids[i : i + BATCH], texts[i : i + BATCH], old[: len(ids[i : i + BATCH])])
            for i in range(0, len(ids), BATCH)
        ]
        # Newer versions of the same rows, with each batch's documents rotated so data changes.
        shift = number + 1
        update_batches = [
            (
                ids[i : i + BATCH],
                texts[i + shift : i + BATCH] + texts[i : i + shift],
                new[: len(ids[i : i + BATCH])],
            )
            for i in range(0, len(ids), BATCH)
        ]
        inserts.append(await _run(url, connections, insert_batches))
        updates.append(await _run(url, connections, update_batches))
    return CeilingResult(
        connections=connections,
        insert_rows_per_s=statistics.median(inserts),
        update_rows_per_s=statistics.median(updates),
        insert_passes=inserts,
        update_passes=updates,
    )
