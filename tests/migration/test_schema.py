"""Migrating from empty gives the declared schema: tds_ tables, ERP tables from the entity specs,
views, functions, indexes, the queue-state enum, and an append-only audit trail."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from tds_core.config.runtime import RuntimeConfig
from tds_core.db import migrate
from tds_core.domain.entities import ENTITIES, EntitySpec
from tds_core.domain.states import JobKind, JobState, QueueState

TDS_TABLES = {
    "tds_inbox_events",
    "tds_sync_queue",
    "tds_sync_runs",
    "tds_sync_logs",
    "tds_dead_letter_queue",
    "tds_sync_cursors",
    "tds_audit_trail",
    "tds_alerts",
    "tds_metrics",
    "tds_configuration",
    "tds_api_keys",
    "tds_workers",
    "tds_api_usage",
    "tds_zoho_quota",
    "tds_zoho_inflight",
    "tds_users",
    "tds_operator_actions",
    "tds_jobs",
    "tds_alert_deliveries",
    "tds_alert_silences",
    "tds_metric_totals",
    "tds_metric_histograms",
    "tds_metric_rollup",
    "tds_conflicts",
    "tds_reports",
    "tds_secrets",
}
VIEWS = {"tds_v_queue_status", "tds_v_sync_health", "tds_v_dlq_summary"}
VERSION_COLUMNS = {
    "data": "jsonb",
    "source_version": "timestamp with time zone",
    "content_hash": "text",
    "deleted_at": "timestamp with time zone",
    "synced_at": "timestamp with time zone",
}


def fetch(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(sql, params).fetchall()  # type: ignore[arg-type]


def columns(url: str, table: str) -> dict[str, str]:
    rows = fetch(
        url,
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = %s",
        table,
    )
    return dict(rows)  # type: ignore[arg-type]


def key_columns(url: str, table: str, kind: str) -> list[set[str]]:
    """Column sets of the table's primary key ('p') or unique constraints/indexes ('u')."""
    rows = fetch(
        url,
        """
        SELECT i.indexrelid, array_agg(a.attname::text)
        FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = %s::regclass AND (CASE WHEN %s = 'p' THEN i.indisprimary ELSE i.indisunique END)
          AND i.indpred IS NULL
        GROUP BY i.indexrelid
        """,
        table,
        kind,
    )
    return [set(names) for _, names in rows]


def test_migrated_to_head(migrated_url: str) -> None:
    assert migrate.current_revision(migrated_url) == migrate.head_revision()


def test_all_tds_tables(migrated_url: str) -> None:
    rows = fetch(
        migrated_url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        " AND table_type = 'BASE TABLE' AND table_name LIKE 'tds\\_%%'",
    )
    assert {r[0] for r in rows} == TDS_TABLES


@pytest.mark.parametrize("spec", [s for s in ENTITIES.values() if not s.is_stock], ids=lambda s: s.table)
def test_entity_table_matches_its_spec(migrated_url: str, spec: EntitySpec) -> None:
    actual = columns(migrated_url, spec.table)
    expected = {
        "zoho_id": "text",
        **{c.name: c.sql_type for c in spec.columns},
        **VERSION_COLUMNS,
        "tds_written": "jsonb",
        # what TDS last wrote of the lines (a digest), on the parent of line items only
        **({"tds_lines_written": "text"} if spec.lines else {}),
    }
    assert {name: actual.get(name) for name in expected} == expected
    assert spec.lines is not None or "tds_lines_written" not in actual
    assert {"zoho_id"} in key_columns(migrated_url, spec.table, "u")


@pytest.mark.parametrize("spec", [s for s in ENTITIES.values() if s.lines], ids=lambda s: s.lines.table)  # type: ignore[union-attr]
def test_line_table_matches_its_spec(migrated_url: str, spec: EntitySpec) -> None:
    lines = spec.lines
    assert lines is not None
    actual = columns(migrated_url, lines.table)
    expected = {
        lines.parent_column: "text",
        lines.key_column: "text",
        **{c.name: c.sql_type for c in lines.columns},
        "data": "jsonb",
    }
    assert {name: actual.get(name) for name in expected} == expected
    assert key_columns(migrated_url, lines.table, "p") == [{lines.parent_column, lines.key_column}]


def test_line_items_go_with_their_parent(migrated_url: str) -> None:
    rows = fetch(
        migrated_url,
        """
        SELECT conrelid::regclass::text, confrelid::regclass::text, confdeltype FROM pg_constraint
        WHERE contype = 'f' AND conrelid::regclass::text LIKE '%%_items'
        """,
    )
    expected = {(s.lines.table, s.table, "c") for s in ENTITIES.values() if s.lines is not None}
    assert set(rows) == expected


def test_stock_levels_matches_its_spec(migrated_url: str) -> None:
    spec = ENTITIES["stock"]
    actual = columns(migrated_url, spec.table)
    expected = {
        "item_zoho_id": "text",
        "location_id": "text",
        **{c.name: c.sql_type for c in spec.columns},
        **VERSION_COLUMNS,
    }
    assert {name: actual.get(name) for name in expected} == expected
    assert key_columns(migrated_url, "stock_levels", "p") == [{"item_zoho_id", "location_id"}]


def test_every_entity_has_its_table(migrated_url: str) -> None:
    tables = {
        r[0] for r in fetch(migrated_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    for spec in ENTITIES.values():
        assert spec.table in tables
        if spec.lines:
            assert spec.lines.table in tables


def test_monitoring_views_can_be_read(migrated_url: str) -> None:
    rows = fetch(
        migrated_url, "SELECT table_name FROM information_schema.views WHERE table_schema = 'public'"
    )
    assert {r[0] for r in rows} >= VIEWS
    for view in VIEWS:
        fetch(migrated_url, f"SELECT * FROM {view}")
    health = fetch(migrated_url, "SELECT entity, pending, dlq_open FROM tds_v_sync_health ORDER BY entity")
    assert [r[0] for r in health] == sorted(ENTITIES)
    assert {(r[1], r[2]) for r in health} == {(0, 0)}


def test_retention_cleanup_runs(migrated_url: str) -> None:
    rows = fetch(migrated_url, "SELECT table_name, deleted FROM tds_retention_cleanup()")
    assert dict(rows) == {"tds_sync_queue": 0, "tds_inbox_events": 0, "tds_sync_logs": 0, "tds_metrics": 0}
    rows = fetch(migrated_url, "SELECT * FROM tds_retention_cleanup(now(), 1, 1, 1, 1, 10)")
    assert len(rows) == 4


def test_health_summary_runs(migrated_url: str) -> None:
    ((summary,),) = fetch(migrated_url, "SELECT tds_health_summary()")
    assert {"queue", "dlq_open", "oldest_pending_age_seconds", "workers_alive", "circuit_open"} <= set(
        summary
    )
    assert summary["queue"] == {}
    assert summary["dlq_open"] == 0
    ((pinned,),) = fetch(migrated_url, "SELECT tds_health_summary('2030-01-01T00:00:00Z')")
    assert pinned["at"].startswith("2030-01-01")


def test_ready_partial_index(migrated_url: str) -> None:
    ((definition,),) = fetch(
        migrated_url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'tds_sync_queue_ready'"
    )
    assert "ON public.tds_sync_queue" in definition
    assert "(next_attempt_at, id)" in definition
    assert "WHERE (status = 'pending'" in definition


def test_idempotency_key_is_unique(migrated_url: str) -> None:
    ((definition,),) = fetch(
        migrated_url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'tds_inbox_events_idempotency_key'"
    )
    assert definition.startswith("CREATE UNIQUE INDEX") and "(idempotency_key)" in definition


def test_queue_state_enum_matches_the_code(migrated_url: str) -> None:
    rows = fetch(
        migrated_url,
        "SELECT enumlabel FROM pg_enum WHERE enumtypid = 'tds_queue_state'::regtype ORDER BY enumsortorder",
    )
    assert [r[0] for r in rows] == [s.value for s in QueueState]


def test_job_check_constraints_match_the_job_kinds_and_states(migrated_url: str) -> None:
    rows = fetch(
        migrated_url,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'tds_jobs'::regclass AND contype = 'c'",
    )
    allowed: dict[str, set[str]] = {}
    for (definition,) in rows:
        for column in ("kind", "status"):
            if definition.startswith(f"CHECK (({column} = ANY"):
                allowed[column] = set(re.findall(r"'([a-z_]+)'::text", definition))
    assert allowed == {"kind": {k.value for k in JobKind}, "status": {s.value for s in JobState}}, rows


def test_default_configuration_is_seeded(migrated_url: str) -> None:
    rows = fetch(migrated_url, "SELECT key, version FROM tds_configuration_current")
    keys = {key for key, _ in rows}
    assert {
        "worker.batch_size",
        "worker.max_attempts",
        "retry.backoff_base_seconds",
        "breaker.open_seconds",
    } <= keys
    # every seeded value validates, and the seeded set is what the code's defaults say
    current = dict(fetch(migrated_url, "SELECT key, value FROM tds_configuration_current"))
    seeded = RuntimeConfig.model_validate({key.replace(".", "__"): value for key, value in current.items()})
    assert seeded == RuntimeConfig()


def test_audit_trail_is_append_only(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    with psycopg.connect(empty_database_url, autocommit=True) as connection:
        insert = (
            "INSERT INTO tds_audit_trail (queue_id, entity, zoho_id, erp_table, row_key, action,"
            " source_version) VALUES (1, 'items', 'A', 'products', 'A', 'insert', now())"
        )
        connection.execute(insert)
        for statement in (
            "UPDATE tds_audit_trail SET action = 'update'",
            "DELETE FROM tds_audit_trail",
            "TRUNCATE tds_audit_trail",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                connection.execute(statement)  # type: ignore[arg-type]
        ((count, action),) = connection.execute(
            "SELECT count(*), min(action) FROM tds_audit_trail"
        ).fetchall()
    assert (count, action) == (1, "insert")


def test_api_usage_counts_per_organization_and_second(migrated_url: str) -> None:
    assert columns(migrated_url, "tds_api_usage") == {
        "organization_id": "text",
        "second": "timestamp with time zone",
        "calls": "integer",
    }
    assert key_columns(migrated_url, "tds_api_usage", "p") == [{"organization_id", "second"}]
