"""Per-check outcomes of the client matrix and the BI corpus replay, merged into build/compat-results.json.

tools/gen_compatibility.py renders that file as docs/compatibility.md. Entries are merged (not replaced) so
a run of one test file updates only what it ran.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("COMPAT_RESULTS", ROOT / "build" / "compat-results.json"))


def load(path: Path = RESULTS) -> dict[str, Any]:
    if path.exists():
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        except json.JSONDecodeError:
            return {}
    return {}


def merge(section: str, entries: dict[str, dict[str, Any]], path: Path = RESULTS) -> None:
    """entries: key -> record; records with the same key in `section` are replaced, others kept."""
    if not entries:
        return
    data = load(path)
    data.setdefault(section, {}).update(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
    tmp.replace(path)


def short_error(longrepr: object, limit: int = 400) -> str:
    text = str(longrepr)
    lines = [ln for ln in text.splitlines() if ln.startswith("E ")] or text.splitlines()[-3:]
    return " ".join(ln[1:].strip() if ln.startswith("E ") else ln.strip() for ln in lines)[:limit]
