"""domain.versioning.decide: every rule of the version guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tds_core.domain.versioning import Decision, RowVersion, decide

T = datetime(2024, 1, 15, 10, 20, 30, tzinfo=UTC)
EARLIER, LATER = T - timedelta(seconds=1), T + timedelta(seconds=1)


def live(version: datetime = T, content_hash: str = "h1") -> RowVersion:
    return RowVersion(source_version=version, content_hash=content_hash, deleted=False)


def tombstone(version: datetime = T) -> RowVersion:
    return RowVersion(source_version=version, content_hash="h1", deleted=True)


def test_no_row_applies_upserts_and_deletes() -> None:
    assert decide(None, T, "h", is_delete=False) is Decision.APPLY
    assert decide(None, T, "h", is_delete=True) is Decision.APPLY


@pytest.mark.parametrize("version", [EARLIER, T, LATER])
def test_delete_always_applies_to_a_live_row(version: datetime) -> None:
    assert decide(live(), version, "h1", is_delete=True) is Decision.APPLY
    assert decide(live(), version, "other", is_delete=True) is Decision.APPLY


def test_older_upsert_is_stale() -> None:
    assert decide(live(), EARLIER, "h2", is_delete=False) is Decision.STALE
    # stale wins over "unchanged": an older event with the same hash is still stale
    assert decide(live(), EARLIER, "h1", is_delete=False) is Decision.STALE


@pytest.mark.parametrize("version", [EARLIER, T, LATER, T + timedelta(days=3650)])
def test_tombstone_refuses_any_upsert(version: datetime) -> None:
    assert decide(tombstone(), version, "new", is_delete=False) is Decision.STALE
    assert decide(tombstone(), version, "h1", is_delete=False) is Decision.STALE


@pytest.mark.parametrize("version", [EARLIER, T, LATER])
def test_second_delete_is_unchanged(version: datetime) -> None:
    assert decide(tombstone(), version, "h1", is_delete=True) is Decision.UNCHANGED


@pytest.mark.parametrize("version", [T, LATER])
def test_same_hash_is_unchanged(version: datetime) -> None:
    assert decide(live(), version, "h1", is_delete=False) is Decision.UNCHANGED


def test_newer_with_different_content_applies() -> None:
    assert decide(live(), LATER, "h2", is_delete=False) is Decision.APPLY


def test_equal_version_different_content_newest_arrival_wins() -> None:
    assert decide(live(), T, "h2", is_delete=False) is Decision.APPLY


def test_row_without_hash_is_never_unchanged() -> None:
    row = RowVersion(source_version=T, content_hash=None, deleted=False)
    assert decide(row, T, "h1", is_delete=False) is Decision.APPLY


def test_decisions_are_the_queue_state_names() -> None:
    assert {d.value for d in Decision} == {"apply", "skipped_stale", "skipped_unchanged"}
