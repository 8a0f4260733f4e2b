"""The admin API's read side: the queue (filters, search, keyset pages, summary), the trace of one
event from inbox to ERP row or dead letter, and an entity's audit history with diffs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, get_args

import httpx
import orjson
import pytest

from tds_core.api.schemas import EntitySlug
from tds_core.db.queries import QUERIES
from tds_core.domain.entities import ENTITIES, ENTITY_SLUGS
from tds_core.domain.states import QueueState

from . import samples
from .conftest import Send

Headers = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
async def viewer(auth_headers: Headers) -> dict[str, str]:
    return await auth_headers("viewer")


async def accepted(response: httpx.Response) -> int:
    assert response.status_code == 202, response.text
    event_id: int = response.json()["event_id"]
    return event_id


# ---------------------------------------------------------------------------- the queue
QUEUE_ROW = (
    "INSERT INTO tds_sync_queue (entity, zoho_id, operation, source_version, content_hash, payload, status,"
    " last_error, attempt_history, finished_at) VALUES ($1, $2, 'upsert', now(), 'h', '{}',"
    " $3::text::tds_queue_state, $4, $5::jsonb, CASE WHEN $3::text IN ('completed', 'dead') THEN now() END)"
    " RETURNING id"
)


@pytest.fixture
async def queue_rows(pool: Any) -> dict[str, int]:
    """Seven rows in a known order; returns zoho id → queue id."""
    rows = [
        ("items", "A1", "completed", None, []),
        ("items", "A2", "pending", "connection reset by peer", [{"attempt": 1, "error": "connection reset"}]),
        ("invoices", "INV-9", "dead", "ERP trigger refuses invoice", [{"attempt": 1, "error": "refuses"}]),
        ("contacts", "C-77", "completed", None, [{"attempt": 1, "error": "Deadlock detected", "class": "x"}]),
        ("items", "b-lower", "pending", None, []),
        ("bills", "B-1", "skipped_stale", None, []),
        ("stock", "A1", "completed", None, []),
    ]
    ids: dict[str, int] = {}
    for entity, zoho_id, status, error, history in rows:
        queue_id = await pool.fetchval(
            QUEUE_ROW, entity, zoho_id, status, error, orjson.dumps(history).decode()
        )
        ids[f"{entity}/{zoho_id}"] = queue_id
    return ids


async def listed(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = await client.get("/api/v1/queue", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [f"{r['entity']}/{r['zoho_id']}" for r in response.json()["items"]]


async def test_queue_is_listed_newest_first_and_filtered(
    client: httpx.AsyncClient, viewer: dict[str, str], queue_rows: dict[str, int]
) -> None:
    everything = list(reversed(queue_rows))
    assert await listed(client, viewer) == everything
    assert await listed(client, viewer, state="pending") == ["items/b-lower", "items/A2"]
    assert await listed(client, viewer, entity="items") == ["items/b-lower", "items/A2", "items/A1"]
    assert await listed(client, viewer, zoho_id="A1") == ["stock/A1", "items/A1"]
    assert await listed(client, viewer, zoho_id="A1", entity="stock") == ["stock/A1"]
    # search: case-insensitive text in the Zoho id, the last error, or an earlier attempt's error
    assert await listed(client, viewer, search="inv-") == ["invoices/INV-9"]
    assert await listed(client, viewer, search="B-LOWER") == ["items/b-lower"]
    assert await listed(client, viewer, search="peer") == ["items/A2"]
    assert await listed(client, viewer, search="deadlock") == ["contacts/C-77"]
    assert await listed(client, viewer, search="refuses", state="dead") == ["invoices/INV-9"]
    assert await listed(client, viewer, search="refuses", state="completed") == []
    assert await listed(client, viewer, search="%") == []  # no wildcards: plain text

    response = await client.get("/api/v1/queue", params={"state": "pending"}, headers=viewer)
    row = response.json()["items"][0]
    assert row["id"] == queue_rows["items/b-lower"] and row["status"] == "pending" and row["attempts"] == 0
    assert row["last_error"] is None and row["next_attempt_at"] and row["finished_at"] is None
    assert "payload" not in row


async def test_queue_pages_chain_without_gaps_or_repeats(
    client: httpx.AsyncClient, viewer: dict[str, str], queue_rows: dict[str, int]
) -> None:
    seen: list[int] = []
    before: int | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if before is not None:
            params["before_id"] = before
        page = (await client.get("/api/v1/queue", params=params, headers=viewer)).json()
        pages += 1
        seen += [r["id"] for r in page["items"]]
        before = page["next_before_id"]
        if before is None:
            break
        assert before == page["items"][-1]["id"]
    assert seen == sorted(queue_rows.values(), reverse=True)
    assert pages == 3


async def test_bad_queue_parameters_are_422_in_the_error_shape(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    for params in (
        {"state": "finished"},
        {"entity": "widgets"},
        {"limit": 0},
        {"limit": 501},
        {"before_id": 0},
        {"before_id": 2**63},
        {"search": "a\x00b"},
    ):
        response = await client.get("/api/v1/queue", params=params, headers=viewer)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"] == "invalid request" and response.json()["reasons"]
    assert (await client.get("/api/v1/queue")).status_code == 401


async def test_queue_summary_counts_every_state_and_entity(
    client: httpx.AsyncClient, viewer: dict[str, str], queue_rows: dict[str, int]
) -> None:
    response = await client.get("/api/v1/queue/summary", headers=viewer)
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["total"] == 7
    assert summary["by_state"] == {
        "pending": 2,
        "processing": 0,
        "completed": 3,
        "skipped_stale": 1,
        "skipped_unchanged": 0,
        "dead": 1,
        "held": 0,
    }
    assert set(summary["by_entity"]) == set(ENTITY_SLUGS)
    assert summary["by_entity"]["items"] == {
        **dict.fromkeys(summary["by_state"], 0),
        "pending": 2,
        "completed": 1,
    }
    assert summary["by_entity"]["pricebooks"] == dict.fromkeys(summary["by_state"], 0)
    assert summary["oldest_pending_at"] is not None


# ---------------------------------------------------------------------------- traces
async def test_an_event_is_traced_from_inbox_to_erp_row_with_its_diff(
    client: httpx.AsyncClient, webhook: Send, api_key: str, pool: Any, drain: Any, viewer: dict[str, str]
) -> None:
    invoice = samples.invoice()
    signature = "f" * 64
    first = await accepted(
        await webhook(
            "invoices",
            {"invoice": invoice},
            event="created",
            headers={
                "X-Request-Id": "req-1",
                "X-Idempotency-Key": "idem-1",
                "X-Zoho-Webhook-Signature": signature,
            },
        )
    )
    await drain()
    stored = await pool.fetchval("SELECT headers FROM tds_inbox_events WHERE id = $1", first)
    assert stored["x-zoho-webhook-signature"] == signature  # kept in the inbox ...

    response = await client.get(f"/api/v1/events/{first}", headers=viewer)
    assert response.status_code == 200, response.text
    assert signature not in response.text and api_key not in response.text  # ... never shown
    trace = response.json()
    assert trace["outcome"] == "completed"
    inbox = trace["inbox"]
    assert (inbox["id"], inbox["entity"], inbox["status"], inbox["operation"]) == (
        first,
        "invoices",
        "queued",
        "created",
    )
    assert inbox["idempotency_key"].endswith("idem-1") and inbox["correlation_id"] == "req-1"
    assert "x-zoho-webhook-signature" not in inbox["headers"] and inbox["headers"]["x-request-id"] == "req-1"
    assert orjson.loads(inbox["body"]) == {"invoice": invoice}
    assert inbox["body_truncated"] is False and inbox["body_size"] == len(inbox["body"])
    [queue] = trace["queue"]
    assert (queue["inbox_event_id"], queue["status"], queue["attempts"], queue["zoho_id"]) == (
        first,
        "completed",
        1,
        "982000000567114",
    )
    assert queue["payload"]["invoice_number"] == "INV-00003" and queue["attempt_history"] == []
    assert [(log["queue_id"], log["outcome"]) for log in trace["logs"]] == [(queue["id"], "completed")]
    [audit] = trace["audit"]
    assert (audit["action"], audit["erp_table"], audit["queue_id"]) == ("insert", "invoices", queue["id"])
    changes = {c["field"]: c for c in audit["changes"]}
    assert changes["invoice_number"] == {"field": "invoice_number", "before": None, "after": "INV-00003"}
    assert changes["total"]["after"] == "210"
    assert changes["data.line_items[982000000567021]"]["before"] is None
    assert "synced_at" not in changes and "content_hash" not in changes and "data.invoice_id" not in changes
    erp = trace["erp"]
    assert (erp["erp_table"], erp["exists"], erp["deleted"]) == ("invoices", True, False)
    assert erp["rows"][0]["invoice_number"] == "INV-00003" and "id" not in erp["rows"][0]
    assert [line["line_item_id"] for line in erp["lines"]] == ["982000000567021", "982000000567022"]
    assert trace["dead_letters"] == []

    # The same trace from the queue row's side.
    by_queue = await client.get(f"/api/v1/queue/{queue['id']}", headers=viewer)
    assert by_queue.status_code == 200 and by_queue.json() == trace

    # An update: one changed column, one changed line, one removed, one added.
    lines = invoice["line_items"]
    changed_line = {**lines[1], "quantity": 2, "item_total": 150.0}
    new_line = {"line_item_id": "L3", "name": "Cable", "rate": 5, "quantity": 1, "item_total": 5}
    update = {
        **invoice,
        "total": 250,
        "line_items": [changed_line, new_line],
        "last_modified_time": "2013-11-19T09:00:00-0800",
    }
    second = await accepted(await webhook("invoices", {"invoice": update}, event="updated"))
    await drain()
    trace = (await client.get(f"/api/v1/events/{second}", headers=viewer)).json()
    [audit] = trace["audit"]
    assert audit["action"] == "update"
    changes = {c["field"]: c for c in audit["changes"]}
    # exactly these: equal values written differently (12.5 and "12.50", timestamps) are no change
    assert set(changes) == {
        "total",
        "source_version",
        "data.last_modified_time",
        "data.line_items[982000000567022]",
        "data.line_items[L3]",
        "data.line_items[982000000567021]",
    }
    assert (changes["total"]["before"], changes["total"]["after"]) == ("210", "250")
    assert changes["source_version"] == {
        "field": "source_version",
        "before": "2013-11-18T10:02:51+00:00",
        "after": "2013-11-19T17:00:00+00:00",
    }
    assert changes["data.line_items[982000000567022]"]["before"] == lines[1]
    assert changes["data.line_items[982000000567022]"]["after"] == changed_line
    assert changes["data.line_items[L3]"] == {
        "field": "data.line_items[L3]",
        "before": None,
        "after": new_line,
    }
    assert changes["data.line_items[982000000567021]"]["after"] is None
    assert [line["line_item_id"] for line in trace["erp"]["lines"]] == ["982000000567022", "L3"]


async def test_a_dead_lettered_event_is_traced_to_its_dead_letter(
    client: httpx.AsyncClient, webhook: Send, pool: Any, drain: Any, viewer: dict[str, str]
) -> None:
    await pool.execute(
        """
        CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'ERP trigger refuses product %', NEW.zoho_id; END $$;
        CREATE TRIGGER test_poison BEFORE INSERT OR UPDATE ON products
            FOR EACH ROW WHEN (NEW.zoho_id = 'POISON-1') EXECUTE FUNCTION test_poison();
        INSERT INTO tds_configuration (key, version, value, updated_by)
        VALUES ('worker.max_attempts', 2, '2', 'tests'), ('retry.backoff_base_seconds', 2, '0', 'tests');
        """
    )
    event = await accepted(await webhook("items", {"item": samples.item(item_id="POISON-1")}))
    await drain()
    trace = (await client.get(f"/api/v1/events/{event}", headers=viewer)).json()
    assert trace["outcome"] == "dead"
    [queue] = trace["queue"]
    assert (queue["status"], queue["attempts"]) == ("dead", 2)
    assert [h["attempt"] for h in queue["attempt_history"]] == [1, 2]
    assert all("ERP trigger refuses product POISON-1" in h["error"] for h in queue["attempt_history"])
    assert [(log["outcome"], log["attempt"]) for log in trace["logs"]] == [("retry", 1), ("dead", 2)]
    assert trace["audit"] == []
    assert trace["erp"] == {
        "erp_table": "products",
        "exists": False,
        "deleted": False,
        "rows": [],
        "lines": [],
    }
    [letter] = trace["dead_letters"]
    assert (letter["queue_id"], letter["inbox_event_id"], letter["status"], letter["attempts"]) == (
        queue["id"],
        event,
        "open",
        2,
    )
    assert "ERP trigger refuses product POISON-1" in letter["error"]
    assert [(line["outcome"], line["attempt"]) for line in trace["logs"]] == [("retry", 1), ("dead", 2)]
    # found again through the queue filters
    page = (
        await client.get("/api/v1/queue", params={"state": "dead", "search": "poison"}, headers=viewer)
    ).json()
    assert [r["id"] for r in page["items"]] == [queue["id"]]


async def test_a_rejected_event_and_a_large_body_are_traced(
    client: httpx.AsyncClient, webhook: Send, viewer: dict[str, str]
) -> None:
    rejected = await webhook("invoices", {"invoice": samples.invoice(date="17/11/2013")})
    assert rejected.status_code == 422, rejected.text
    trace = (await client.get(f"/api/v1/events/{rejected.json()['event_id']}", headers=viewer)).json()
    assert trace["outcome"] == "rejected" and trace["queue"] == [] and trace["logs"] == []
    assert any("date" in reason for reason in trace["inbox"]["rejection_reasons"])

    big = samples.item(description="x" * 100_000)
    event = await accepted(await webhook("items", {"item": big}))
    inbox = (await client.get(f"/api/v1/events/{event}", headers=viewer)).json()["inbox"]
    assert inbox["body_truncated"] is True and inbox["body_size"] > 100_000
    assert len(inbox["body"].encode()) == 64 * 1024


async def test_unknown_events_and_queue_rows_are_404(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    for path, error in (
        ("/api/v1/events/424242", "no event 424242"),
        ("/api/v1/queue/424242", "no queue row 424242"),
    ):
        response = await client.get(path, headers=viewer)
        assert response.status_code == 404, response.text
        assert response.json() == {"error": error, "reasons": [error]}
    for path in ("/api/v1/events/0", f"/api/v1/events/{2**63}", "/api/v1/queue/x"):
        assert (await client.get(path, headers=viewer)).status_code == 422
    assert (await client.get("/api/v1/events/1")).status_code == 401


# ---------------------------------------------------------------------------- entity history
async def test_entity_history_shows_the_tombstone_and_every_change_newest_first(
    client: httpx.AsyncClient, webhook: Send, drain: Any, viewer: dict[str, str]
) -> None:
    item = samples.item()
    zoho_id = item["item_id"]
    await accepted(await webhook("items", {"item": item}))
    await drain()
    renamed = {**item, "name": "USB-C Cable 1m (braided)", "last_modified_time": "2024-02-01T09:00:00+0530"}
    await accepted(await webhook("items", {"item": renamed}))
    await drain()
    await accepted(await webhook("items", {"item": {"item_id": zoho_id}}, event="deleted"))
    await drain()

    response = await client.get(f"/api/v1/entities/items/{zoho_id}", headers=viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    current = body["current"]
    assert (body["entity"], body["zoho_id"], current["erp_table"]) == ("items", zoho_id, "products")
    assert current["exists"] is True and current["deleted"] is True
    [row] = current["rows"]
    assert (
        row["deleted_at"] is not None and row["name"] == "USB-C Cable 1m (braided)"
    )  # a tombstone keeps the row
    history = body["history"]
    assert [h["action"] for h in history] == ["delete", "update", "insert"]
    assert history[0]["id"] > history[1]["id"] > history[2]["id"]
    deleted, updated, inserted = ({c["field"]: c for c in h["changes"]} for h in history)
    assert set(deleted) == {"deleted_at", "source_version"} and deleted["deleted_at"]["before"] is None
    assert set(updated) == {"name", "source_version", "data.last_modified_time"}
    assert updated["name"] == {
        "field": "name",
        "before": "USB-C Cable 1m",
        "after": "USB-C Cable 1m (braided)",
    }
    assert inserted["rate"] == {"field": "rate", "before": None, "after": "12.5"}
    assert inserted["data.locations"]["after"] == item["locations"]
    assert "name" in inserted and "deleted_at" not in inserted and "synced_at" not in inserted
    assert body["next_before_id"] is None

    # one change per page, older pages by before_id
    first = (
        await client.get(f"/api/v1/entities/items/{zoho_id}", params={"limit": 1}, headers=viewer)
    ).json()
    assert [h["action"] for h in first["history"]] == ["delete"]
    assert first["next_before_id"] == history[0]["id"]
    second = (
        await client.get(
            f"/api/v1/entities/items/{zoho_id}",
            params={"limit": 1, "before_id": first["next_before_id"]},
            headers=viewer,
        )
    ).json()
    assert [h["action"] for h in second["history"]] == ["update"]


async def test_stock_history_has_one_row_per_location(
    client: httpx.AsyncClient, webhook: Send, drain: Any, viewer: dict[str, str]
) -> None:
    item = samples.item()
    await accepted(await webhook("stock", {"item": item}))
    await drain()
    body = (await client.get(f"/api/v1/entities/stock/{item['item_id']}", headers=viewer)).json()
    current = body["current"]
    assert (current["erp_table"], current["exists"], current["deleted"]) == ("stock_levels", True, False)
    assert sorted(r["location_id"] for r in current["rows"]) == ["460000000038080", "460000000038099"]
    assert sorted(h["row_key"] for h in body["history"]) == [
        f"{item['item_id']}/460000000038080",
        f"{item['item_id']}/460000000038099",
    ]
    changes = {c["field"]: c["after"] for c in body["history"][-1]["changes"]}
    assert changes["stock_on_hand"] == "340" and changes["location_name"] == "Main Warehouse"
    assert "data.location_stock_on_hand" not in changes and "data.is_primary" in changes


async def test_unknown_entities_and_instances_are_404(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    response = await client.get("/api/v1/entities/widgets/1", headers=viewer)
    assert response.status_code == 404
    assert response.json()["error"] == (
        "unknown entity 'widgets': expected one of items, contacts, invoices, bills, creditnotes, stock,"
        " pricebooks"
    )
    response = await client.get("/api/v1/entities/items/NOPE", headers=viewer)
    assert response.status_code == 404
    assert response.json()["error"] == "no items record 'NOPE': no ERP row and no audit history"


# ---------------------------------------------------------------------------- names kept in step
def test_the_entity_filter_names_every_entity() -> None:
    assert get_args(EntitySlug) == ENTITY_SLUGS
    assert {state.value for state in QueueState} == {
        "pending",
        "processing",
        "completed",
        "skipped_stale",
        "skipped_unchanged",
        "dead",
        "held",
    }


def test_the_erp_read_queries_cover_every_entity_table() -> None:
    rows, lines = QUERIES.erp_rows_for_instance, QUERIES.erp_lines_for_instance
    for spec in ENTITIES.values():
        assert f"FROM {spec.table} t WHERE $1::text = '{spec.slug}'" in " ".join(rows.split()), spec.slug
        if spec.lines is not None:
            assert f"FROM {spec.lines.table} t WHERE $1::text = '{spec.slug}'" in " ".join(lines.split())
