"""Acceptance helpers: real ``tds`` processes (API, workers, CLI), a private PostgreSQL cluster,
a webhook load generator and the database checks behind DESIGN.md's guarantees.

Every process started here is killed by a fixture finalizer, even when the test fails, and its
stderr (kept in a file under ``tmp_path``) is attached to the failure report.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from bench.cluster import PrivateCluster

from tds_core.access import api_keys
from tds_core.db import migrate

TERMINAL_OK = ("completed", "skipped_stale", "skipped_unchanged")
TERMINAL = (*TERMINAL_OK, "dead")
LOG_TAIL_LINES = 150
PROCESSES_KEY = pytest.StashKey["Processes"]()


# ---------------------------------------------------------------------------- small helpers
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until(
    predicate: Callable[[], Awaitable[Any]], *, timeout: float, interval: float = 0.05, what: str
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(interval)


async def cancel(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel background tasks a failed test left behind (the event loop outlives the test)."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def connect(url: str) -> asyncpg.Connection:
    connection = await asyncpg.connect(url, timeout=10)
    for name in ("jsonb", "json"):
        await connection.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    return connection


async def set_config(connection: asyncpg.Connection, values: dict[str, Any]) -> None:
    """A new version of each runtime setting (the highest version is the current value)."""
    for key, value in values.items():
        await connection.execute(
            "INSERT INTO tds_configuration (key, version, value, updated_by, note)"
            " SELECT $1, coalesce(max(version), 0) + 1, $2::jsonb, 'acceptance', 'test set-up'"
            " FROM tds_configuration WHERE key = $1",
            key,
            value,
        )
    await connection.execute("SELECT pg_notify('tds_config', 'acceptance')")


async def create_api_key(url: str) -> str:
    connection = await connect(url)
    try:
        return (await api_keys.create(connection, "acceptance")).key
    finally:
        await connection.close()


async def queue_counts(connection: asyncpg.Connection) -> Counter[str]:
    rows = await connection.fetch(
        "SELECT status::text AS status, count(*) AS n FROM tds_sync_queue GROUP BY 1"
    )
    return Counter({r["status"]: r["n"] for r in rows})


async def wait_drained(connection: asyncpg.Connection, expected: int, *, timeout: float) -> None:
    """Until every one of ``expected`` queue rows is finished (no pending/processing left)."""

    async def drained() -> bool:
        counts = await queue_counts(connection)
        busy = counts["pending"] + counts["processing"]
        return busy == 0 and sum(counts.values()) >= expected

    await wait_until(drained, timeout=timeout, interval=0.1, what=f"{expected} events to drain")


# ---------------------------------------------------------------------------- processes
@dataclass
class TdsProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def base_url(self) -> str:
        assert self.port is not None
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def send(self, sig: signal.Signals) -> None:
        if self.alive():
            self.popen.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL (a crash) and reap."""
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    async def wait_exit(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.popen.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} (pid {self.pid}) did not exit within {timeout:.0f}s")
            await asyncio.sleep(0.05)
        return int(self.popen.returncode)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class Processes:
    """Starts ``python -m tds_core ...`` processes and guarantees they are all killed."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[TdsProcess] = []
        self.notes: list[str] = []
        self.extra_env: dict[str, str] = {}
        """Settings every process started from now on gets (``TDS_DB_COMMAND_TIMEOUT``, say)."""

    def env(self, url: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TDS_")}
        env.update(
            TDS_DATABASE_URL=url,
            TDS_LOG_LEVEL=os.environ.get("TDS_ACCEPTANCE_LOG_LEVEL", "WARNING"),
            TDS_LOG_FORMAT="json",
            TDS_ENV="test",
            TDS_HOME=str(self.tmp_path / "home"),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def start(self, name: str, url: str, *args: str, port: int | None = None) -> TdsProcess:
        index = len(self.started)
        log_path = self.tmp_path / f"{index:02d}-{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "tds_core", *args],
                env=self.env(url),
                cwd=self.tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process = TdsProcess(name=name, popen=popen, log_path=log_path, port=port)
        self.started.append(process)
        return process

    async def api(self, url: str) -> TdsProcess:
        port = free_port()
        process = self.start("api", url, "api", "--host", "127.0.0.1", "--port", str(port), port=port)
        await self.wait_ready(process)
        return process

    async def wait_ready(self, process: TdsProcess, timeout: float = 60.0) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:

            async def ready() -> bool:
                if not process.alive():
                    raise AssertionError(f"{process.name} exited early:\n{process.log()[-4000:]}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(f"{process.base_url}/api/v1/ready") as response:
                        return response.status == 200
                return False

            await wait_until(ready, timeout=timeout, interval=0.1, what=f"{process.name} to be ready")

    def worker(self, url: str, concurrency: int = 2) -> TdsProcess:
        return self.start("worker", url, "worker", "--concurrency", str(concurrency))

    async def wait_registered(self, connection: asyncpg.Connection, *workers: TdsProcess) -> dict[int, str]:
        """pid → worker_id, once every worker has registered in ``tds_workers``."""
        pids = [w.pid for w in workers]

        async def registered() -> dict[int, str] | None:
            for worker in workers:
                if not worker.alive():
                    raise AssertionError(f"worker {worker.pid} exited early:\n{worker.log()[-4000:]}")
            rows = await connection.fetch(
                "SELECT pid, worker_id FROM tds_workers WHERE pid = ANY($1::int[]) AND stopped_at IS NULL",
                pids,
            )
            found = {r["pid"]: r["worker_id"] for r in rows}
            return found if len(found) == len(pids) else None

        result: dict[int, str] = await wait_until(
            registered, timeout=60, interval=0.1, what="workers to register"
        )
        return result

    def cli(self, url: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "tds_core", *args],
            env=self.env(url),
            cwd=self.tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.notes.append(
            f"$ tds {' '.join(args)}  -> exit {result.returncode}\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
        return result

    def kill_all(self) -> None:
        for process in self.started:
            process.kill()

    def report(self) -> str:
        parts = []
        for process in self.started:
            lines = process.log().splitlines()[-LOG_TAIL_LINES:]
            state = "running" if process.alive() else f"exit {process.popen.returncode}"
            parts.append(f"===== {process.name} pid {process.pid} ({state}) {process.log_path}")
            parts.extend(lines)
        parts.extend(self.notes)
        return "\n".join(parts)


@pytest.fixture
def tds(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Processes]:
    processes = Processes(tmp_path)
    request.node.stash[PROCESSES_KEY] = processes
    try:
        yield processes
    finally:
        processes.kill_all()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    processes = item.stash.get(PROCESSES_KEY, None)
    if processes is not None and report.failed and call.when in ("call", "setup"):
        report.sections.append(("tds processes (stderr)", processes.report()))
    return report


# ---------------------------------------------------------------------------- a private cluster
@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster()
    try:
        cluster.init()
        cluster.start()

        async def create_database() -> None:
            admin = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres")
            try:
                await admin.execute("CREATE DATABASE tds")
            finally:
                await admin.close()

        asyncio.run(create_database())
        migrate.upgrade(cluster.url)
        yield cluster
    finally:
        cluster.cleanup()


# ---------------------------------------------------------------------------- webhook events
BASE_TIME = datetime(2024, 1, 15, 10, 0, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
ENTITY_TABLES = {
    "items": "products",
    "contacts": "customers",
    "invoices": "invoices",
    "bills": "bills",
    "creditnotes": "credit_notes",
    "pricebooks": "price_lists",
}
LINE_TABLES = {
    "invoices": ("invoice_line_items", "invoice_zoho_id", "line_item_id"),
    "bills": ("bill_line_items", "bill_zoho_id", "line_item_id"),
    "creditnotes": ("credit_note_line_items", "credit_note_zoho_id", "line_item_id"),
    "pricebooks": ("price_list_items", "price_list_zoho_id", "item_id"),
}
ENTITY_TYPES = ("items", "contacts", "invoices", "bills", "creditnotes", "pricebooks", "stock")


def zoho_time(version: int) -> str:
    return (BASE_TIME + timedelta(minutes=version)).strftime("%Y-%m-%dT%H:%M:%S%z")


def _lines(version: int) -> list[dict[str, Any]]:
    return [
        {
            "line_item_id": f"L{k}",
            "item_id": f"ITEM-{k}",
            "name": f"line {k}",
            "quantity": version + k,
            "rate": 2.5,
            "item_total": 2.5 * (version + k),
        }
        for k in range(1 + version % 3)
    ]


def make_record(entity: str, zoho_id: str, version: int) -> dict[str, Any]:
    """Version ``version`` of one entity (its ``last_modified_time`` grows with the version)."""
    stamp = zoho_time(version)
    if entity == "items":
        return {
            "item_id": zoho_id,
            "name": f"Item {zoho_id} v{version}",
            "sku": f"SKU-{zoho_id}",
            "rate": 10 + version,
            "status": "active",
            "last_modified_time": stamp,
        }
    if entity == "contacts":
        return {
            "contact_id": zoho_id,
            "contact_name": f"Contact {zoho_id} v{version}",
            "contact_type": "customer",
            "payment_terms": version,
            "last_modified_time": stamp,
        }
    if entity == "invoices":
        return {
            "invoice_id": zoho_id,
            "invoice_number": f"INV-{zoho_id}",
            "date": "2024-01-15",
            "status": "sent",
            "customer_id": "C1",
            "total": 100 + version,
            "last_modified_time": stamp,
            "line_items": _lines(version),
        }
    if entity == "bills":
        return {
            "bill_id": zoho_id,
            "bill_number": f"BILL-{zoho_id}",
            "date": "2024-01-15",
            "status": "open",
            "vendor_id": "V1",
            "total": 200 + version,
            "last_modified_time": stamp,
            "line_items": _lines(version),
        }
    if entity == "creditnotes":
        return {
            "creditnote_id": zoho_id,
            "creditnote_number": f"CN-{zoho_id}",
            "date": "2024-01-15",
            "status": "open",
            "customer_id": "C1",
            "total": 5 + version,
            "last_modified_time": stamp,
            "line_items": _lines(version),
        }
    if entity == "pricebooks":
        return {
            "pricebook_id": zoho_id,
            "name": f"Prices {zoho_id} v{version}",
            "currency_code": "USD",
            "pricebook_type": "per_item",
            "last_modified_time": stamp,
            "pricebook_items": [
                {"item_id": f"ITEM-{k}", "pricebook_rate": version + k} for k in range(1 + version % 2)
            ],
        }
    if entity == "stock":
        return {
            "item_id": zoho_id,
            "last_modified_time": stamp,
            "locations": [
                {
                    "location_id": f"W{k}",
                    "location_name": f"Warehouse {k}",
                    "location_stock_on_hand": 10 * version + k,
                    "location_available_stock": 10 * version + k,
                }
                for k in (1, 2)
            ],
        }
    raise ValueError(entity)


MODULE_KEYS = {
    "items": "item",
    "contacts": "contact",
    "invoices": "invoice",
    "bills": "bill",
    "creditnotes": "creditnote",
    "pricebooks": "pricebook",
    "stock": "item",
}


@dataclass(frozen=True)
class Delivery:
    entity: str
    zoho_id: str
    version: int
    body: dict[str, Any]
    delete: bool = False

    @property
    def path(self) -> str:
        suffix = "?event=deleted" if self.delete else ""
        return f"/api/v1/webhooks/zoho/{self.entity}{suffix}"


@dataclass
class Workload:
    """Deliveries in sending order, and what the ERP must hold when they are all applied."""

    deliveries: list[Delivery]
    newest: dict[tuple[str, str], Delivery]


def make_workload(total: int, *, seed: int, prefix: str, deletes: bool = True) -> Workload:
    """``total`` distinct events over every entity type, 2-6 versions per entity.

    Every third entity is sent newest-first and the rest in random order, then everything is
    interleaved, so many older versions arrive after newer ones. Some items end deleted."""
    rng = random.Random(seed)
    deliveries: list[list[Delivery]] = []
    newest: dict[tuple[str, str], Delivery] = {}
    count = 0
    number = 0
    while count < total:
        entity = ENTITY_TYPES[number % len(ENTITY_TYPES)]
        zoho_id = f"{prefix}{entity[:2].upper()}{number:05d}"
        versions = min(rng.randint(2, 6), total - count)
        chain = [
            Delivery(entity, zoho_id, v, {MODULE_KEYS[entity]: make_record(entity, zoho_id, v)})
            for v in range(1, versions + 1)
        ]
        if deletes and entity == "items" and versions > 1 and number % 4 == 0:
            last = chain[-1]
            chain[-1] = Delivery(
                entity,
                zoho_id,
                last.version,
                {"item": {"item_id": zoho_id, "last_modified_time": zoho_time(last.version)}},
                delete=True,
            )
        newest[(entity, zoho_id)] = chain[-1]
        if number % 3 == 0:
            chain.reverse()
        else:
            rng.shuffle(chain)
        deliveries.append(chain)
        count += versions
        number += 1
    # Interleave the chains: pop a random chain's next delivery until all are sent.
    ordered: list[Delivery] = []
    pending = [list(chain) for chain in deliveries]
    while pending:
        index = rng.randrange(len(pending))
        ordered.append(pending[index].pop(0))
        if not pending[index]:
            pending.pop(index)
    assert len(ordered) == total
    return Workload(ordered, newest)


# ---------------------------------------------------------------------------- the load generator
@dataclass
class Answer:
    delivery: Delivery
    status: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def event_id(self) -> int:
        return int(self.body["event_id"])


@dataclass
class LoadResult:
    answers: list[Answer]

    @property
    def accepted(self) -> list[Answer]:
        return [a for a in self.answers if a.status == 202]

    @property
    def failed(self) -> list[Answer]:
        return [a for a in self.answers if a.status != 202]

    @property
    def retried(self) -> int:
        return sum(1 for a in self.answers if a.retries)

    def summary(self) -> str:
        statuses = Counter(a.status for a in self.answers)
        errors = Counter(e.split(":")[0] for a in self.answers for e in a.errors)
        return f"statuses={dict(statuses)} retried={self.retried} errors={dict(errors)}"


@contextlib.asynccontextmanager
async def http_session(connections: int = 32) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=15)) as http:
        yield http


async def send_all(
    base_url: str,
    key: str,
    deliveries: list[Delivery],
    *,
    concurrency: int = 32,
    timeout: float = 120.0,
    progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """POST every delivery; a 503 or a connection error is retried (with backoff) until the
    deadline, like a well-behaved webhook sender. Any other answer is final."""
    deadline = time.monotonic() + timeout
    answers = [Answer(d) for d in deliveries]
    queue: asyncio.Queue[Answer] = asyncio.Queue()
    for answer in answers:
        queue.put_nowait(answer)
    done = 0

    async def send(http: aiohttp.ClientSession, answer: Answer) -> None:
        delay = 0.05
        while True:
            try:
                async with http.post(
                    base_url + answer.delivery.path, json=answer.delivery.body, headers={"X-TDS-Key": key}
                ) as response:
                    text = await response.text()
                    if response.status != 503:
                        answer.status = response.status
                        answer.body = json.loads(text) if text.startswith("{") else {"text": text}
                        return
                    answer.errors.append(f"503: {text[:200]}")
            except (aiohttp.ClientError, TimeoutError) as exc:
                answer.errors.append(f"{type(exc).__name__}: {exc}")
            answer.retries += 1
            if time.monotonic() > deadline:
                answer.status = None
                return
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)

    async def run(http: aiohttp.ClientSession) -> None:
        nonlocal done
        while True:
            try:
                answer = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await send(http, answer)
            done += 1
            if progress is not None:
                progress(done)

    async with http_session(concurrency) as http:
        await asyncio.gather(*(run(http) for _ in range(concurrency)))
    return LoadResult(answers)


# ---------------------------------------------------------------------------- guarantee checks
async def check_all_accepted_finished(
    connection: asyncpg.Connection, answers: list[Answer], *, allowed: tuple[str, ...] = TERMINAL_OK
) -> dict[int, str]:
    """Every 2xx'd event has exactly one queue row, and it ended in an ``allowed`` state.
    Returns inbox event id → queue status."""
    event_ids = sorted({a.event_id for a in answers})
    rows = await connection.fetch(
        "SELECT inbox_event_id, id, status::text AS status FROM tds_sync_queue"
        " WHERE inbox_event_id = ANY($1::bigint[])",
        event_ids,
    )
    per_event: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        per_event[row["inbox_event_id"]].append(row["status"])
    missing = [e for e in event_ids if e not in per_event]
    assert not missing, f"{len(missing)} accepted events have no queue row (lost): {missing[:10]}"
    doubled = {e: s for e, s in per_event.items() if len(s) != 1}
    assert not doubled, f"accepted events queued more than once: {list(doubled.items())[:10]}"
    states = {e: s[0] for e, s in per_event.items()}
    wrong = {e: s for e, s in states.items() if s not in allowed}
    assert not wrong, f"{len(wrong)} accepted events did not finish {allowed}: {list(wrong.items())[:10]}"
    return states


async def check_no_busy_rows(connection: asyncpg.Connection) -> None:
    counts = await queue_counts(connection)
    assert counts["pending"] == 0 and counts["processing"] == 0, f"queue not drained: {dict(counts)}"


async def check_applied_once(connection: asyncpg.Connection) -> None:
    """Audit and sync logs prove no event was applied twice.

    - every (queue_id, erp_table, row_key) has one audit row, and only completed events have any;
    - every finished queue row has exactly one terminal sync-log row, matching its state
      (a dead-lettered and replayed event: one ``dead`` and one final outcome);
    - no queue row has two ``completed`` log rows."""
    doubled_audit = await connection.fetch(
        "SELECT queue_id, erp_table, row_key, count(*) AS n FROM tds_audit_trail"
        " GROUP BY 1, 2, 3 HAVING count(*) > 1 LIMIT 10"
    )
    assert not doubled_audit, f"audit rows written twice: {[dict(r) for r in doubled_audit]}"
    audit_not_completed = await connection.fetch(
        "SELECT a.queue_id, q.status::text AS status FROM tds_audit_trail a"
        " JOIN tds_sync_queue q ON q.id = a.queue_id WHERE q.status <> 'completed' LIMIT 10"
    )
    assert not audit_not_completed, (
        f"audit rows for events not completed: {[dict(r) for r in audit_not_completed]}"
    )
    completed_without_audit = await connection.fetch(
        "SELECT q.id FROM tds_sync_queue q WHERE q.status = 'completed'"
        " AND NOT EXISTS (SELECT 1 FROM tds_audit_trail a WHERE a.queue_id = q.id) LIMIT 10"
    )
    assert not completed_without_audit, (
        f"completed events without an audit row: {[r['id'] for r in completed_without_audit]}"
    )
    bad_logs = await connection.fetch(
        """
        WITH finals AS (
            SELECT queue_id,
                   count(*) FILTER (WHERE outcome IN ('completed', 'skipped_stale', 'skipped_unchanged'))
                       AS finished,
                   count(*) FILTER (WHERE outcome = 'completed') AS completed,
                   count(*) FILTER (WHERE outcome = 'dead') AS dead,
                   count(*) FILTER (WHERE outcome = 'replayed') AS replayed,
                   (array_agg(outcome ORDER BY id) FILTER (
                       WHERE outcome IN ('completed', 'skipped_stale', 'skipped_unchanged', 'dead')))
                       AS outcomes
            FROM tds_sync_logs GROUP BY queue_id
        )
        SELECT q.id, q.status::text AS status, f.finished, f.completed, f.dead, f.replayed, f.outcomes
        FROM tds_sync_queue q LEFT JOIN finals f ON f.queue_id = q.id
        WHERE q.status IN ('completed', 'skipped_stale', 'skipped_unchanged', 'dead')
          AND (f.queue_id IS NULL
               OR f.completed > 1
               OR f.finished + f.dead <> 1 + f.replayed
               OR f.outcomes[array_upper(f.outcomes, 1)] <> q.status::text)
        LIMIT 10
        """
    )
    assert not bad_logs, f"sync logs do not show exactly one terminal outcome: {[dict(r) for r in bad_logs]}"


async def check_erp_newest(connection: asyncpg.Connection, newest: dict[tuple[str, str], Delivery]) -> None:
    """The ERP holds exactly the newest version of every entity (deletes as tombstones)."""
    problems: list[str] = []
    by_entity: dict[str, dict[str, Delivery]] = defaultdict(dict)
    for (entity, zoho_id), delivery in newest.items():
        by_entity[entity][zoho_id] = delivery
    for entity, expected in by_entity.items():
        if entity == "stock":
            rows = await connection.fetch(
                "SELECT item_zoho_id, location_id, data, source_version, deleted_at FROM stock_levels"
                " WHERE item_zoho_id = ANY($1::text[])",
                list(expected),
            )
            held = {(r["item_zoho_id"], r["location_id"]): r for r in rows}
            for zoho_id, delivery in expected.items():
                record = delivery.body["item"]
                for location in record["locations"]:
                    row = held.get((zoho_id, location["location_id"]))
                    if row is None or row["data"] != location or row["deleted_at"] is not None:
                        problems.append(f"stock {zoho_id}/{location['location_id']}: {row and dict(row)}")
                    elif row["source_version"] != BASE_TIME + timedelta(minutes=delivery.version):
                        problems.append(f"stock {zoho_id}: version {row['source_version']}")
            continue
        table = ENTITY_TABLES[entity]
        rows = await connection.fetch(
            f"SELECT zoho_id, data, source_version, deleted_at FROM {table} WHERE zoho_id = ANY($1::text[])",
            list(expected),
        )
        held_rows = {r["zoho_id"]: r for r in rows}
        lines: dict[str, set[str]] = defaultdict(set)
        if entity in LINE_TABLES:
            line_table, parent, key = LINE_TABLES[entity]
            for r in await connection.fetch(
                f"SELECT {parent} AS parent, {key} AS key FROM {line_table} WHERE {parent} = ANY($1::text[])",
                list(expected),
            ):
                lines[r["parent"]].add(r["key"])
        for zoho_id, delivery in expected.items():
            row = held_rows.get(zoho_id)
            version = BASE_TIME + timedelta(minutes=delivery.version)
            if row is None:
                problems.append(f"{entity} {zoho_id}: missing")
                continue
            if row["source_version"] != version:
                problems.append(f"{entity} {zoho_id}: version {row['source_version']} != {version}")
            if delivery.delete:
                if row["deleted_at"] is None:
                    problems.append(f"{entity} {zoho_id}: not deleted")
                continue
            record = delivery.body[MODULE_KEYS[entity]]
            if row["deleted_at"] is not None or row["data"] != record:
                problems.append(f"{entity} {zoho_id}: holds {row['data']} not v{delivery.version}")
            if entity in LINE_TABLES:
                _, _, key = LINE_TABLES[entity]
                source = "pricebook_items" if entity == "pricebooks" else "line_items"
                want = {line[key] for line in record[source]}
                if lines[zoho_id] != want:
                    problems.append(f"{entity} {zoho_id}: lines {sorted(lines[zoho_id])} != {sorted(want)}")
    assert not problems, f"{len(problems)} ERP rows are not at their newest version: {problems[:10]}"
