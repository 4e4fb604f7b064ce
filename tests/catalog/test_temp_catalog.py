"""Temp tables in pg_class/pg_namespace/pg_attribute, seen only by the session that created them (PostgreSQL 15)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from tests.catalog.fixtures import fixture_schema
from virtual_schema.catalog.api import SessionInfo
from virtual_schema.catalog.engine import CatalogEngine, CatalogSession
from virtual_schema.errors import PgError


@pytest.fixture(scope="module")
def engine() -> Iterator[CatalogEngine]:
    eng = CatalogEngine(fixture_schema(), database="semantic", users=("demo",))
    yield eng
    eng.close()


def _open(engine: CatalogEngine) -> CatalogSession:
    return engine.open_session(
        SessionInfo(pid=7, user="demo", database="semantic", settings={"search_path": '"$user", public'})
    )


def _rows(s: CatalogSession, sql: str) -> list[dict[str, Any]]:
    s.describe(sql)
    batches = list(s.execute(sql).batches)
    return pa.Table.from_batches(batches).to_pylist() if batches else []


_CLASS = (
    "SELECT c.relname, c.relpersistence, c.relkind, n.nspname FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'tmp_orders'"
)


def test_temp_table_in_catalog_of_its_session_only(engine: CatalogEngine) -> None:
    a, b = _open(engine), _open(engine)
    try:
        before = _rows(a, "SELECT count(*) AS n FROM pg_class")[0]["n"]
        a.execute("CREATE TEMP TABLE Tmp_Orders (Order_Id int8, Note text, Amount numeric(10,2))")
        got = _rows(a, _CLASS)
        assert len(got) == 1
        assert got[0]["relname"] == "tmp_orders"  # unquoted name folded like PostgreSQL
        assert (got[0]["relpersistence"], got[0]["relkind"]) == ("t", "r")
        assert got[0]["nspname"].startswith("pg_temp_")
        atts = _rows(
            a,
            "SELECT a.attname, a.atttypid, a.attnum FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relname = 'tmp_orders' AND a.attnum > 0 ORDER BY a.attnum",
        )
        assert [(r["attname"], r["atttypid"], r["attnum"]) for r in atts] == [
            ("order_id", 20, 1),
            ("note", 25, 2),
            ("amount", 1700, 3),
        ]
        assert _rows(b, _CLASS) == []
        assert _rows(b, "SELECT count(*) AS n FROM pg_class")[0]["n"] == before
        a.execute("DROP TABLE tmp_orders")
        assert _rows(a, _CLASS) == []
        assert _rows(a, "SELECT count(*) AS n FROM pg_class")[0]["n"] == before
    finally:
        a.close()
        b.close()


def test_quoted_temp_name_keeps_case(engine: CatalogEngine) -> None:
    s = _open(engine)
    try:
        s.execute('CREATE TEMP TABLE "MixedCase" (x int)')
        assert [r["relname"] for r in _rows(s, "SELECT relname FROM pg_class WHERE relpersistence = 't'")] == [
            "MixedCase"
        ]
    finally:
        s.close()


def test_session_functions_created_on_first_use(engine: CatalogEngine) -> None:
    """Session macros are created lazily; interleaved sessions still see their own user and pid."""
    a = engine.open_session(SessionInfo(pid=11, user="demo", database="semantic", settings={}))
    b = engine.open_session(SessionInfo(pid=12, user="analyst", database="other", settings={}))
    try:
        assert _rows(a, "SELECT 1 AS one") == [{"one": 1}]
        assert _rows(b, "SELECT current_user AS u, pg_backend_pid() AS p") == [{"u": "analyst", "p": 12}]
        assert _rows(a, "SELECT current_user AS u, pg_backend_pid() AS p") == [{"u": "demo", "p": 11}]
        assert _rows(b, "SELECT current_database() AS d") == [{"d": "other"}]
    finally:
        a.close()
        b.close()


def test_drop_temp_tables_forgets_them(engine: CatalogEngine) -> None:
    """What DISCARD TEMP / DISCARD ALL do in PostgreSQL: the session's temp tables are gone, also from pg_class."""
    s = _open(engine)
    try:
        s.execute('CREATE TEMP TABLE "#Tableau_1" (x int)')
        s.execute("SELECT 1 AS y INTO TEMP t2")
        assert s.drop_temp_tables() == ("#Tableau_1", "t2")
        assert _rows(s, "SELECT count(*) AS n FROM pg_class WHERE relpersistence = 't'") == [{"n": 0}]
        with pytest.raises(PgError) as err:
            s.execute("SELECT * FROM t2")
        assert err.value.sqlstate == "42P01"
        s.execute("CREATE TEMP TABLE t2 (z text)")  # the name is free again
        assert _rows(s, "SELECT count(*) AS n FROM t2") == [{"n": 0}]
    finally:
        s.close()


def test_transaction_rollback_restores_temp_tables(engine: CatalogEngine) -> None:
    """A transaction block's temp-table writes (begin() … end()): ROLLBACK brings back what PostgreSQL's does,
    declared column types included; an error aborts the block, so its COMMIT keeps nothing either."""
    s = _open(engine)
    try:
        s.execute("CREATE TEMP TABLE keep (x varchar(10))")
        s.execute("INSERT INTO keep VALUES ('a'), ('b')")
        s.begin()
        s.execute("DELETE FROM keep WHERE x = 'a'")
        s.execute("DROP TABLE keep")
        s.execute("CREATE TEMP TABLE fresh (y int)")
        s.end(commit=False)
        assert s.temp_tables == {"keep"}
        assert _rows(s, "SELECT x FROM keep ORDER BY 1") == [{"x": "a"}, {"x": "b"}]
        assert _rows(s, "SELECT format_type(a.atttypid, a.atttypmod) AS t FROM pg_attribute a JOIN pg_class c "
                        "ON c.oid = a.attrelid WHERE c.relname = 'keep' AND a.attnum > 0") == [
            {"t": "character varying(10)"}]
        s.begin()
        s.execute("TRUNCATE keep")
        with pytest.raises(PgError):
            s.execute("SELECT CAST(x || 'z' AS integer) FROM (VALUES ('1')) v(x)")
        s.end(commit=True)
        assert _rows(s, "SELECT count(*) AS n FROM keep") == [{"n": 2}]
        s.begin()
        s.execute("CREATE TEMP TABLE fresh (y int)")
        s.end(commit=True)
        assert s.temp_tables == {"keep", "fresh"}
    finally:
        s.close()
