"""Each entity's pull plan says which mapped columns its list rows lack, and fetches records by
id exactly when some are lacking: checked against the list and GET shapes the simulator serves
(they follow the recordings of ``zoho-books-reference.md`` section 10). And the run states the
puller writes are the ones the database allows."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from tds_core.domain.entities import ENTITIES
from tds_core.simulator.endpoints import BY_PATH
from tds_core.simulator.store import Store
from tds_core.simulator.views import ViewOptions
from tds_core.source.pull import RUN_STATUSES, plan_for

BOOKS = ("items", "contacts", "invoices", "bills", "creditnotes")


def _fields(records: list[dict[str, Any]]) -> set[str]:
    return {name for record in records for name in record}


def test_detail_gets_are_planned_exactly_where_list_rows_lack_mapped_columns() -> None:
    store = Store(seed=3)
    store.seed(12)
    options = ViewOptions(today=date(2026, 3, 10))
    for entity in BOOKS:
        spec = ENTITIES[entity]
        endpoint = BY_PATH[("books", entity)]
        records = list(store.records(entity))
        rows = _fields([endpoint.row(r, options) for r in records])
        details = _fields([endpoint.detail(r, options) for r in records])
        mapped = {c.source for c in spec.columns} | ({spec.lines.source_list} if spec.lines else set())
        # what a GET gives that the list row does not (a column neither carries is no reason)
        lacking = (mapped & details) - rows
        plan = plan_for(entity)
        assert set(plan.list_lacks) == lacking, entity
        assert plan.detail == bool(lacking), entity
    assert plan_for("contacts").list_lacks == ("credit_limit", "pricebook_id")
    assert not plan_for("items").detail and not plan_for("stock", use_inventory=True).detail
    assert not plan_for("pricebooks").detail


def test_every_list_asks_for_all_records() -> None:
    for entity in ENTITIES:
        plan = plan_for(entity, use_inventory=entity in ("stock", "pricebooks"))
        expected = "SalesOrPurchaseType.All" if entity == "pricebooks" else "Status.All"
        assert plan.params.get("filter_by") == expected, entity


async def test_the_run_states_match_the_database_check(pool: Any) -> None:
    check = await pool.fetchval(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'tds_sync_runs_status_check'"
    )
    assert set(re.findall(r"'(\w+)'", check)) == set(RUN_STATUSES)
