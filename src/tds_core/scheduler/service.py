"""The scheduler loop: jobs on cron schedules, run by the elected leader only.

Each job is a periodic service's ``run_once``; a failing run is logged and retried at its next
time, never taking the scheduler down. Jobs run side by side as their own tasks, so an hour-long
reconciliation never delays the alert evaluation due every few seconds; a job never overlaps
itself (a run still going when its next time comes is not started twice). A leader that loses
its session cancels its running jobs: the new leader runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from croniter import croniter

from tds_core.db.errors import translate
from tds_core.scheduler.leader import leadership

log = structlog.get_logger("tds.scheduler")


@dataclass
class Job:
    """A job on a cron schedule (``cron``) or every ``every`` seconds."""

    name: str
    cron: str | None
    run: Callable[[], Awaitable[Any]]
    every: float | None = None
    next_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    runs: int = 0
    failures: int = 0
    task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    """The time zone the cron expression is read in (``schedule.timezone``)."""

    def schedule(self, after: datetime) -> None:
        if self.every is not None:
            self.next_at = after + timedelta(seconds=self.every)
        else:
            local = croniter(self.cron, after.astimezone(self.zone)).get_next(datetime)
            self.next_at = local.astimezone(UTC)


class Scheduler:
    def __init__(self, database_url: str, jobs: list[Job], *, tick_seconds: float = 1.0) -> None:
        self.database_url = database_url
        self.jobs = jobs
        self.tick_seconds = tick_seconds
        self._stopping = asyncio.Event()
        self.leading = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        now = datetime.now(UTC)
        for job in self.jobs:
            job.schedule(now)
        log.info("scheduler standing by for leadership", jobs=[j.name for j in self.jobs])
        while not self._stopping.is_set():
            async with leadership(self.database_url, self._stopping) as lock:
                if lock is None:
                    break
                self.leading.set()
                log.info("scheduler leads", jobs={j.name: j.next_at.isoformat() for j in self.jobs})
                try:
                    while not self._stopping.is_set() and not lock.is_closed():
                        await self.run_due(datetime.now(UTC), wait=False)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._stopping.wait(), self.tick_seconds)
                        with contextlib.suppress(Exception):
                            await lock.fetchval("SELECT 1")  # notice a lost session promptly
                finally:
                    await self._cancel_running()
                self.leading.clear()
                if not self._stopping.is_set():
                    log.warning("scheduler lost its leadership session; standing by")

    async def run_due(self, now: datetime, *, wait: bool = True) -> list[str]:
        """Start every job whose time has come and that is not still running; returns their
        names. ``wait`` (tests) waits for the started runs to finish."""
        started: list[Job] = []
        for job in self.jobs:
            if job.next_at > now or job.running:
                continue
            job.schedule(now)
            job.task = asyncio.create_task(self._run(job), name=f"job:{job.name}")
            started.append(job)
        if wait:
            await asyncio.gather(*(job.task for job in started if job.task is not None))
        return [job.name for job in started]

    async def _run(self, job: Job) -> None:
        started = time.perf_counter()
        try:
            result = await job.run()
            job.runs += 1
            # frequent jobs that found nothing to do stay quiet
            (log.debug if job.every is not None and not result else log.info)(
                "job done",
                job=job.name,
                result=repr(result)[:500],
                seconds=round(time.perf_counter() - started, 3),
            )
        except Exception as exc:
            job.failures += 1
            log.warning("job failed", job=job.name, error=str(translate(exc)))

    async def _cancel_running(self) -> None:
        tasks = [job.task for job in self.jobs if job.task is not None and not job.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def reschedule(
        self, name: str, *, cron: str | None = None, every: float | None = None, zone: str | None = None
    ) -> bool:
        """Change a job's schedule (a configuration change); True when it changed."""
        for job in self.jobs:
            if job.name != name:
                continue
            wanted = (cron or job.cron, every or job.every, ZoneInfo(zone) if zone else job.zone)
            if wanted == (job.cron, job.every, job.zone):
                return False
            job.cron, job.every, job.zone = wanted
            job.schedule(datetime.now(UTC))
            log.info("job rescheduled", job=name, cron=job.cron, every=job.every, zone=str(job.zone))
            return True
        return False
