"""Manual pulls and reconciliations as background jobs (``POST /api/v1/sync/{entity}``,
``POST /api/v1/reconcile``): the API queues a ``sync`` or ``reconcile`` job, a scheduler process
runs it through the same :class:`~tds_core.source.pull.Puller` and
:class:`~tds_core.reconcile.service.Reconciler` as the schedule does.

One entity at a time; a cancelled job stops before its next entity. A job taken over after its
runner died starts again from its first entity not yet finished (the checkpoint): pulls and
reconciliations are idempotent (duplicates are absorbed by the queue, cursors never move back),
so repeating one is harmless. A pull that reaches the quota reserve ends ``paused`` (its summary
carries the reason and the reset time) and the job goes on to the next entity, which pauses at
once without a call; the next scheduled pull or ``tds sync`` resumes them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tds_core.jobs.runner import Handler, JobContext
from tds_core.reconcile.service import Reconciler
from tds_core.source.pull import Puller

ALL = "all"
RunOne = Callable[[str, str], Awaitable[dict[str, Any]]]
"""Pull or reconcile one entity (``entity``, ``triggered_by``); returns its summary."""


def chosen(params: dict[str, Any], available: list[str]) -> list[str]:
    """The job's entities: ``entities`` (a list, the initial sync's), else ``entity`` or all."""
    if isinstance(params.get("entities"), list):
        return [entity for entity in params["entities"] if entity in available]
    entity = params.get("entity", ALL)
    return list(available) if entity == ALL else [entity]


async def each_entity(ctx: JobContext, entities: list[str], run_one: RunOne) -> dict[str, Any]:
    """Run ``run_one`` for every entity not finished yet (the checkpoint), stopping before the next
    one when cancelled; each finished entity commits with the job's progress. Returns all finished."""
    finished: dict[str, Any] = dict((ctx.checkpoint or {}).get("finished", {}))
    await ctx.progress(len(finished), total=len(entities))
    for entity in entities:
        if entity in finished:
            continue
        if await ctx.cancelled():
            break
        finished[entity] = await run_one(entity, f"job {ctx.job_id} by {ctx.created_by}")
        async with ctx.step() as step:
            step.progress(len(finished), total=len(entities), checkpoint={"finished": finished})
    return finished


def handlers(puller: Puller, reconciler: Reconciler, available: list[str]) -> dict[str, Handler]:
    async def sync(ctx: JobContext) -> dict[str, Any]:
        async def pull(entity: str, triggered_by: str) -> dict[str, Any]:
            outcome = await puller.run_once(
                entity, full=bool(ctx.params.get("full")), triggered_by=triggered_by
            )
            return {
                "run_id": outcome.run_id,
                "status": outcome.status,
                "fetched": outcome.fetched,
                "queued": outcome.queued,
                "unchanged": outcome.unchanged,
                "failed": outcome.failed,
                "api_calls": outcome.api_calls,
                "error": outcome.error,
                # paused: the reason and when the quota resets; the next sync resumes
                "details": outcome.details,
            }

        return {"entities": await each_entity(ctx, chosen(ctx.params, available), pull)}

    async def reconcile(ctx: JobContext) -> dict[str, Any]:
        async def check(entity: str, triggered_by: str) -> dict[str, Any]:
            outcome = await reconciler.run_once(
                entity, heal=bool(ctx.params.get("heal", True)), triggered_by=triggered_by
            )
            return {
                "run_id": outcome.run_id,
                "status": outcome.status,
                "checked": outcome.checked,
                "drift": outcome.drift.total,
                "healed": outcome.healed,
                "api_calls": outcome.api_calls,
                "error": outcome.error,
            }

        finished = await each_entity(ctx, chosen(ctx.params, available), check)
        return {"entities": finished, "drift": sum(item["drift"] for item in finished.values())}

    return {"sync": sync, "reconcile": reconcile}
