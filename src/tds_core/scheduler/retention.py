"""Retention clean-up: deletes old inbox events, finished queue rows, sync logs and metrics.

The work is done by the database function ``tds_retention_cleanup`` in bounded batches;
``run_once`` calls it until a pass deletes less than a batch, so a large backlog is worked off
without long locks. The audit trail is never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tds_core.db import status
from tds_core.db.connection import Executor


@dataclass(frozen=True)
class RetentionConfig:
    inbox_days: int = 7
    queue_days: int = 7
    logs_days: int = 90
    metrics_days: int = 30
    batch: int = 10_000
    max_passes: int = 1_000


@dataclass
class RetentionResult:
    deleted: dict[str, int] = field(default_factory=dict)
    passes: int = 0


async def run_once(
    db: Executor, config: RetentionConfig = RetentionConfig(), now: datetime | None = None
) -> RetentionResult:
    result = RetentionResult()
    while result.passes < config.max_passes:
        rows = await status.retention_cleanup(
            db,
            now=now,
            inbox_days=config.inbox_days,
            queue_days=config.queue_days,
            logs_days=config.logs_days,
            metrics_days=config.metrics_days,
            batch=config.batch,
        )
        result.passes += 1
        for row in rows:
            result.deleted[row["table_name"]] = result.deleted.get(row["table_name"], 0) + int(row["deleted"])
        if all(int(row["deleted"]) < config.batch for row in rows):
            break
    return result
