"""The ``dlq_replay`` job: replay the open dead letters a filter selects, in keyset batches.

:func:`start_bulk_replay` queues the job (the API's and the CLI's bulk replay);
:func:`replay_handler` is what a job runner runs: each batch of letters is replayed
(:func:`tds_core.operations.dead_letters.replay_batch`) and commits with the job's progress and
checkpoint, and the job stops between batches when cancelled.
"""

from __future__ import annotations

from typing import Any

from tds_core.access.actions import Actor
from tds_core.db.connection import Connection, Pool
from tds_core.db.errors import translated
from tds_core.jobs import runner as jobs
from tds_core.jobs.runner import JobContext
from tds_core.operations import dead_letters
from tds_core.queue.doorbell import wake_workers


async def start_bulk_replay(
    connection: Connection, selection: dead_letters.DeadLetterFilter, actor: Actor, note: str | None = None
) -> jobs.Job:
    """Queue a ``dlq_replay`` job for the open letters matching ``selection`` now (later arrivals,
    including letters of events that fail again, are not part of it)."""
    selection.check()
    note = dead_letters.check_note(note, required=False)
    with translated():
        total, upto = await dead_letters.open_bounds(connection, selection)
    params = {**selection.to_params(), "upto": upto, **({"note": note} if note else {})}
    return await jobs.create(connection, "dlq_replay", params, actor, total=total)


async def ring_workers(pool: Pool, ring: dead_letters.Ring | None) -> None:
    """Wake the workers after a commit: the caller's doorbell, or a NOTIFY of our own."""
    if ring is not None:
        ring()
    else:
        await wake_workers(pool)


def replay_handler(
    pool: Pool, ring: dead_letters.Ring | None = None, *, batch_size: int = 500
) -> jobs.Handler:
    """The ``dlq_replay`` job: replay the selected letters in keyset batches; each batch commits
    with the job's progress and checkpoint, and the job stops between batches when cancelled."""

    async def handle(ctx: JobContext) -> dict[str, Any]:
        selection = dead_letters.DeadLetterFilter.from_params(ctx.params)
        upto = int(ctx.params.get("upto", 0))
        note = ctx.params.get("note")
        resolution = f"job {ctx.job_id}: {note}" if note else f"job {ctx.job_id}"
        after = int((ctx.checkpoint or {}).get("after", 0))
        done, skipped = ctx.done, ctx.skipped
        while not await ctx.cancelled():
            async with ctx.step() as step:
                ids = await dead_letters.next_open_ids(step.connection, selection, after, upto, batch_size)
                if ids:
                    outcome = await dead_letters.replay_batch(
                        step.connection, ids, ctx.created_by, resolution
                    )
                    done, skipped = done + len(ids), skipped + len(outcome.skipped)
                    after = ids[-1]
                    step.progress(done, skipped=skipped, checkpoint={"after": after})
            if not ids:
                break
            await ring_workers(pool, ring)
        return {"replayed": done - skipped, "skipped": skipped}

    return handle
