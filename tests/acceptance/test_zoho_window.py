"""Zoho's per-minute limit across processes: two ``tds sync`` processes pulling at once never send
the simulator more than the limit in any 60-second window (a sliding window, so a burst at the
end of one calendar minute and the start of the next cannot double it).

The simulator runs in this test (uvicorn in a thread) behind a recorder of each API request's
arrival time. The limit is set to 8 calls a minute so that two windows' worth of calls take ~60 s
instead of the ~2 minutes that Zoho's 100 would need."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from tds_core.simulator.app import create_app
from tds_core.simulator.config import SimulatorConfig
from tds_core.simulator.store import Store
from tests.acceptance.conftest import Processes, connect, free_port, wait_until
from tests.acceptance.test_source_processes import start

pytestmark = pytest.mark.acceptance

LIMIT = 8
WINDOW = 60.0


class Recorder:
    """ASGI wrapper: the arrival time (monotonic) of every API request, and its status."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls: list[tuple[float, str, int]] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/oauth"):
            await self.app(scope, receive, send)
            return
        arrived = time.monotonic()

        async def record(message: Any) -> None:
            if message["type"] == "http.response.start":
                with self._lock:
                    self.calls.append((arrived, scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, record)


@pytest.fixture
def simulator() -> Iterator[tuple[int, Recorder, Store]]:
    store = Store(seed=5)
    store.seed(6)
    port = free_port()
    recorder = Recorder(create_app(store, config=SimulatorConfig()))
    server = uvicorn.Server(uvicorn.Config(recorder, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the simulator did not start"
        time.sleep(0.05)
    yield port, recorder, store
    server.should_exit = True
    thread.join(timeout=10)


def busiest_window(arrivals: list[float], window: float = WINDOW) -> int:
    """The most calls that arrived within any ``window`` seconds."""
    ordered = sorted(arrivals)
    return max(sum(1 for t in ordered if start <= t < start + window) for start in ordered)


async def test_two_processes_pulling_at_once_keep_to_the_limit_in_any_60_seconds(
    tds: Processes, database_url: str, simulator: tuple[int, Recorder, Store]
) -> None:
    port, recorder, store = simulator
    env = {"TDS_SIMULATOR_PORT": str(port), "TDS_ZOHO_REQUESTS_PER_MINUTE": str(LIMIT)}
    first = start(tds, "sync-invoices", database_url, "sync", "invoices", "--full", "--json", env=env)
    second = start(tds, "sync-bills", database_url, "sync", "bills", "--full", "--json", env=env)

    async def finished() -> bool:
        return not first.alive() and not second.alive()

    await wait_until(finished, timeout=240, interval=0.5, what="both syncs to finish")
    assert first.popen.returncode == 0, first.log()[-3000:]
    assert second.popen.returncode == 0, second.log()[-3000:]

    arrivals = [arrived for arrived, _path, _status in recorder.calls]
    assert len(arrivals) > LIMIT, "too few calls to test the window"
    assert busiest_window(arrivals) <= LIMIT
    assert all(status == 200 for _, _, status in recorder.calls)
    # both processes really pulled at once: each made calls in the first window, and the calls
    # past the limit had to wait for the window to move on
    first_call = min(arrivals)
    invoices = [t for t, path, _ in recorder.calls if "/invoices" in path]
    bills = [t for t, path, _ in recorder.calls if "/bills" in path]
    assert min(invoices) < first_call + WINDOW and min(bills) < first_call + WINDOW
    assert max(arrivals) >= first_call + WINDOW

    db = await connect(database_url)
    try:
        runs = await db.fetch("SELECT entity, status, fetched, api_calls FROM tds_sync_runs ORDER BY entity")
    finally:
        await db.close()
    assert [(r["entity"], r["status"]) for r in runs] == [("bills", "succeeded"), ("invoices", "succeeded")]
    assert {r["entity"]: r["fetched"] for r in runs} == {
        "bills": len(list(store.records("bills"))),
        "invoices": len(list(store.records("invoices"))),
    }
    assert sum(r["api_calls"] for r in runs) == len(arrivals)
