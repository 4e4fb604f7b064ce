"""numeric division and pg_typeof through a real gateway socket, compared with a real PostgreSQL 15.

The catalog path must answer `SELECT 1::numeric/3` with PostgreSQL's value-dependent scale (text and binary
DataRows, RowDescription type numeric); the semantic path's pg_typeof must name the type the gateway announces
for the same column, as PostgreSQL's pg_typeof would for a column of that type.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import pq

from tests.catalog import pgserver
from tests.pgserver import postgres_available
from tests.server import GatewayProcess

pytestmark = pytest.mark.skipif(not postgres_available(), reason="PostgreSQL 15 binaries not installed")


@pytest.fixture(scope="module")
def pg() -> Iterator[psycopg.Connection[Any]]:
    with pgserver.connection() as conn:
        yield conn


def _raw(conn: psycopg.Connection[Any], sql: str, fmt: int) -> tuple[Any, ...]:
    """(type OID, typmod, value bytes) of a one-value statement over the extended protocol, or its SQLSTATE."""
    res = conn.pgconn.exec_params(sql.encode(), [], result_format=fmt)
    if res.status != pq.ExecStatus.TUPLES_OK:
        return ("error", res.error_field(pq.DiagnosticField.SQLSTATE))
    return (res.ftype(0), res.fmod(0), res.get_value(0, 0))


@pytest.mark.parametrize("sql", ["SELECT 1::numeric/3", "SELECT 10::numeric/7", "SELECT 1::numeric/0"])
def test_catalog_numeric_division_over_the_wire(gateway: GatewayProcess, pg: psycopg.Connection[Any],
                                                sql: str) -> None:
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        for fmt in (0, 1):
            assert _raw(conn, sql, fmt) == _raw(pg, sql, fmt)
        with conn.cursor() as cur:  # simple query protocol too
            try:
                got: Any = cur.execute(sql).fetchall()
            except psycopg.Error as e:
                got = e.sqlstate
    try:
        want: Any = pg.execute(sql).fetchall()
    except psycopg.Error as e:
        want = e.sqlstate
    assert got == want
    assert gateway.routes(sql) == {"catalog"}


def test_semantic_pg_typeof_names_the_announced_type(gateway: GatewayProcess, pg: psycopg.Connection[Any]) -> None:
    sql = "SELECT revenue, pg_typeof(revenue) AS t, avg_order_value, pg_typeof(avg_order_value) AS u FROM orders"
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        cur = conn.execute(sql)
        row = cur.fetchone()
        assert row is not None and cur.description is not None
        announced = [(d.type_code, d.internal_size, cur.pgresult.fmod(i) if cur.pgresult else -1)
                     for i, d in enumerate(cur.description)]
    for (oid, _size, typmod), name in ((announced[0], row[1]), (announced[2], row[3])):
        declared = pg.execute("SELECT format_type(%s, %s)", (oid, typmod)).fetchone()
        assert declared is not None
        want = pg.execute(f"SELECT pg_typeof(NULL::{declared[0]})::text").fetchone()
        assert want == (name,)
    assert gateway.routes(sql) == {"semantic"}
