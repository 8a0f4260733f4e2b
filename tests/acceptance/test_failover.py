"""Guarantee 1 across a primary failover to a synchronous standby (issue 16, item 11).

A private primary gets a streaming standby (``pg_basebackup -R`` with the same binaries) that
its commits wait for (``synchronous_standby_names``). A real ``tds api`` and ``tds worker`` use
the standard libpq multi-host URL (``h1:p1,h2:p2/tds?target_session_attrs=read-write``) while
3,000 events stream in; the primary is stopped like a crash (``-m immediate``) mid-stream and the
standby promoted. Senders retry their 503s and broken connections. Every acknowledged event must
end applied exactly once, the ERP must hold each entity's newest version, and the SAME API and
worker processes must carry on against the new primary, none restarted.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.acceptance.conftest import (
    PrivateCluster,
    Processes,
    cancel,
    check_all_accepted_finished,
    check_applied_once,
    check_erp_newest,
    check_no_busy_rows,
    create_api_key,
    make_workload,
    queue_counts,
    send_all,
    set_config,
    wait_drained,
    wait_until,
)
from tests.acceptance.test_database_restart import accepted_at_least, database

pytestmark = pytest.mark.acceptance

TOTAL = 3000


async def test_a_primary_killed_mid_stream_fails_over_to_its_synchronous_standby_losing_nothing(
    tds: Processes, private_cluster: PrivateCluster
) -> None:
    primary = private_cluster
    standby = await asyncio.to_thread(primary.standby)
    try:
        assert "sync" in primary.sql("SELECT sync_state FROM pg_stat_replication")
        url = (
            f"postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/tds"
            "?target_session_attrs=read-write"
        )
        workload = make_workload(TOTAL, seed=11, prefix="F")
        key = await create_api_key(primary.url)
        async with database(primary.url) as db:
            await set_config(db, {"worker.lease_seconds": 3, "worker.batch_size": 50})
        api = await tds.api(url)
        worker = tds.worker(url)
        async with database(primary.url) as db:
            await tds.wait_registered(db, worker)

        sending = asyncio.create_task(send_all(api.base_url, key, workload.deliveries, timeout=240))
        try:
            await wait_until(
                lambda: accepted_at_least(primary.url, int(TOTAL * 0.4)),
                timeout=120,
                interval=0.1,
                what="40% of the events to be accepted",
            )
            await asyncio.to_thread(primary.crash)
            await asyncio.to_thread(standby.promote)
            load = await sending
        finally:
            await cancel([sending])
        assert not load.failed, f"some clients never got a 202: {load.summary()}"
        assert load.retried > 0, f"no client saw the failover (nothing was tested): {load.summary()}"
        print(f"across the failover: {load.summary()}")

        assert api.alive() and worker.alive(), (api.log()[-3000:], worker.log()[-3000:])
        async with database(standby.url) as db:
            assert await db.fetchval("SELECT NOT pg_is_in_recovery()")
            await wait_drained(db, TOTAL, timeout=180)
            await check_no_busy_rows(db)
            await check_all_accepted_finished(db, load.accepted)
            assert sum((await queue_counts(db)).values()) == TOTAL
            await check_erp_newest(db, workload.newest)
            await check_applied_once(db)
        assert api.alive() and worker.alive(), "a process died after the failover"
    finally:
        standby.cleanup()
