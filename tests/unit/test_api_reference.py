"""docs/api.md and docs/openapi.json are what the code generates (``make docs`` rewrites them)."""

from __future__ import annotations

from pathlib import Path

from tds_core.api import reference

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_committed_api_reference_is_current() -> None:
    assert reference.main(["--check", str(DOCS)]) == 0, (
        "run `make docs` and commit docs/api.md, docs/openapi.json"
    )


def test_every_admin_route_is_listed_with_its_role() -> None:
    text = reference.documents()["api.md"]
    assert "| POST | `/api/v1/dlq/{letter_id}/replay` | operator |" in text
    assert "| PUT | `/api/v1/config/{key}` | admin |" in text
    assert "| GET | `/api/v1/queue` | viewer |" in text
