"""The benchmark scripts work end to end: `python -m bench.run_all --quick` against a real PostgreSQL 15
and a real gateway, tiny row counts, one run. No timing is asserted; only that every figure was
measured on both sides without an error and that the result files and summary were written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="PostgreSQL 15 server binaries not installed"),
    pytest.mark.skipif(os.geteuid() == 0 and shutil.which("runuser") is None, reason="runuser needed as root"),
]

BENCHES = ("compile", "latency", "stream", "load", "concurrency", "memory")


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench-quick")
    done = subprocess.run([sys.executable, "-m", "bench.run_all", "--quick", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.mark.parametrize("name", BENCHES)
def test_result_file_has_both_sides(quick_results: Path, name: str) -> None:
    doc = json.loads((quick_results / f"{name}.json").read_text())
    assert doc["name"] == name
    assert doc["machine"]["cores"] == os.cpu_count()
    assert doc["rows"], "no figures"
    for row in doc["rows"]:
        assert row["error"] is None, f"{row['label']}: {row['error']}"
        assert row["gateway"] is not None, row["label"]
        if name != "memory":  # the memory benchmark watches the gateway only
            assert row["postgres"] is not None, row["label"]
    assert doc["table"].count("\n") == len(doc["rows"]) + 1


def test_stream_received_every_row_with_every_client(quick_results: Path) -> None:
    doc = json.loads((quick_results / "stream.json").read_text())
    clients = {row["extra"]["client"] for row in doc["rows"]}
    assert {"libpq", "psycopg-text", "psycopg-named", "psycopg-binary", "asyncpg", "psql"} <= clients
    for row in doc["rows"]:
        assert set(row["samples"]) == {"postgres", "gateway"}


def test_memory_reader_got_all_rows(quick_results: Path) -> None:
    doc = json.loads((quick_results / "memory.json").read_text())
    received = next(r for r in doc["rows"] if r["label"].startswith("rows received"))
    assert received["gateway"] == doc["params"]["rows"]


def test_concurrency_had_no_errors(quick_results: Path) -> None:
    doc = json.loads((quick_results / "concurrency.json").read_text())
    errors = next(r for r in doc["rows"] if r["label"].startswith("errors"))
    assert errors["postgres"] == 0 and errors["gateway"] == 0


def test_summary_lists_every_benchmark(quick_results: Path) -> None:
    text = (quick_results / "summary.md").read_text()
    for name in BENCHES:
        assert f"## {name}" in text
