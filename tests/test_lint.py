"""The team's standards, enforced: ruff on the whole tree, mypy --strict on gateway/ and virtual_schema/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_ruff() -> None:
    paths = ["gateway", "virtual_schema", "tests", "bench", "tools", "start_sql_server.py"]
    r = subprocess.run([str(BIN / "ruff"), "check", "--no-cache", *paths], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict() -> None:
    r = subprocess.run([str(BIN / "mypy")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
