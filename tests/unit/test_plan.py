"""The applier's decisions without a database (issue 17, scope 2): processor/plan.py is given
events and the current rows as the applier reads them, and says what to write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tds_core.domain.conflicts import SOURCE_WINS, ConflictPolicy, Policy
from tds_core.domain.entities import ENTITIES
from tds_core.domain.hashing import content_hash
from tds_core.domain.states import QueueState
from tds_core.processor.plan import BatchPlanner
from tds_core.queue.leases import ClaimedEvent
from tests.integration import samples

T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
ITEMS = ENTITIES["items"]


def event(
    number: int, zoho_id: str, minutes: int, payload: dict[str, Any], operation: str = "upsert"
) -> ClaimedEvent:
    return ClaimedEvent(
        id=number,
        inbox_event_id=number,
        entity="items",
        zoho_id=zoho_id,
        operation=operation,
        source_version=T0 + timedelta(minutes=minutes),
        content_hash=content_hash(payload),
        payload=payload,
        attempts=1,
        received_at=T0,
    )


def current(zoho_id: str, minutes: int, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A current row as ``select_current`` answers it."""
    return {
        "zoho_id": zoho_id,
        "source_version": T0 + timedelta(minutes=minutes),
        "content_hash": content_hash(payload),
        "deleted": False,
        "row": {"zoho_id": zoho_id, "name": payload.get("name"), "data": payload},
        "changed": None,
        "written": None,
        "open_conflict": None,
        **extra,
    }


def planner() -> BatchPlanner:
    return BatchPlanner("host:1:test", now=T0 + timedelta(days=1))


def test_versions_of_one_record_apply_in_order_and_the_newest_is_written() -> None:
    newer, older = samples.item(item_id="I1", name="v2"), samples.item(item_id="I1", name="v1")
    plan = planner()
    write = plan.entity(ITEMS, SOURCE_WINS, [event(2, "I1", 2, newer), event(1, "I1", 1, older)], [])
    assert plan.states == {1: QueueState.COMPLETED, 2: QueueState.COMPLETED}
    assert write.rows["I1"]["name"] == "v2" and write.rows["I1"]["source_version"] == T0 + timedelta(
        minutes=2
    )
    assert [(a["queue_id"], a["action"]) for a in plan.writes.audit] == [(1, "insert"), (2, "update")]


def test_an_older_or_identical_event_writes_nothing() -> None:
    record = samples.item(item_id="I2", name="now")
    rows = [current("I2", 5, record)]
    plan = planner()
    write = plan.entity(
        ITEMS,
        SOURCE_WINS,
        [event(1, "I2", 4, samples.item(item_id="I2", name="before")), event(2, "I2", 6, record)],
        rows,
    )
    assert plan.states == {1: QueueState.SKIPPED_STALE, 2: QueueState.SKIPPED_UNCHANGED}
    assert write.rows == {} and plan.writes.audit == []


def test_a_row_changed_in_the_erp_is_held_under_the_hold_policy() -> None:
    record = samples.item(item_id="I3", name="from zoho")
    rows = [
        current("I3", 1, samples.item(item_id="I3", name="old"), changed=["name"], written={"name": "old"})
    ]
    plan = planner()
    write = plan.entity(ITEMS, ConflictPolicy(Policy.HOLD), [event(7, "I3", 2, record)], rows)
    assert plan.states == {7: QueueState.HELD}
    assert write.rows == {}
    (held,) = plan.writes.held.values()
    assert held["status"] == "open" and held["held_queue_ids"] == [7] and held["changed_columns"] == ["name"]


def test_source_wins_overwrites_and_records_the_conflict_resolved() -> None:
    record = samples.item(item_id="I4", name="from zoho")
    rows = [
        current("I4", 1, samples.item(item_id="I4", name="old"), changed=["name"], written={"name": "old"})
    ]
    plan = planner()
    write = plan.entity(ITEMS, SOURCE_WINS, [event(8, "I4", 2, record)], rows)
    assert plan.states == {8: QueueState.COMPLETED} and write.rows["I4"]["name"] == "from zoho"
    (conflict,) = plan.writes.conflicts
    assert (conflict["status"], conflict["resolution"]) == ("resolved", "source_wins")
    assert plan.writes.audit[0]["local_changes"] == ["name"]


def test_a_delete_keeps_the_row_marked_deleted_at_the_newer_version() -> None:
    record = samples.item(item_id="I5")
    plan = planner()
    write = plan.entity(
        ITEMS, SOURCE_WINS, [event(9, "I5", 3, {"item_id": "I5"}, "deleted")], [current("I5", 1, record)]
    )
    assert plan.states == {9: QueueState.COMPLETED}
    row = write.rows["I5"]
    assert row["deleted_at"] == T0 + timedelta(days=1) and row["source_version"] == T0 + timedelta(minutes=3)
    assert plan.writes.audit[0]["action"] == "delete"


def test_a_newer_delete_gives_a_tombstone_its_version_and_nothing_else() -> None:
    tombstone = current("I6", 3, samples.item(item_id="I6"), deleted=True)
    plan = planner()
    write = plan.entity(
        ITEMS,
        SOURCE_WINS,
        [
            event(10, "I6", 2, {"item_id": "I6"}, "deleted"),
            event(11, "I6", 9, {"item_id": "I6", "x": 1}, "deleted"),
        ],
        [tombstone],
    )
    assert plan.states == {10: QueueState.SKIPPED_UNCHANGED, 11: QueueState.SKIPPED_UNCHANGED}
    assert write.rows == {} and plan.writes.audit == []
    assert write.advanced == {"I6": T0 + timedelta(minutes=9)}  # the older delete moved nothing
