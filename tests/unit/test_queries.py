"""Every ``QUERIES.<name>`` the code uses exists, every statement is used, and every statement is
well formed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tds_core
from tds_core.db.queries import QUERIES, SQL_DIR, load

SOURCE = Path(tds_core.__file__).parent
USED = re.compile(r"QUERIES\.([a-z_0-9]+)")
METHODS = {"names"}


def used_names() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        for name in USED.findall(path.read_text()):
            if name not in METHODS:
                found.setdefault(name, []).append(str(path.relative_to(SOURCE)))
    return found


def test_the_code_uses_named_queries() -> None:
    assert len(used_names()) >= 10


def test_every_query_the_code_uses_exists() -> None:
    missing = {name: where for name, where in used_names().items() if name not in QUERIES.names()}
    assert missing == {}


def test_every_statement_is_used_by_the_code() -> None:
    """A statement nothing runs is a statement nobody keeps true (issue 17: six were left)."""
    assert sorted(QUERIES.names() - set(used_names())) == []


@pytest.mark.parametrize("name", sorted(QUERIES.names()))
def test_statement_has_a_body(name: str) -> None:
    text = getattr(QUERIES, name)
    body = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("--")]
    assert body, f"{name} has no SQL"


def test_every_statement_has_a_purpose_line() -> None:
    for path in sorted(SQL_DIR.glob("*.sql")):
        lines = path.read_text().splitlines()
        for index, line in enumerate(lines):
            if line.startswith("-- name:"):
                assert lines[index + 1].startswith("-- "), f"{path.name}: {line} lacks a purpose line"


def test_unknown_name_fails_loudly() -> None:
    with pytest.raises(AttributeError, match="no SQL statement named 'queue_does_not_exist'"):
        _ = QUERIES.queue_does_not_exist


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("-- name: x_select\n-- purpose\nSELECT 1;\n")
    (tmp_path / "b.sql").write_text("-- name: x_select\n-- purpose\nSELECT 2;\n")
    with pytest.raises(ValueError, match="duplicate SQL name 'x_select'"):
        load(tmp_path)


def test_every_wake_up_of_the_workers_goes_through_the_doorbell_module() -> None:
    """Issue 17: NOTIFY was sent by the Doorbell and by seven direct executes elsewhere."""
    assert used_names()["queue_notify"] == ["db/queue.py"]
    callers = [
        str(path.relative_to(SOURCE))
        for path in sorted(SOURCE.rglob("*.py"))
        if re.search(r"\bqueue\.notify\(", path.read_text())
    ]
    assert callers == ["queue/doorbell.py"]


def test_only_the_db_package_reads_the_statements() -> None:
    """Issue 17: services call the typed functions of ``db/<table>.py``, never the registry."""
    outside = sorted(
        {where for places in used_names().values() for where in places if not where.startswith("db/")}
    )
    assert outside == []
