"""In step from the first start: a full pull of every entity no pull has finished for yet.

A fresh install holds nothing; waiting for the first ``*/15`` tick, and then for the nightly
reconciliation to find everything "missing", is not in step. So ``tds up`` and the scheduler
(every minute, and at once when it starts) queue one ``sync`` job for the entities that have no
cursor yet: the job runner pulls them in full, its progress is the job's (``tds jobs show ID
--watch``, the dashboard's Sync page), and each entity's cursor appears when its pull
completes. An entity whose pull paused at the quota reserve is left until the quota resets; a
job already queued or running is not queued twice. Reconciliation raises no drift alert for
an entity until its first pull finished (``db/sql/alerts.sql``).
"""

from __future__ import annotations

import structlog

from tds_core.access.actions import Actor
from tds_core.db import cursors
from tds_core.db import jobs as jobs_db
from tds_core.db.connection import Connection
from tds_core.jobs import runner as jobs

log = structlog.get_logger("tds.initial_sync")

INITIAL = "initial"
"""The job parameter that marks the initial sync."""


async def ensure(connection: Connection, available: list[str], actor: Actor) -> int | None:
    """The id of the initial sync job (queued now, or already open), or None when every
    entity of ``available`` has been pulled (or waits for the quota)."""
    open_job = await jobs_db.initial_sync_open(connection)
    if open_job is not None:
        return open_job
    never = await cursors.entities_never_pulled(connection, entities=available)
    if not never:
        return None
    job = await jobs.create(
        connection,
        "sync",
        {"entities": never, "full": True, INITIAL: True},
        actor,
        total=len(never),
    )
    log.info("initial sync queued: entities never pulled", job_id=job.id, entities=never)
    return job.id
