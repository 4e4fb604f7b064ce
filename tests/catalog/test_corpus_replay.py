"""Replay every catalog and session statement of the BI corpus through CatalogSession.execute."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pglast
import pyarrow as pa
import pytest

from tests.catalog.fixtures import fixture_schema
from virtual_schema.catalog.api import SessionInfo
from virtual_schema.catalog.engine import CatalogEngine, CatalogSession
from virtual_schema.errors import PgError

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "bi-corpus"
# The corpus README: these FETCH from a cursor that was closed before (Cube's tests expect an error).
EXPECTED_CURSOR_ERRORS = {"tableau/043", "tableau/047", "tableau/051", "tableau/052"}
# Cube's cursor reproductions must run in order within one session.
SEQUENTIAL = tuple(f"tableau/{n:03d}" for n in range(41, 54))


def _rows() -> list[dict[str, str]]:
    if not (CORPUS / "manifest.tsv").exists():
        return []
    with open(CORPUS / "manifest.tsv", newline="") as f:
        return [r for r in csv.DictReader(f, delimiter="\t") if r["kind"] in ("catalog", "session")]


ROWS = _rows()


def _key(row: dict[str, str]) -> str:
    return row["file"][: row["file"].index("_")]


@pytest.fixture(scope="module")
def engine() -> Iterator[CatalogEngine]:
    eng = CatalogEngine(fixture_schema(), database="cubedb", users=("demo", "ovr"))
    yield eng
    eng.close()


def _session(engine: CatalogEngine) -> CatalogSession:
    settings = {
        "search_path": '"$user", public',
        "server_version": "15.0",
        "server_version_num": "150000",
        "datestyle": "ISO, MDY",
        "timezone": "UTC",
        "transaction_isolation": "read committed",
    }
    return engine.open_session(SessionInfo(pid=4242, user="demo", database="cubedb", settings=dict(settings)))


def _split(sql: str) -> list[str]:
    try:
        return list(pglast.split(sql))
    except pglast.parser.ParseError:
        return [sql]


def _run(session: CatalogSession, sql: str) -> list[tuple[str, int, pa.Table | None]]:
    out = []
    for stmt in _split(sql):
        res = session.execute(stmt)
        batches = list(res.batches)
        table = pa.Table.from_batches(batches) if batches else None
        if res.columns and table is not None:
            assert [c.name for c in res.columns] == table.column_names
        out.append((res.command_tag, len(res.columns), table))
    return out


def _check(row: dict[str, str], session: CatalogSession) -> None:
    key = _key(row)
    sql = (CORPUS / row["file"]).read_text()
    redshift = "redshift." in row["tables_referenced"] or "pg_get_late_binding_view_cols" in sql
    if key in EXPECTED_CURSOR_ERRORS:
        with pytest.raises(PgError) as err:
            _run(session, sql)
        assert err.value.sqlstate == "34000"
        return
    if redshift:
        with pytest.raises(PgError) as err:
            _run(session, sql)
        assert err.value.sqlstate in ("42P01", "42883"), err.value.message
        return
    results = _run(session, sql)
    assert results, "no statement ran"
    for tag, ncols, _table in results:
        assert tag, "every statement completes with a command tag"
        if tag.startswith(("SELECT", "FETCH", "SHOW")) and tag.startswith("SELECT ") is not False:
            assert ncols > 0 or tag.startswith("SELECT")


@pytest.mark.skipif(not ROWS, reason="bi-corpus not present")
@pytest.mark.parametrize("row", [r for r in ROWS if _key(r) not in SEQUENTIAL], ids=lambda r: _key(r))
def test_corpus_statement(engine: CatalogEngine, row: dict[str, str]) -> None:
    session = _session(engine)
    try:
        _check(row, session)
    finally:
        session.close()


@pytest.mark.skipif(not ROWS, reason="bi-corpus not present")
def test_corpus_cursor_conversation(engine: CatalogEngine) -> None:
    session = _session(engine)
    rows = {_key(r): r for r in ROWS}
    try:
        for key in SEQUENTIAL:
            if key in rows:
                _check(rows[key], session)
    finally:
        session.close()


def test_replay_counts_cover_manifest() -> None:
    if not ROWS:
        pytest.skip("bi-corpus not present")
    assert len(ROWS) == 108


@pytest.mark.skipif(not ROWS, reason="bi-corpus not present")
def test_describe_matches_execute(engine: CatalogEngine) -> None:
    """Describe (no rows) announces exactly the columns execute returns, for every catalog SELECT."""
    checked = 0
    for row in ROWS:
        if row["kind"] != "catalog" or "redshift." in row["tables_referenced"]:
            continue
        sql = (CORPUS / row["file"]).read_text()
        if "pg_get_late_binding_view_cols" in sql:
            continue
        session = _session(engine)
        try:
            for stmt in _split(sql):
                described = session.describe(stmt)
                executed = session.execute(stmt)
                assert [(c.name, c.type) for c in described.columns] == [(c.name, c.type) for c in executed.columns]
                checked += 1
        finally:
            session.close()
    assert checked >= 80
