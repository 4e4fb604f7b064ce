"""pg_typeof() over virtual columns names the type the gateway announces for them, as PostgreSQL would.

Every column of every virtual table (dimensions, entities, time grains, measures, metrics) is asked for its
pg_typeof through the compiler and the fixture warehouse; a real PostgreSQL 15 holding tables with the
announced column types answers the same question. The warehouse's own PG_TYPEOF would say `decimal(38,2)`,
`double` or `varchar`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import psycopg
import pytest

from tests.catalog import pgserver
from tests.pgserver import postgres_available
from virtual_schema.errors import PgError
from virtual_schema.semantic_layer import SemanticLayer

pytestmark = pytest.mark.skipif(not postgres_available(), reason="PostgreSQL 15 binaries not installed")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@pytest.fixture(scope="module")
def pg(layer: SemanticLayer) -> Iterator[psycopg.Connection[Any]]:
    with pgserver.connection() as conn:
        for stmt in pgserver.ddl(layer.schema):
            conn.execute(stmt)
        yield conn


def _columns(layer: SemanticLayer) -> list[tuple[str, str]]:
    return [(t.name, c.name) for t in layer.schema.tables for c in t.columns]


def test_pg_typeof_of_every_virtual_column(layer: SemanticLayer, con: duckdb.DuckDBPyConnection,
                                           pg: psycopg.Connection[Any]) -> None:
    differences = []
    for table, column in _columns(layer):
        want_row = pg.execute(
            f"SELECT pg_typeof(t.{_q(column)})::text FROM {_q(table)} t RIGHT JOIN (SELECT 1) one ON true"
        ).fetchone()
        try:
            compiled = layer.compile(f"SELECT pg_typeof({_q(column)}) FROM {_q(table)} LIMIT 1", ())
        except PgError as e:
            # a column that cannot be selected on its own (metric_time needs a metric) has no type to ask for
            with pytest.raises(PgError) as plain:
                layer.compile(f"SELECT {_q(column)} FROM {_q(table)} LIMIT 1", ())
            assert (plain.value.sqlstate, plain.value.message) == (e.sqlstate, e.message)
            continue
        got_rows = con.sql(compiled.sql).fetchall()
        want, got = want_row[0] if want_row else None, got_rows[0][0] if got_rows else None
        if want != got or compiled.columns[0].name != "pg_typeof":
            differences.append(f"{table}.{column}: PostgreSQL {want!r}, ours {got!r} ({compiled.columns[0].name})")
    assert not differences, "\n".join(differences)


def test_pg_typeof_around_a_semantic_subquery(layer: SemanticLayer, con: duckdb.DuckDBPyConnection,
                                              pg: psycopg.Connection[Any]) -> None:
    """In SQL wrapped around a semantic query the argument's type comes from the subquery's announced columns."""
    sql = ("SELECT pg_typeof(x) AS a, pg_typeof(x * 2) AS b, pg_typeof(y) AS c "
           "FROM (SELECT revenue AS x, status AS y FROM orders GROUP BY 2) s")
    announced = {c.name: c.type for t in layer.schema.tables if t.name == "orders" for c in t.columns}
    x, y = (pg.execute("SELECT format_type(%s, %s)", (announced[n].oid, announced[n].typmod)).fetchone()[0]
            for n in ("revenue", "status"))
    want = pg.execute(
        "SELECT pg_typeof(x)::text AS a, pg_typeof(x * 2)::text AS b, pg_typeof(y)::text AS c "
        f"FROM (SELECT NULL::{x} AS x, NULL::{y} AS y) s"
    ).fetchall()
    assert con.sql(layer.compile(sql, ()).sql).fetchall()[:1] == want
