"""EXPLAIN shows the warehouse SQL a semantic query becomes, and says when the warehouse is not involved;
EXPLAIN ANALYZE runs the statement and reports its rows and times.

The plan is checked by running it: the SQL EXPLAIN prints, executed straight in DuckDB over the same
warehouse file, gives the rows the gateway returns for the query itself. ANALYZE is checked against the
query's own results (its row count), its own errors, and, for temp-table writes, against PostgreSQL 15."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import duckdb
import psycopg
import pytest

from tests.catalog import pgserver
from tests.server import GatewayProcess

QUERY = ("WITH x AS (SELECT status, revenue FROM orders WHERE status <> 'SELECT') "
         "SELECT * FROM x WHERE revenue > 0 ORDER BY status")


def _plan(conn: psycopg.Connection[Any], sql: str) -> str:
    cur = conn.execute(sql)
    assert [d.name for d in cur.description or []] == ["QUERY PLAN"]
    return "\n".join(r[0] for r in cur.fetchall())


@pytest.mark.parametrize("prefix", ["EXPLAIN", "EXPLAIN VERBOSE", "EXPLAIN (COSTS OFF, FORMAT TEXT)",
                                    "EXPLAIN (ANALYZE false)", "EXPLAIN (ANALYZE 0, VERBOSE)"])
def test_plan_is_the_warehouse_sql(gateway: GatewayProcess, demo_duckdb: Path, prefix: str) -> None:
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        plan = _plan(conn, f"{prefix} {QUERY}")
        want = [(s, float(r)) for s, r in conn.execute(QUERY).fetchall()]
    assert "\n" in plan  # laid out clause by clause, not one line
    with duckdb.connect(str(demo_duckdb), read_only=True) as con:
        got = [(s, float(r)) for s, r in con.sql(plan).fetchall()]
    assert got == want and len(want) > 1


def test_catalog_statement_says_the_warehouse_is_not_queried(gateway: GatewayProcess) -> None:
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        for sql in ("EXPLAIN SELECT 1", "EXPLAIN SELECT relname FROM pg_class"):
            assert "warehouse is not queried" in _plan(conn, sql)


@pytest.mark.parametrize("sql", ["EXPLAIN SELECT 'é', nosuchcol FROM orders",
                                 "EXPLAIN (VERBOSE) SELECT * FROM nosuch_table"])
def test_error_position_points_into_the_whole_statement(gateway: GatewayProcess, sql: str) -> None:
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as info:
            conn.execute(sql)
        position = int(info.value.diag.statement_position or 0)
        word = "nosuchcol" if "nosuchcol" in sql else "nosuch_table"
        assert sql[position - 1:].startswith(word), (info.value.sqlstate, position)
        assert conn.execute("SELECT 1").fetchone() == (1,)


ANALYZED = re.compile(r"(Warehouse Query|Catalog Engine)  "
                      r"\(actual time=(\d+\.\d{3})\.\.(\d+\.\d{3}) rows=(\d+) loops=1\)")
PLANNING = re.compile(r"Planning Time: \d+\.\d{3} ms")
EXECUTION = re.compile(r"Execution Time: (\d+\.\d{3}) ms")


def _analyzed(lines: list[str]) -> tuple[str, int]:
    """The node and row count of EXPLAIN ANALYZE's last three lines, checked to be in PostgreSQL's form."""
    node, planning, execution = lines[-3:]
    m = ANALYZED.fullmatch(node)
    assert m is not None, node
    assert PLANNING.fullmatch(planning) and EXECUTION.fullmatch(execution), lines[-2:]
    assert float(m.group(2)) <= float(m.group(3))
    return m.group(1), int(m.group(4))


@pytest.mark.parametrize("prefix", ["EXPLAIN ANALYZE", "explain analyse verbose", "EXPLAIN (ANALYZE)",
                                    "EXPLAIN (ANALYZE true, VERBOSE, COSTS off)", "EXPLAIN (analyze on, timing)",
                                    "EXPLAIN (ANALYZE 1, FORMAT TEXT)"])
@pytest.mark.parametrize("query", [QUERY, "SELECT order_id FROM orders",
                                   "SELECT status, count(*) FROM orders GROUP BY status",
                                   "SELECT status FROM orders WHERE status = 'no such status'"])
def test_analyze_runs_the_query_and_counts_its_rows(gateway: GatewayProcess, prefix: str, query: str) -> None:
    """The warehouse SQL lines come first (as plain EXPLAIN shows them), then the row count the query really
    returns, the compile time and the execution time."""
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        plain = _plan(conn, f"EXPLAIN {query}").split("\n")
        lines = _plan(conn, f"{prefix} {query}").split("\n")
        want = len(conn.execute(query).fetchall())
    assert lines[:-3] == plain
    assert _analyzed(lines) == ("Warehouse Query", want)


def test_analyze_of_a_query_that_fails_in_the_warehouse(gateway: GatewayProcess) -> None:
    """Plain EXPLAIN does not run the query, so it cannot fail in the warehouse; ANALYZE runs it and fails with
    the query's own error; afterwards the session (and a transaction block, once rolled back) is usable."""
    bad = "SELECT CAST(status AS integer) FROM orders"
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as direct:
            conn.execute(bad)
        assert direct.value.sqlstate == "22P02"
        assert "\n" in _plan(conn, f"EXPLAIN {bad}")
        with pytest.raises(psycopg.Error) as analyzed:
            conn.execute(f"EXPLAIN ANALYZE {bad}")
        assert analyzed.value.sqlstate == direct.value.sqlstate
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (100000,)
        conn.execute("BEGIN")
        with pytest.raises(psycopg.Error):
            conn.execute(f"EXPLAIN (ANALYZE) {bad}")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.execute("ROLLBACK")
        assert conn.execute("SELECT 1").fetchone() == (1,)


SLOW = "SELECT count(*) FROM web_events a, web_events b WHERE a.event_id < b.event_id"


def test_analyze_is_cancelled_and_timed_out_like_the_query(gateway: GatewayProcess) -> None:
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        t0 = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute(f"EXPLAIN ANALYZE {SLOW}")
        assert time.monotonic() - t0 < 20
        assert conn.execute("SELECT 1").fetchone() == (1,)
        conn.execute("SET statement_timeout = 300")
        with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
            conn.execute(f"EXPLAIN (ANALYZE) {SLOW}")
        conn.execute("RESET statement_timeout")
        assert "\n" in _plan(conn, f"EXPLAIN {SLOW}")  # without ANALYZE: answered at once


def test_asyncpg_analyze_with_parameters(gateway: GatewayProcess) -> None:
    """Through the extended protocol (asyncpg prepares, binds in binary): parameters reach the warehouse SQL."""
    query = "SELECT order_id FROM orders WHERE order_id <= $1"

    async def run() -> tuple[int, list[str], list[str]]:
        conn = await asyncpg.connect(host=gateway.host, port=gateway.port, user="demo", password="demo",
                                     database="semantic", ssl=False)
        try:
            want = len(await conn.fetch(query, 1234))
            lines = [r[0] for r in await conn.fetch(f"EXPLAIN ANALYZE {query}", 1234)]
            plain = [r[0] for r in await conn.fetch(f"EXPLAIN {query}", 1234)]
            return want, lines, plain
        finally:
            await conn.close()

    want, lines, plain = asyncio.run(run())
    assert 0 < want < 100000
    assert lines[:-3] == plain
    assert _analyzed(lines) == ("Warehouse Query", want)


@pytest.mark.parametrize("sql", ["EXPLAIN (ANALYZE maybe) SELECT 1", "EXPLAIN (nosuch) SELECT 1",
                                 "EXPLAIN (FORMAT csv) SELECT 1", "EXPLAIN (WAL) SELECT 1",
                                 "EXPLAIN (TIMING) SELECT 1", "EXPLAIN (ANALYZE 2) SELECT 1"])
def test_option_errors_as_postgresql(gateway: GatewayProcess, pg: psycopg.Connection[Any], sql: str) -> None:
    def error(conn: psycopg.Connection[Any]) -> tuple[str | None, str | None, str | None]:
        with pytest.raises(psycopg.Error) as info:
            conn.execute(sql)
        return info.value.sqlstate, info.value.diag.message_primary, info.value.diag.statement_position

    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        assert error(conn) == error(pg)
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.fixture(scope="module")
def pg() -> Iterator[psycopg.Connection[Any]]:
    with pgserver.connection() as conn:
        yield conn


TEMP_WRITES = [
    "CREATE TEMP TABLE ea (a int, b text)",
    "EXPLAIN INSERT INTO ea VALUES (1, 'x'), (2, 'y')",  # not ANALYZE: writes nothing
    "EXPLAIN ANALYZE INSERT INTO ea VALUES (3, 'z'), (4, 'w'), (5, 'v')",
    "EXPLAIN (ANALYZE false) UPDATE ea SET b = 'never'",
    "EXPLAIN (ANALYZE) UPDATE ea SET b = 'u' WHERE a > 3",
    "EXPLAIN ANALYZE DELETE FROM ea WHERE a = 5",
    "BEGIN",
    "EXPLAIN ANALYZE INSERT INTO ea VALUES (6, 'rolled back')",
    "ROLLBACK",
    "EXPLAIN ANALYZE CREATE TEMP TABLE ea2 AS SELECT a * 10 AS a FROM ea",
    "EXPLAIN ANALYZE SELECT * FROM ea2 WHERE a > 30",
]


def _replay(conn: psycopg.Connection[Any]) -> tuple[list[bool], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Run TEMP_WRITES; per plan whether it ends with ANALYZE's times, and the tables' final rows."""
    timed: list[bool] = []
    for sql in TEMP_WRITES:
        cur = conn.execute(sql)
        if sql.startswith("EXPLAIN"):
            lines = [r[0] for r in cur.fetchall()]
            timed.append(len(lines) > 2 and PLANNING.fullmatch(lines[-2]) is not None
                         and EXECUTION.fullmatch(lines[-1]) is not None)
    return (timed, conn.execute("SELECT * FROM ea ORDER BY a").fetchall(),
            conn.execute("SELECT * FROM ea2 ORDER BY a").fetchall())


def test_analyze_of_temp_table_writes_as_postgresql(gateway: GatewayProcess, pg: psycopg.Connection[Any]) -> None:
    """PostgreSQL's EXPLAIN ANALYZE of INSERT/UPDATE/DELETE/CREATE TABLE AS really writes (inside a block,
    ROLLBACK undoes it), and EXPLAIN without ANALYZE writes nothing: the tables end as PostgreSQL's do, and
    the plans end with Planning Time and Execution Time exactly where PostgreSQL's do."""
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        got = _replay(conn)
        lines = _plan(conn, "EXPLAIN ANALYZE INSERT INTO ea VALUES (7, 'a'), (8, 'b')").split("\n")
        assert _analyzed(lines) == ("Catalog Engine", 2)
    pg.execute("DISCARD TEMP")
    assert got == _replay(pg)
    assert got[1] and got[2] and not all(got[0])


@pytest.mark.parametrize("analyze", ["", "ANALYZE, "])
@pytest.mark.parametrize("query", ["SELECT status, revenue FROM orders", "SELECT count(*) FROM pg_class"])
def test_structured_formats_as_postgresql(gateway: GatewayProcess, pg: psycopg.Connection[Any], analyze: str,
                                          query: str) -> None:
    """FORMAT JSON / YAML / XML: one row whose type (json, text, xml) is PostgreSQL's, holding one document with
    PostgreSQL's layout and key names (what DBeaver's and pgAdmin's plan viewers parse); our plan has no costs,
    so PostgreSQL is asked with COSTS OFF. The JSON carries the warehouse SQL and, with ANALYZE, the real rows."""
    pg.execute("CREATE TEMP TABLE IF NOT EXISTS orders (status text, revenue numeric)")
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        for fmt in ("json", "yaml", "xml"):
            ours = conn.execute(f"EXPLAIN ({analyze}FORMAT {fmt}) {query}")
            theirs = pg.execute(f"EXPLAIN ({analyze}COSTS OFF, FORMAT {fmt}) {query}")
            assert ours.description is not None and theirs.description is not None
            assert ours.description[0].type_code == theirs.description[0].type_code
            (doc,), = ours.fetchall()
            (want,), = theirs.fetchall()
            if fmt == "json":
                top, ptop = doc[0], want[0]
                assert top.keys() == ptop.keys()
                shared = top["Plan"].keys() & ptop["Plan"].keys()
                expected = {"Node Type", "Parallel Aware", "Async Capable"}
                if analyze:
                    expected |= {"Actual Startup Time", "Actual Total Time", "Actual Rows", "Actual Loops"}
                assert shared >= expected
                assert all(type(top["Plan"][k]) is type(ptop["Plan"][k]) for k in shared)
                if "orders" in query:
                    assert "FROM" in top["Plan"]["Warehouse SQL"]
                if analyze:
                    assert top["Plan"]["Actual Rows"] == len(conn.execute(query).fetchall())
            elif fmt == "yaml":
                assert doc.startswith("- Plan: \n    Node Type: ") and want.startswith("- Plan: \n    Node Type: ")
                assert [line.split(":")[0] for line in doc.splitlines() if not line.startswith("    ")] == \
                    [line.split(":")[0] for line in want.splitlines() if not line.startswith("    ")]
            else:
                head = '<explain xmlns="http://www.postgresql.org/2009/explain">\n  <Query>\n    <Plan>\n'
                assert doc.startswith(head) and want.startswith(head) and doc.endswith("</Query>\n</explain>")
