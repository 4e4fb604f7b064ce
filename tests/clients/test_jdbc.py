"""pgjdbc (Debian's libpostgresql-jdbc-java): DatabaseMetaData, prepared statements past prepareThreshold
(binary transfer), setFetchSize with autocommit off (portal suspension) — via tests/clients/java/JdbcProbe."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.clients.targets import Target, nullable
from virtual_schema.pgtypes import TYPES_BY_OID

JAR = Path("/usr/share/java/postgresql.jar")
SRC = Path(__file__).parent / "java" / "JdbcProbe.java"

pytestmark = pytest.mark.skipif(not (JAR.exists() and shutil.which("javac")),
                                reason="needs libpostgresql-jdbc-java and a JDK (make system-deps)")


@pytest.fixture(scope="session")
def probe_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("jdbc")
    subprocess.run(["javac", "-cp", str(JAR), "-d", str(out), str(SRC)], check=True, capture_output=True, timeout=120)
    return out


_ANSWERS: dict[str, dict[str, Any] | str] = {}  # per target: the probe's JSON, or why it failed (run once)


def _probe(target: Target, probe_classes: Path) -> dict[str, Any] | str:
    q = target.metric()
    url = f"jdbc:postgresql://{target.host}:{target.port}/semantic"
    try:
        r = subprocess.run(["java", "-cp", f"{probe_classes}:{JAR}", "JdbcProbe", url, target.scan_sql(),
                            q.table, q.dimension, q.measure], capture_output=True, text=True, timeout=100)
    except subprocess.TimeoutExpired as e:
        return f"JdbcProbe timed out: {str(e.stderr or '')[-2000:]}"
    if r.returncode != 0:
        return f"JdbcProbe failed: {r.stderr[-3000:]}"
    answers: dict[str, Any] = json.loads(r.stdout)
    return answers


@pytest.fixture
def answers(target: Target, probe_classes: Path) -> dict[str, Any]:
    if target.name not in _ANSWERS:
        _ANSWERS[target.name] = _probe(target, probe_classes)
    got = _ANSWERS[target.name]
    if isinstance(got, str):
        pytest.fail(got)
    return got


def test_catalogs_and_schemas(answers: dict[str, Any]) -> None:
    assert answers["catalogs"] == ["semantic"]
    assert {"public", "pg_catalog", "information_schema"} <= set(answers["schemas"])


def test_tables(target: Target, answers: dict[str, Any]) -> None:
    got = {name: (kind, remarks) for name, kind, remarks in answers["tables"]}
    assert got == {t.name: ("TABLE", t.description) for t in target.public_tables}


def test_columns(target: Target, answers: dict[str, Any]) -> None:
    for t in target.public_tables:
        cols = answers["by_table"][t.name]["columns"]
        assert [c[0] for c in cols] == [c.name for c in t.columns], t.name
        assert [c[5] for c in cols] == list(range(1, len(t.columns) + 1))
        for (name, type_name, _jdbc_type, nullable_flag, remarks, _pos), want in zip(cols, t.columns, strict=True):
            pt = TYPES_BY_OID[want.type.oid]
            # pgjdbc spells serial types and arrays its own way; everything else is pg_type.typname
            assert type_name == pt.name, name
            assert nullable_flag == (1 if nullable(t, want) else 0), name
            assert remarks == want.description, name


def test_primary_and_imported_keys(target: Target, answers: dict[str, Any]) -> None:
    for t in target.public_tables:
        entry = answers["by_table"][t.name]
        assert entry["pk"] == list(t.primary_key), t.name
        want = {(fk.name, col, fk.ref_table, ref) for fk in t.foreign_keys
                for col, ref in zip(fk.columns, fk.ref_columns, strict=True)}
        assert {tuple(x) for x in entry["fks"]} == want, t.name


def test_type_info(target: Target, answers: dict[str, Any]) -> None:
    names = set(answers["type_info"])
    emitted = {TYPES_BY_OID[c.type.oid].name for t in target.schema.tables for c in t.columns}
    assert emitted <= names
    assert len(answers["type_info"]) == len(names)


def test_prepared_statement_past_threshold(answers: dict[str, Any]) -> None:
    runs = answers["metric_runs"]
    assert len(runs) == 6
    assert len(runs[0]) == 1 and runs[0][0][0] == answers["metric_value"]
    assert all(r == runs[0] for r in runs), "binary transfer after prepareThreshold changed the answer"
    scans = answers["scan_runs"]
    assert scans[0] and all(s == scans[0] for s in scans)


def test_tableau_temp_tables(answers: dict[str, Any]) -> None:
    """A filter temp table joined with the table sees the rows it holds at each run; SELECT … INTO TEMP keeps the
    query's rows."""
    runs = answers["temp_join_runs"]
    assert runs[:2] == [[], []]
    assert runs[2:] == [answers["metric_runs"][0]] * 3
    assert answers["context_rows"] == answers["metric_rows"] and answers["metric_rows"]
    assert answers["context_count"] == len(answers["metric_rows"])


def test_fetch_size_with_autocommit_off(answers: dict[str, Any]) -> None:
    assert len(answers["all_rows"]) > 4
    assert answers["fetch_size_rows"] == answers["all_rows"]


def test_copy_manager(answers: dict[str, Any]) -> None:
    """pgjdbc's CopyManager: copyOut of a COPY (query) TO STDOUT CSV carries the query's rows (under its header),
    copyIn loads a temp table (quoted delimiter, unquoted empty = NULL, quoted empty = '')."""
    lines = list(csv.reader(io.StringIO(answers["copy_out_csv"])))
    assert len(lines) == len(answers["metric_rows"]) + 1 and int(answers["copy_out_count"]) == len(lines) - 1
    assert [r[0] for r in lines[1:]] == [r[0] for r in answers["metric_rows"]]
    assert int(answers["copy_in_count"]) == 4
    assert answers["copy_in_rows"] == [["a", "1"], ["b,c", "2"], [None, "3"], ["", "4"]]
