"""Named SQL, loaded once at import from ``sql/*.sql``.

Each statement sits under a ``-- name: table_verb`` header followed by a one-line purpose.
``QUERIES.queue_claim_batch`` returns the text; a missing name fails loudly, and a test
checks that every name the code uses exists.
"""

from __future__ import annotations

import re
from pathlib import Path

SQL_DIR = Path(__file__).parent / "sql"
_HEADER = re.compile(r"^--\s*name:\s*([a-z0-9_]+)\s*$", re.MULTILINE)


class Queries:
    def __init__(self, statements: dict[str, str]) -> None:
        self._statements = statements

    def __getattr__(self, name: str) -> str:
        try:
            return self._statements[name]
        except KeyError:
            raise AttributeError(f"no SQL statement named {name!r} in {SQL_DIR}") from None

    def names(self) -> set[str]:
        return set(self._statements)


def load(directory: Path = SQL_DIR) -> Queries:
    statements: dict[str, str] = {}
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text()
        matches = list(_HEADER.finditer(text))
        for index, match in enumerate(matches):
            end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
            body = text[match.end() : end].strip()
            name = match.group(1)
            if name in statements:
                raise ValueError(f"duplicate SQL name {name!r} in {path.name}")
            statements[name] = body
    return Queries(statements)


QUERIES = load()
