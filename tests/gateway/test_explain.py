"""EXPLAIN shows the warehouse SQL a semantic query becomes, and says when the warehouse is not involved.

The plan is checked by running it: the SQL EXPLAIN prints, executed straight in DuckDB over the same
warehouse file, gives the rows the gateway returns for the query itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from tests.server import GatewayProcess

QUERY = ("WITH x AS (SELECT status, revenue FROM orders WHERE status <> 'SELECT') "
         "SELECT * FROM x WHERE revenue > 0 ORDER BY status")


def _plan(conn: psycopg.Connection[Any], sql: str) -> str:
    cur = conn.execute(sql)
    assert [d.name for d in cur.description or []] == ["QUERY PLAN"]
    return "\n".join(r[0] for r in cur.fetchall())


@pytest.mark.parametrize("prefix", ["EXPLAIN", "EXPLAIN VERBOSE", "EXPLAIN (COSTS OFF, FORMAT TEXT)",
                                    "explain analyze"])
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
