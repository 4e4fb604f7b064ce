"""PostgreSQL arithmetic over virtual columns: integer `/`, `%`, float text in `||`, division by zero.

Each query is compiled for DuckDB and run on the fixture warehouse; the same statement runs as plain SQL on a
real PostgreSQL 15 over a copy of the same rows with the types the virtual table announces. Answers must be equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import duckdb
import psycopg
import pytest

from gateway.backends.duckdb import map_duckdb_error
from tests.clients.pg import PgServer, start_postgres
from tests.golden import assert_golden
from virtual_schema.errors import PgError

# The virtual `orders` table as PostgreSQL sees it: the columns these queries use, typed as announced.
_PG_ORDERS = "create table orders (order_id bigint, customer_id bigint, ordered_at timestamp, status text)"
_ROWS = "select order_id, customer_id, date_trunc('day', order_ts) as ordered_at, status from orders order by 1"


@pytest.fixture(scope="module")
def pg(con: duckdb.DuckDBPyConnection) -> Iterator[psycopg.Connection[Any]]:
    server: PgServer = start_postgres()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as c:
            c.execute("SET TimeZone = 'UTC'")
            c.execute(_PG_ORDERS)
            with c.cursor() as cur:
                cur.executemany("insert into orders values (%s, %s, %s, %s)", con.execute(_ROWS).fetchall())
            yield c
    finally:
        server.stop()


def _norm(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    out = []
    for r in rows:
        out.append(tuple(float(v) if isinstance(v, Decimal) else v for v in r))
    return sorted(out, key=repr)


QUERIES = {
    # integers divide as integers, truncating toward zero (negative dividends and divisors)
    "int_div": "SELECT order_id, (order_id - 40) / 7 AS q, (order_id - 40) / -3 AS q2, "
               "(order_id - 40) % 7 AS r, (order_id - 40) % -3 AS r2 FROM orders",
    # Tableau's ISO quarter: CAST(... AS BIGINT) / 13 is integer division
    "tableau_iso_quarter": "SELECT (LEAST(CAST((EXTRACT(WEEK FROM ordered_at) - 1) AS BIGINT) / 13, 3) + 1) AS q, "
                           "COUNT(*) AS n FROM orders GROUP BY 1",
    # integer operands through CASE, COALESCE, date - date, nested divisions
    "int_div_nested": "SELECT order_id, COALESCE(order_id, 0) / 3 / 2 AS a, "
                      "CASE WHEN order_id > 40 THEN order_id ELSE -order_id END / 9 AS b, "
                      "(CAST(ordered_at AS DATE) - DATE '2024-01-01') / 7 AS c FROM orders",
    # casts to varchar(n) / char(n) cut the text to n characters (bpchar's trailing blanks do not count)
    "char_length_casts": "SELECT order_id, status::varchar(3) AS a, CAST(status AS VARCHAR(40)) AS b, "
                         "CAST(order_id AS VARCHAR(1)) AS c, LENGTH(status::char(2)) AS d, "
                         "status::char(4) || '|' AS e, CAST(status AS CHAR(4)) = 'canc' AS f FROM orders",
    # a cast to numeric without typmod keeps the digits (a bare DECIMAL is DuckDB's (18,3), Spark's (10,0))
    "bare_numeric_cast": "SELECT order_id, CAST(order_id * 0.00001 AS numeric) AS a, "
                         "CAST(order_id AS decimal) / 4 AS b FROM orders",
    # numeric operands keep exact division: EXTRACT is numeric in PostgreSQL, 2.0 is numeric
    "numeric_div": "SELECT order_id, EXTRACT(DAY FROM ordered_at) / 4 AS e, order_id / 8.0 AS f FROM orders",
    # ThoughtSpot's quarter start: FLOOR(numeric) and float8 concatenate without a fraction
    "thoughtspot_quarter": "SELECT CAST(EXTRACT(YEAR FROM ordered_at) || '-' || "
                           "((FLOOR(((EXTRACT(MONTH FROM ordered_at) - 1) / NULLIF(3,0))) * 3) + 1) || '-01' AS DATE)"
                           " AS d, COUNT(*) AS n FROM orders GROUP BY 1",
    "float_text": "SELECT order_id, CAST(order_id AS DOUBLE PRECISION) / 4 || '' AS t, "
                  "CAST(CAST(order_id AS DOUBLE PRECISION) * 1000 AS TEXT) AS u FROM orders",
}


@pytest.mark.parametrize("name", list(QUERIES))
def test_answers_as_postgresql(name: str, con: duckdb.DuckDBPyConnection, layer: Any,
                               pg: psycopg.Connection[Any]) -> None:
    sql = QUERIES[name]
    got = con.execute(layer.compile(sql).sql).fetchall()
    want = pg.execute(sql).fetchall()  # type: ignore[arg-type]
    assert len(got) == len(want) > 1
    assert _norm(got) == _norm(want)


def test_integer_division_result_types(layer: Any) -> None:
    q = layer.compile("SELECT (order_id - 40) / 7 AS a, CAST(order_id AS INT) / 2 AS b, "
                      "EXTRACT(DAY FROM ordered_at) / 4 AS c FROM orders")
    assert [c.type.oid for c in q.columns][:2] == [20, 23]  # int8 / int4 → int8; int4 / int4 → int4
    assert q.columns[2].type.oid != 20  # an exact division is never announced as an integer


@pytest.mark.parametrize("sql", [
    "SELECT order_id, order_id / (customer_id - customer_id) AS q FROM orders",
    "SELECT order_id, order_id % (customer_id - customer_id) AS q FROM orders",
])
def test_division_by_zero_is_22012(sql: str, con: duckdb.DuckDBPyConnection, layer: Any,
                                   pg: psycopg.Connection[Any]) -> None:
    with pytest.raises(duckdb.Error) as got:
        con.execute(layer.compile(sql).sql).fetchall()
    with pytest.raises(psycopg.Error) as want:
        pg.execute(sql)  # type: ignore[arg-type]
    assert map_duckdb_error(got.value).sqlstate == want.value.sqlstate == "22012"


@pytest.mark.parametrize("name", ["int_div", "tableau_iso_quarter", "numeric_div", "thoughtspot_quarter"])
def test_databricks_renders_truncating_div(name: str, dbx_layer: Any) -> None:
    """Spark's `a DIV b` truncates toward zero (documented: the integral part of a / b) as PostgreSQL's
    integer `/` does; `/` stays for exact division."""
    sql = dbx_layer.compile(QUERIES[name]).sql
    assert_golden(f"pg_arith_{name}", "databricks", sql)
    assert (" DIV " in sql) == (name in ("int_div", "tableau_iso_quarter"))


# Ordinary SQL around a semantic subquery: the wrapper's `/` divides as PostgreSQL divides the subquery's
# announced column types. Each pair: (statement over the virtual table, the same over the plain table).
WRAPPED = {
    "wrapped_int_div": (
        "SELECT status, n / 7 AS q, n % 7 AS r, n / 2.0 AS s FROM "
        "(SELECT status, order_count - 40 AS n FROM orders) t",
        "SELECT status, n / 7 AS q, n % 7 AS r, n / 2.0 AS s FROM "
        "(SELECT status, COUNT(order_id) - 40 AS n FROM orders GROUP BY status) t",
    ),
    "wrapped_shadowed_name": (  # `n` is redefined by the middle SELECT as a float: stays exact division
        "SELECT status, n / 4 AS q FROM (SELECT status, CAST(n AS DOUBLE PRECISION) AS n FROM "
        "(SELECT status, order_count - 40 AS n FROM orders) a) b",
        "SELECT status, n / 4 AS q FROM (SELECT status, CAST(n AS DOUBLE PRECISION) AS n FROM "
        "(SELECT status, COUNT(order_id) - 40 AS n FROM orders GROUP BY status) a) b",
    ),
}


@pytest.mark.parametrize("name", list(WRAPPED))
def test_wrapper_answers_as_postgresql(name: str, con: duckdb.DuckDBPyConnection, layer: Any,
                                       pg: psycopg.Connection[Any]) -> None:
    semantic, plain = WRAPPED[name]
    got = con.execute(layer.compile(semantic).sql).fetchall()
    want = pg.execute(plain).fetchall()  # type: ignore[arg-type]
    assert len(got) == len(want) > 1
    assert _norm(got) == _norm(want)


# EXTRACT is numeric since PostgreSQL 14, with the field's scale (SECOND 6 decimals, MILLISECONDS 3, EPOCH of a
# timestamp 6, calendar fields none); date_part() stays double precision. Arithmetic over EXTRACT is numeric.
EXTRACT_QUERY = (
    "SELECT order_id, EXTRACT(YEAR FROM ordered_at) AS y, EXTRACT(EPOCH FROM ordered_at) AS e, "
    "EXTRACT(SECOND FROM ordered_at + INTERVAL '12.345678 seconds') AS s, "
    "EXTRACT(MILLISECONDS FROM ordered_at + INTERVAL '1.5 seconds') AS ms, EXTRACT(DOW FROM ordered_at) + 1 AS d, "
    "EXTRACT(YEAR FROM ordered_at) * 100 + EXTRACT(MONTH FROM ordered_at) AS ym, "
    "EXTRACT(EPOCH FROM CAST(ordered_at AS DATE)) AS ed, (EXTRACT(MONTH FROM ordered_at) - 1) / 3 AS q, "
    "date_part('month', ordered_at) AS m, date_part('second', ordered_at + INTERVAL '2.25 seconds') AS ds "
    "FROM orders"
)


def test_extract_is_numeric_as_in_postgresql(con: duckdb.DuckDBPyConnection, layer: Any,
                                             pg: psycopg.Connection[Any]) -> None:
    compiled = layer.compile(EXTRACT_QUERY)
    cur = pg.execute(EXTRACT_QUERY)  # type: ignore[arg-type]
    assert cur.description is not None
    assert [(c.name, c.type.oid) for c in compiled.columns] == [(d.name, d.type_code) for d in cur.description]
    want = sorted(cur.fetchall())
    got = sorted(con.execute(compiled.sql).fetchall())
    assert len(got) == len(want) > 1
    q = [d.name for d in cur.description].index("q")
    for g, w in zip(got, want, strict=True):
        # the digits PostgreSQL prints (2024, 12.345678, 1704103200.000000), except numeric division, whose
        # scale PostgreSQL picks per value (0.33333333333333333333): there the value is compared
        assert [str(v) for i, v in enumerate(g) if i != q] == [str(v) for i, v in enumerate(w) if i != q]
        assert float(g[q]) == pytest.approx(float(w[q]), rel=1e-15)


def test_extract_numeric_on_databricks(dbx_layer: Any, layer: Any) -> None:
    """Spark renders the same numeric EXTRACT (its own fields, exact decimal scaling) and announces the same types."""
    compiled = dbx_layer.compile(EXTRACT_QUERY)
    assert_golden("pg_arith_extract_numeric", "databricks", compiled.sql)
    assert compiled.columns == layer.compile(EXTRACT_QUERY).columns


def test_unaliased_extract_named_as_in_postgresql(layer: Any, pg: psycopg.Connection[Any]) -> None:
    sql = ("SELECT EXTRACT(YEAR FROM ordered_at), date_part('month', ordered_at), EXTRACT(SECOND FROM ordered_at), "
           "EXTRACT(EPOCH FROM ordered_at) + 1 FROM orders")
    cur = pg.execute(sql)  # type: ignore[arg-type]
    assert [(c.name, c.type.oid) for c in layer.compile(sql).columns] == [
        (d.name, d.type_code) for d in cur.description or []]


def test_wrapper_aggregates_typed_as_postgresql(con: duckdb.DuckDBPyConnection, layer: Any,
                                                pg: psycopg.Connection[Any]) -> None:
    """sum() and avg() in ordinary SQL around a semantic subquery announce PostgreSQL's result types (sum of a
    bigint is numeric, of an integer bigint, avg of an integer numeric), and the answers agree."""
    body = ("SELECT status, SUM(n) AS s8, SUM(CAST(n AS INTEGER)) AS s4, AVG(n) AS a8, SUM(n) + 1 AS s8p, "
            "AVG(CAST(n AS DOUBLE PRECISION)) AS af, SUM(CAST(n AS DOUBLE PRECISION)) AS sf FROM {} t GROUP BY status")
    compiled = layer.compile(body.format("(SELECT status, order_count AS n FROM orders)"))
    cur = pg.execute(body.format("(SELECT status, COUNT(order_id) AS n FROM orders GROUP BY status)"))  # type: ignore[arg-type]
    assert [c.type.oid for c in compiled.columns] == [d.type_code for d in cur.description]
    assert _norm(con.execute(compiled.sql).fetchall()) == _norm(cur.fetchall())


# exact: arguments the warehouse holds as numeric (EXTRACT), integers and floats; the text must be PostgreSQL's
ROUNDING = ("SELECT order_id, round(EXTRACT(SECOND FROM ordered_at), 2) AS a, "
            "trunc(EXTRACT(DAY FROM ordered_at) * 1.5, 1) AS b, ceil(EXTRACT(DAY FROM ordered_at) * 0.7) AS c, "
            "floor(EXTRACT(DAY FROM ordered_at) * 0.7) AS d, "
            "round(order_id, 1) AS e, ceil(order_id) AS f, round(CAST(order_id AS DOUBLE PRECISION) / 7) AS g, "
            "round(EXTRACT(DAY FROM ordered_at) * 0.75) AS h, round(EXTRACT(DAY FROM ordered_at) * 7, -1) AS i "
            "FROM orders")
# quotients: numeric in PostgreSQL, a double in the warehouse; types and values must be PostgreSQL's
QUOTIENTS = ("SELECT order_id, round(EXTRACT(DAY FROM ordered_at) / 7, 2) AS a, "
             "trunc(EXTRACT(DAY FROM ordered_at) / 7, 1) AS b, ceil(EXTRACT(DAY FROM ordered_at) / 7) AS c, "
             "floor(EXTRACT(DAY FROM ordered_at) / 3) AS d FROM orders")


def _text(rows: list[tuple[Any, ...]]) -> list[tuple[str, ...]]:
    """Values as their text: a numeric's scale shows (1.50 is not 1.5), a float8 holding 3.0 is 3."""
    return sorted(tuple(format(v, "g") if isinstance(v, float) else str(v) for v in r) for r in rows)


@pytest.mark.parametrize("wrapped", [False, True], ids=["semantic", "around a semantic subquery"])
@pytest.mark.parametrize("query", ["exact", "quotients"])
def test_rounding_functions_as_postgresql(wrapped: bool, query: str, con: duckdb.DuckDBPyConnection, layer: Any,
                                          pg: psycopg.Connection[Any]) -> None:
    """round / trunc / ceil / floor keep PostgreSQL's result types (numeric with the asked-for scale, float8 for
    a float or an integer argument) and values, directly over the model and in SQL around it."""
    inner = ROUNDING if query == "exact" else QUOTIENTS
    outer = ("SELECT order_id, round(a, 1) AS a, trunc(b) AS b, ceil(c) AS c, floor(d) AS d"
             + (", round(e, 2) AS e, f, round(g) AS g, h, i" if query == "exact" else ""))
    sql = f"{outer} FROM ({inner}) x" if wrapped else inner
    compiled = layer.compile(sql)
    cur = pg.execute(sql)  # type: ignore[arg-type]
    assert cur.description is not None
    assert [c.type.oid for c in compiled.columns] == [d.type_code for d in cur.description]
    got, want = con.execute(compiled.sql).fetchall(), cur.fetchall()
    assert len(got) == len(want) > 1
    if query == "exact":
        assert _text(got) == _text(want)
    else:
        assert _norm(got) == _norm(want)


# Decimal constants are numeric in PostgreSQL (`3.0` is numeric with scale 1, `1e3` numeric 1000), and
# arithmetic mixing them with integers is numeric: announced as plain numeric (typmod -1), printed at
# PostgreSQL's scale. Each pair: (statement over the virtual table, the same over the plain table).
DECIMAL_LITERALS = {
    "select_list": (
        "SELECT order_id, 3.0 AS b, 1.5 * order_id AS c, -1.5 AS d, 1.50 AS e, 1e3 AS f, order_id * 1e-3 AS g, "
        "round(1.5 * order_id, 1) AS h, order_id % 2.5 AS i, order_id + 0.25 AS j, 1.50 * 2 AS k, "
        "-order_id * 1.5 AS l, 2.5e-1 * order_id AS m, nullif(1.5, order_id) AS n, abs(-1.5 * order_id) AS o, "
        "order_id || '/' || (order_id * 1.5) AS p FROM orders",
        None,
    ),
    "case_same_scale": (
        "SELECT CASE WHEN status = 'placed' THEN 1.5 ELSE 2.5 END AS x, COUNT(*) AS n FROM orders GROUP BY 1",
        None,
    ),
    "group_by_expression": (  # constants in WHERE and HAVING still filter as PostgreSQL's numeric compares
        "SELECT order_id * 1.5 AS k, COUNT(*) AS n FROM orders WHERE order_id * 1.5 > 30.25 AND order_id < 6e1 "
        "AND order_id > 10.5 GROUP BY 1 HAVING COUNT(*) > 0.5", None,
    ),
    "base_aggregates": (
        "SELECT status, SUM(order_id * 1.5) AS s, MAX(order_id * 0.5) AS mx, SUM(order_id) AS si FROM orders "
        "GROUP BY 1", None,
    ),
    "wrapped": (
        "SELECT s, SUM(x) AS a, SUM(CAST(x AS INTEGER)) AS b, MAX(x * 1.5) AS c, SUM(x * 0.5) AS d, "
        "MIN(-x * 0.25) AS e FROM (SELECT status AS s, order_id AS x FROM orders) t GROUP BY s",
        None,
    ),
    "wrapped_metric_sum": (
        "SELECT SUM(n) AS s, SUM(n * 1.5) AS t FROM (SELECT status, order_count AS n FROM orders) t",
        "SELECT SUM(n) AS s, SUM(n * 1.5) AS t FROM (SELECT status, COUNT(order_id) AS n FROM orders "
        "GROUP BY status) t",
    ),
    "wrapped_case": (
        "SELECT s, CASE WHEN n > 10 THEN n * 1.5 ELSE n + 0.5 END AS c FROM "
        "(SELECT status AS s, order_count AS n FROM orders) t",
        "SELECT s, CASE WHEN n > 10 THEN n * 1.5 ELSE n + 0.5 END AS c FROM "
        "(SELECT status AS s, COUNT(order_id) AS n FROM orders GROUP BY status) t",
    ),
}


def _announced(cur: psycopg.Cursor[Any]) -> list[tuple[int, int]]:
    res = cur.pgresult
    assert res is not None and cur.description is not None
    return [(d.type_code, res.fmod(i)) for i, d in enumerate(cur.description)]


def _digits(rows: list[tuple[Any, ...]]) -> list[tuple[str, ...]]:
    """Values as PostgreSQL prints them: a numeric's text shows its scale (1.50, 3.0, 1000)."""
    return sorted(tuple(str(v) for v in r) for r in rows)


@pytest.mark.parametrize("name", list(DECIMAL_LITERALS))
def test_decimal_constants_are_numeric_as_in_postgresql(name: str, con: duckdb.DuckDBPyConnection, layer: Any,
                                                        pg: psycopg.Connection[Any]) -> None:
    semantic, plain = DECIMAL_LITERALS[name]
    compiled = layer.compile(semantic)
    cur = pg.execute(plain or semantic)  # type: ignore[arg-type]
    assert [(c.type.oid, c.type.typmod) for c in compiled.columns] == _announced(cur)
    got, want = con.execute(compiled.sql).fetchall(), cur.fetchall()
    assert len(got) == len(want) >= 1
    assert _digits(got) == _digits(want)


def test_numeric_quotient_and_mixed_scales(con: duckdb.DuckDBPyConnection, layer: Any,
                                           pg: psycopg.Connection[Any]) -> None:
    """A quotient with a decimal constant is numeric (computed as a double, README); CASE / COALESCE / GREATEST
    mixing scales are numeric without typmod, equal in value (every value printed at the largest scale)."""
    sql = ("SELECT order_id, order_id / 3.0 AS a, CASE WHEN status = 'placed' THEN 1.5 ELSE 2 END AS b, "
           "COALESCE(CASE WHEN order_id > 5 THEN customer_id END, 1.5) AS c, GREATEST(order_id, 2.5) AS d, "
           "CASE WHEN order_id > 5 THEN order_id * 1.5 END AS e FROM orders")
    compiled = layer.compile(sql)
    cur = pg.execute(sql)  # type: ignore[arg-type]
    assert [(c.type.oid, c.type.typmod) for c in compiled.columns] == _announced(cur) == [(20, -1)] + [(1700, -1)] * 5
    got, want = con.execute(compiled.sql).fetchall(), cur.fetchall()
    assert len(got) == len(want) > 1
    assert _norm(got) == _norm(want)


def test_union_typmod_as_in_postgresql(layer: Any, pg: psycopg.Connection[Any]) -> None:
    """A UNION keeps numeric(p,s) only when every branch has it (select_common_typmod); a decimal constant, an
    integer or NULL branch makes it plain numeric."""
    revenue = "CAST(1 AS numeric(38,2))"
    for branches in (["revenue", "revenue"], ["revenue", "1.5"], ["revenue", "1"], ["revenue", "NULL"],
                     ["1.5", "2.25"]):
        semantic = " UNION ALL ".join(f"SELECT {b} AS r FROM orders" if b == "revenue" else f"SELECT {b}"
                                      for b in branches)
        plain = " UNION ALL ".join(f"SELECT {revenue if b == 'revenue' else b} AS r" for b in branches)
        compiled = layer.compile(semantic)
        assert [(c.type.oid, c.type.typmod) for c in compiled.columns] == _announced(
            pg.execute(plain)), semantic  # type: ignore[arg-type]


def test_decimal_multiplication_does_not_overflow(con: duckdb.DuckDBPyConnection, layer: Any) -> None:
    """DuckDB keeps DECIMAL(18,2) * DECIMAL(2,1) at 18 digits; a multiplied constant is DECIMAL(38, s), so the
    product of a large amount (PostgreSQL: exact) neither overflows nor changes value."""
    compiled = layer.compile("SELECT order_id, CAST(order_id * 1e13 AS DECIMAL(18,2)) * 1.5 AS x FROM orders "
                             "WHERE order_id = 80")
    assert con.execute(compiled.sql).fetchall() == [(80, Decimal("1200000000000000.000"))]
    assert [(c.type.oid, c.type.typmod) for c in compiled.columns] == [(20, -1), (1700, -1)]


@pytest.mark.parametrize("name", ["select_list", "wrapped_case"])
def test_decimal_constants_on_databricks(name: str, dbx_layer: Any, layer: Any) -> None:
    compiled = dbx_layer.compile(DECIMAL_LITERALS[name][0])
    assert_golden(f"pg_arith_decimal_{name}", "databricks", compiled.sql)
    assert compiled.columns == layer.compile(DECIMAL_LITERALS[name][0]).columns


@pytest.mark.parametrize("sql", ["SELECT o.nope FROM orders o", 'SELECT o.status FROM orders o WHERE "o"."Nope" = 1',
                                 "SELECT nope FROM orders", "SELECT orders.status, public.orders.nope FROM orders"])
def test_unknown_column_position_as_postgresql(sql: str, layer: Any, pg: psycopg.Connection[Any]) -> None:
    """42703 points where the column reference starts (at its qualifier), as PostgreSQL's does."""
    with pytest.raises(PgError) as got:
        layer.compile(sql)
    with pytest.raises(psycopg.errors.UndefinedColumn) as want:
        pg.execute(sql)  # type: ignore[arg-type]
    assert got.value.sqlstate == "42703"
    assert str(got.value.position) == want.value.diag.statement_position


def test_char_length_casts_keep_postgresql_column_names(layer: Any, pg: psycopg.Connection[Any]) -> None:
    sql = "SELECT status::varchar(3), CAST(order_id AS CHAR(2)), 'abc'::varchar(2), o.status::text FROM orders o"
    want = pg.execute(sql)  # type: ignore[arg-type]
    assert [c.name for c in layer.compile(sql).columns] == [d.name for d in want.description or ()]


def test_power_bi_decimal_cast_keeps_decimals_on_databricks(dbx_layer: Any) -> None:
    """Power BI's `sum(cast(x as decimal))`: Spark's bare DECIMAL is DECIMAL(10,0), which drops every decimal."""
    sql = dbx_layer.compile("SELECT status, sum(cast(revenue AS decimal)) AS a0 FROM "
                            "(SELECT status, revenue FROM orders) t GROUP BY status").sql
    assert "AS DECIMAL)" not in sql and "AS DECIMAL(38, 10))" in sql
