"""Conflict policies in the runtime configuration are validated (real data columns only, never keys,
versions or hashes), the diff compares values across their JSON forms, and the alert rule fires
when held conflicts wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from tds_core.alerts.numbers import Snapshot
from tds_core.alerts.rules import RULES_BY_NAME, evaluate
from tds_core.config.runtime import RuntimeConfig
from tds_core.domain.conflicts import ConflictPolicy, Policy, diff
from tds_core.domain.entities import ENTITIES

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def policies(value: dict[str, object]) -> RuntimeConfig:
    return RuntimeConfig.model_validate({"conflicts__policies": value})


def test_default_is_source_wins_for_every_entity() -> None:
    config = RuntimeConfig()
    assert {config.conflict_policy(e) for e in ENTITIES} == {ConflictPolicy()}
    assert ConflictPolicy().policy is Policy.SOURCE_WINS


def test_valid_policies() -> None:
    config = policies(
        {
            "items": {"policy": "preserve_columns", "columns": ["reorder_level", "description"]},
            "invoices": {"policy": "hold"},
            "stock": {"policy": "preserve_columns", "columns": ["location_name"]},
        }
    )
    assert config.conflict_policy("items") == ConflictPolicy(
        Policy.PRESERVE_COLUMNS, frozenset({"reorder_level", "description"})
    )
    assert config.conflict_policy("items").preserved == {"reorder_level", "description"}
    assert config.conflict_policy("invoices").preserved == frozenset()
    assert config.conflict_policy("contacts") == ConflictPolicy()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"widgets": {"policy": "hold"}}, "'widgets' is not an entity type"),
        ({"items": {"policy": "ask"}}, "Input should be 'source_wins', 'preserve_columns' or 'hold'"),
        ({"items": {"policy": "preserve_columns"}}, "needs at least one column"),
        ({"items": {"policy": "preserve_columns", "columns": ["zoho_id"]}}, "'zoho_id' not data columns"),
        (
            {"items": {"policy": "preserve_columns", "columns": ["tds_written"]}},
            "not data columns of products",
        ),
        ({"items": {"policy": "preserve_columns", "columns": ["content_hash"]}}, "never preserved"),
        ({"stock": {"policy": "preserve_columns", "columns": ["location_id"]}}, "not data columns"),
        ({"items": {"policy": "preserve_columns", "columns": ["sku", "sku"]}}, "named twice"),
        ({"items": {"policy": "hold", "columns": ["sku"]}}, "only for preserve_columns"),
        (
            {"invoices": {"policy": "preserve_columns", "columns": ["status", "line_items"]}},
            "invoices: 'line_items' cannot be preserved: the lines are replaced as a whole",
        ),
        (
            {"items": {"policy": "preserve_columns", "columns": ["line_items"]}},
            "not data columns of products",
        ),
        ({"items": {"policy": "hold", "extra": 1}}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_policies_are_refused_with_the_reason(value: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        policies(value)


def test_diff_compares_values_across_json_forms() -> None:
    spec = ENTITIES["items"]
    rows = diff(
        spec,
        {"name": "Local", "rate": 12.5, "reorder_level": 50},
        {"name": "Zoho", "rate": "12.50", "reorder_level": "50"},
        {"name": "Zoho", "rate": 12.5},
        ["name"],
        frozenset({"reorder_level"}),
    )
    by_column = {row["column"]: row for row in rows}
    assert [row["column"] for row in rows] == [c.name for c in spec.columns]
    assert (by_column["name"]["differs"], by_column["name"]["changed_locally"]) == (True, True)
    assert (by_column["rate"]["differs"], by_column["reorder_level"]["differs"]) == (False, False)
    assert by_column["reorder_level"]["preserved"]
    deleted = diff(spec, {"name": "Local"}, None, None, [])
    assert not any(row["differs"] for row in deleted)


def test_diff_shows_lines_changed_outside_tds() -> None:
    spec = ENTITIES["invoices"]
    local = {"status": "sent", "line_items": [{"line_item_id": "L1", "rate": 120, "quantity": 5}]}
    source = {"status": "sent", "line_items": [{"line_item_id": "L1", "rate": "120", "quantity": "1"}]}
    rows = diff(spec, local, source, {"status": "sent"}, ["line_items"])
    assert [row["column"] for row in rows] == [*(c.name for c in spec.columns), "line_items"]
    lines = rows[-1]
    assert (lines["local"], lines["source"], lines["written"]) == (
        local["line_items"],
        source["line_items"],
        None,
    )
    assert (lines["changed_locally"], lines["differs"], lines["preserved"]) == (True, True, False)
    # the same lines in another JSON form do not differ; a delete (no source) writes none
    same = {"line_items": [{"line_item_id": "L1", "rate": "120.00", "quantity": "5"}]}
    assert not diff(spec, local, same, None, ["line_items"])[-1]["differs"]
    assert not diff(spec, local, None, None, ["line_items"])[-1]["differs"]
    # lines not changed outside TDS: no row for them
    assert [row["column"] for row in diff(spec, local, source, None, ["status"])][-1] == "balance"


def test_conflicts_open_rule() -> None:
    config = RuntimeConfig()
    assert evaluate(Snapshot(at=NOW), config).conditions == ()
    oldest = NOW - timedelta(hours=2)
    (condition,) = evaluate(Snapshot(at=NOW, conflicts_open=2, conflicts_oldest_at=oldest), config).conditions
    assert (condition.rule, condition.fingerprint, condition.since) == (
        "conflicts_open",
        "conflicts_open",
        oldest,
    )
    assert condition.details == {"open": 2, "oldest_at": oldest.isoformat()}
    raised = config.model_copy(update={"alerts__conflicts_open": 3})
    assert evaluate(Snapshot(at=NOW, conflicts_open=2), raised).conditions == ()
    assert RULES_BY_NAME["conflicts_open"].thresholds(raised) == {"conflicts_open": 3}
