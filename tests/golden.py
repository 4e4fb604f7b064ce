"""Golden SQL snapshots: tests/golden/<dialect>/<name>.sql, regenerated with UPDATE_GOLDEN=1.

A missing snapshot fails with instructions instead of silently passing, so new queries get reviewed SQL.
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN_DIR = Path(__file__).parent / "golden"


def assert_golden(name: str, dialect: str, sql: str) -> None:
    path = GOLDEN_DIR / dialect / f"{name}.sql"
    text = sql.rstrip() + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        raise AssertionError(
            f"golden file {path} is missing; run the test with UPDATE_GOLDEN=1 to create it, then review and commit it"
        )
    expected = path.read_text(encoding="utf-8")
    assert text == expected, (
        f"SQL for {name} ({dialect}) differs from {path}; if the change is intended, rerun with UPDATE_GOLDEN=1\n"
        f"--- expected\n{expected}--- got\n{text}"
    )
