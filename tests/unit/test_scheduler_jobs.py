"""Jobs run side by side: a long job neither blocks a frequent one nor overlaps itself."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tds_core.scheduler.service import Job, Scheduler

pytestmark = pytest.mark.asyncio


async def test_a_long_job_does_not_delay_others_nor_run_twice_at_once() -> None:
    release = asyncio.Event()
    calls = {"slow": 0, "fast": 0}

    async def slow() -> None:
        calls["slow"] += 1
        await release.wait()

    async def fast() -> None:
        calls["fast"] += 1

    start = datetime(2026, 1, 1, tzinfo=UTC)
    jobs = [
        Job("slow", None, slow, every=1.0, next_at=start),
        Job("fast", None, fast, every=1.0, next_at=start),
    ]
    scheduler = Scheduler("postgresql://unused", jobs)
    for tick in range(5):
        started = await scheduler.run_due(start + timedelta(seconds=tick * 2), wait=False)
        await asyncio.sleep(0)  # let the started tasks run to their first await
        assert "fast" in started
        assert ("slow" in started) == (tick == 0)
    assert calls == {"slow": 1, "fast": 5}
    release.set()
    await asyncio.sleep(0)
    assert await scheduler.run_due(start + timedelta(seconds=20), wait=True) == ["slow", "fast"]
    assert calls == {"slow": 2, "fast": 6}


async def test_reschedule_changes_the_cron_of_a_job() -> None:
    async def nothing() -> None:
        return None

    job = Job("pull", "*/15 * * * *", nothing)
    scheduler = Scheduler("postgresql://unused", [job])
    assert scheduler.reschedule("pull", cron="*/5 * * * *")
    assert job.cron == "*/5 * * * *" and job.next_at.minute % 5 == 0
    assert not scheduler.reschedule("pull", cron="*/5 * * * *")
    assert not scheduler.reschedule("unknown", cron="* * * * *")


async def test_losing_leadership_cancels_running_jobs() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    job = Job("long", None, forever, every=1.0, next_at=datetime(2026, 1, 1, tzinfo=UTC))
    scheduler = Scheduler("postgresql://unused", [job])
    await scheduler.run_due(datetime(2026, 1, 1, tzinfo=UTC), wait=False)
    await started.wait()
    await scheduler._cancel_running()
    assert job.task is not None and job.task.cancelled()


async def test_cron_is_read_in_the_configured_time_zone() -> None:
    from zoneinfo import ZoneInfo

    async def nothing() -> None:
        return None

    job = Job("reconciliation", "0 2 * * *", nothing, zone=ZoneInfo("Asia/Kolkata"))
    job.schedule(datetime(2026, 11, 28, 0, 0, tzinfo=UTC))  # 05:30 in Kolkata
    assert job.next_at == datetime(2026, 11, 28, 20, 30, tzinfo=UTC)  # 02:00 on the 29th there
    scheduler = Scheduler("postgresql://unused", [job])
    assert scheduler.reschedule("reconciliation", zone="UTC")
    assert job.next_at.hour == 2 and job.next_at.minute == 0
    assert not scheduler.reschedule("reconciliation", zone="UTC")


async def test_the_time_zone_must_exist() -> None:
    from pydantic import ValidationError

    from tds_core.config.runtime import RuntimeConfig

    assert (
        RuntimeConfig.model_validate({"schedule__timezone": "Europe/Berlin"}).schedule__timezone
        == "Europe/Berlin"
    )
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        RuntimeConfig.model_validate({"schedule__timezone": "Mars/Olympus"})
