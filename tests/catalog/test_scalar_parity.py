"""Scalar expressions through the catalog engine and a real PostgreSQL 15: the same text (and binary) bytes,
the same result type OID, the same SQLSTATE on errors.

Each expression is sent as `SELECT <expr>` to both. PostgreSQL answers over libpq with its own output
functions; the catalog engine's Arrow result goes through the gateway's RowEncoder, so what is compared is
what a client would read from either server.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pyarrow as pa
import pytest
from psycopg import pq

from gateway.protocol import messages as m
from gateway.protocol.codec import BackendDecoder
from gateway.protocol.rowenc import RowEncoder
from gateway.session.results import _REG_TYPES
from tests.pgserver import postgres_available
from virtual_schema.catalog.engine import CatalogSession
from virtual_schema.errors import PgError

pytestmark = pytest.mark.skipif(not postgres_available(), reason="PostgreSQL 15 binaries not installed")

ARITHMETIC = [
    "1::numeric/3", "10::numeric/7", "1.0::numeric/3", "2.5/3", "1/3", "7/2", "-7/2", "7 % 3", "-7 % 3",
    "7.5 % 2", "1::int2 + 1::int2", "1::int2 * 2", "2::int8 / 3", "1::float8/3", "1/3::float8", "10::numeric/4",
    "1::numeric/3 * 3", "(1::numeric/3)::numeric(10,4)", "100000::numeric/3", "0.0001::numeric/3",
    "12345678901234567890::numeric/7", "1/3.0", "2::numeric/0.5", "(-1)::numeric/3", "0::numeric/5",
    "pg_typeof(1::numeric/3)", "pg_typeof(1/3)", "pg_typeof(1::int8/2)", "pg_typeof(2.5/3)", "pg_typeof(1::float8/3)",
    "pg_typeof(1::int2 + 1::int2)", "pg_typeof('a'::text)", "pg_typeof(now()::timestamp)",
    "2147483647 + 1", "(-32768)::int2 - 1::int2", "9223372036854775807::int8 + 1", "1/0", "1::numeric/0",
    "1.5/0", "1::float8/0", "5 % 0", "2147483647 * 2", "1.5 * 2.25", "0.1 + 0.2", "1 - 2.50",
    "3 * 1.10", "1.10 + 1", "- 2.5", "-(1::numeric/3)", "1::numeric/3 + 1", "1::numeric/3 > 0.3",
    "(2::numeric/3)::int", "(10::numeric/3)::numeric(2,1)", "(10::numeric/3)::numeric(1,1)", "12.5::numeric % 5",
    "(1::numeric/3)::float8", "(1::numeric/3)::text", "(1::numeric/7)/(1::numeric/3)",
    "(SELECT sum(x)/count(x) FROM (VALUES (1::numeric), (2::numeric)) v(x))",
    "(SELECT sum(x)/count(*) FROM (VALUES (1.25), (2.5)) v(x))",
    "(WITH v(x) AS (VALUES (1::numeric), (2)) SELECT sum(x)/count(x) FROM v)",
    "abs(-2147483648)", "(-2147483647 - 1) / -1", "div(7, 2)", "div(7.5, 2)", "div(-7.5, 2)", "div(1, 0.0)",
    "1::float4/3", "1::float4 + 0.1::float8", "0.1::float4 * 3", "1e308::float8 * 10", "1e308::float8 + 1e308::float8",
    "-1e308::float8 - 1e308::float8", "1e308::float8 / 0.1", "'Infinity'::float8 + 1", "'Infinity'::float8 * 0",
    "avg(2)", "avg(1.5)", "(SELECT avg(x) FROM (VALUES (1), (2), (4)) v(x))",
    "(SELECT avg(x) FROM (VALUES (1.5), (2.25)) v(x))", "(SELECT avg(DISTINCT x) FROM (VALUES (1), (1), (2)) v(x))",
    "(SELECT avg(x) FROM (VALUES (1)) v(x) WHERE false)", "(SELECT coalesce(sum(x), 0) FROM (VALUES (1.5)) v(x))",
]
CASTS = [
    "1.5::int", "2.5::int", "-2.5::int", "'12'::int + 1", "1::numeric", "1.50::numeric", "3.7::int8",
    "10::float8", "1.5::float8", "0.1::float8 + 0.2::float8", "1::text", "1.50::text", "'3.14'::numeric",
    "'3.14'::float8", "'abc'::int", "123.456::numeric(5,1)", "99999::numeric(3,0)", "1e3::numeric",
    "(1/3::float8)::numeric", "12.5::numeric::text", "'1.0'::float8::text", "40000::int2",
    "(1+2)::numeric", "count(*)::numeric", "'1.50'::text::numeric", "(7/2)::numeric", "' 2.50 '::text::numeric",
    "'x'::text::numeric", "'1.5'::int", "'2147483648'::int", "' 12 '::int", "'-32768'::int2", "'32768'::int2",
    "'9223372036854775808'::int8", "3.0 * 1e2", "1e2", "1.5e-3", "1e3::float8", "1e-2 + 1", "2.5e1::int",
    "NULL::numeric", "true::int", "'t'::boolean::text",
]
MATH = [
    "round(2.5)", "round(-2.5)", "round(1.2345, 2)", "round(1.235::numeric, 2)", "round(1234.5, -2)",
    "round(2.5::float8)", "trunc(1.999, 2)", "trunc(-1.5)", "ceil(1.2)", "ceil(-1.2)", "floor(-1.2)",
    "floor(1.8::float8)", "abs(-3)", "abs(-3.50)", "abs(-2::int8)", "power(2, 10)",
    "sqrt(16)", "sqrt(2::numeric)", "sqrt(2)", "sqrt(0::numeric)", "sqrt(100.0)",
    "sqrt(-1::numeric)", "sqrt(12345678.9::numeric)", "round(1::numeric/3, 4)",
    "round(10::numeric/3, 2)", "abs(-1::numeric/3)",
    "sign(-3.5)", "mod(7, 3)", "round(2)", "trunc(2)", "sign(2)", "round(2::int8)", "round(2, 1)", "trunc(1234, -2)",
    "round(1250, -2)", "sign(0)", "round(-7, -1)", "ceil(2)",
    "power(2.0, 3)", "power(2::numeric, 0.5)", "power(1.5, 2)", "2.0 ^ 3", "2 ^ 10", "2.0 ^ 10", "10.0 ^ 20",
    "0.5 ^ 3", "2.0 ^ -2", "(-2.0) ^ 3", "(-2.0) ^ 0.5", "0.0 ^ -1", "0.0 ^ 0", "1.5 ^ 2.5", "100.0 ^ 0.5",
    "10.0 ^ 1.5", "2.5 ^ 100", "0.1 ^ 30", "1.23456789012345678 ^ 2", "0.001 ^ 0.5", "12345.678 ^ 1.5",
]
STRINGS = [
    "lower('AbC')", "upper('abc')", "length('hello')", "length('')", "substring('hello', 2, 3)",
    "substring('hello' from 2)", "substr('hello', 2)", "position('l' in 'hello')", "replace('hello', 'l', 'L')",
    "concat('a', 1, NULL, 'b')", "'a' || 'b'", "'a' || 1", "'a' || NULL", "lpad('7', 3, '0')", "rpad('ab', 5, '-')",
    "lpad('hello', 3)", "btrim('  x  ')", "btrim('xxyxx', 'x')", "ltrim('  x')", "rtrim('x  ')",
    "split_part('a,b,c', ',', 2)", "split_part('a,b,c', ',', 5)", "left('hello', 2)", "right('hello', 2)",
    "left('hello', -2)", "repeat('ab', 3)", "reverse('abc')", "initcap('hello world')", "strpos('hello', 'll')",
    "char_length('héllo')", "octet_length('héllo')", "md5('a')", "trim(both 'x' from 'xax')",
    "substring('hello', 0, 3)", "substring('hello', -1, 3)", "substring('hello', 2, -1)", "substr('hello', -3)",
    "substring('hello', 1, 2147483647)", "split_part('a,b', ',', 0)", "split_part('a,b', ',', -1)", "to_hex(255)",
    "to_hex(-1)", "to_hex(-1::int8)", "'x' || 1.0::float8", "1.5::float8 || 'x'", "concat_ws(',', 'a', NULL, 'b')",
    "left('abc', 0)", "repeat('x', -1)", "regexp_replace('abc', 'b', 'x')", "translate('abc', 'ab', 'x')",
]
CONDITIONALS = [
    "coalesce(NULL, 2, 3)", "coalesce(NULL::int, 2.5)", "nullif(1, 1)", "nullif(1, 2)", "greatest(1, 3, 2)",
    "greatest(1.5, 2.5)", "greatest('a', 'b')", "CASE WHEN 1 > 0 THEN 'yes' ELSE 'no' END",
    "CASE 2 WHEN 1 THEN 'one' WHEN 2 THEN 'two' END", "CASE WHEN false THEN 1 END",
    "CASE WHEN true THEN 2.5 ELSE 1.5 END", "coalesce(1, 2.50)", "coalesce(NULL, 2.50, 1)",
    "CASE WHEN true THEN 1 ELSE 2.5 END", "CASE WHEN false THEN 1 ELSE 2.5 END",
    "CASE WHEN true THEN '1.50' ELSE 2.5 END",
    "CASE WHEN true THEN 1::numeric/3 ELSE 2 END", "CASE 1::numeric/3 WHEN 1 THEN 1 ELSE 2.5 END",
    "coalesce(1::numeric/3, 2)", "greatest(1.5, NULL, 2)", "least(1.5, 2, 0)", "greatest(1, 2.50)",
    "least(NULL::numeric, NULL)", "greatest(1::numeric/3, 0.5)", "greatest(1.0, 1.00)", "coalesce(NULL::numeric, 1.50)",
]
DATES = [
    "date '2024-01-31' + 1", "date '2024-03-01' - date '2024-02-01'", "date '2024-01-31' + interval '1 month'",
    "timestamp '2024-01-01 10:00' + interval '90 minutes'", "timestamp '2024-01-02' - timestamp '2024-01-01 12:00'",
    "date_trunc('month', timestamp '2024-05-17 13:45:10')", "date_trunc('year', date '2024-05-17')",
    "date_trunc('hour', timestamp '2024-05-17 13:45:10')",
    "extract(year from date '2024-05-17')", "extract(epoch from timestamp '2024-01-01')",
    "extract(dow from date '2024-05-17')", "date_part('month', date '2024-05-17')",
    "to_char(timestamp '2024-05-17 13:45:10', 'YYYY-MM-DD HH24:MI:SS')", "to_char(date '2024-05-17', 'Mon DD, YYYY')",
    "date '2024-05-17' - 7", "'2024-05-17'::date", "'2024-05-17 01:02:03'::timestamp", "date '2024-02-29' + 365",
    "date '2024-05-17'::timestamp", "timestamp '2024-05-17 10:00'::date", "interval '1 day'::text",
    "to_timestamp('2024-05-17 10:00', 'YYYY-MM-DD HH24:MI')", "to_date('2024-05-17', 'YYYY-MM-DD')",
    "to_char(timestamp '2024-05-17 13:45:10', 'HH12:MI AM')",
    "to_char(timestamp '2024-05-17 13:45:10', 'Day, DD Month YYYY')",
    "to_char(timestamp '2024-05-17 13:45:10', 'FMDay FMMonth FMDD')", "to_char(date '2024-05-17', 'YYYY\"Q\"Q')",
    "to_char(date '2024-05-05', 'D')", "to_char(timestamp '2024-05-17 13:45:10.123456', 'US MS')",
    "to_char(date '2024-05-17', 'MON mon DY dy day IYYY-IW')", "to_char(date '2024-05-01', 'DDth DDTH FMDDth')",
    "to_char(date '2024-05-13', 'FMDDth')", "to_char(date '2024-05-17', 'Y,YYY CC J W WW DDD RM rm')",
    "to_char(timestamp '2024-05-17 00:05:00', 'HH HH12 a.m. P.M. SSSS')", "to_char(date '2024-05-17', 'yyyy-mm-dd')",
    "to_char(NULL::date, 'YYYY')", "age(timestamp '2024-03-01', timestamp '2023-01-15')",
    "date_trunc('quarter', timestamp '2024-05-17 13:45:10')", "extract(isodow from date '2024-05-19')",
    "extract(epoch from interval '1 day')", "timestamp '2024-01-31 10:00' - interval '1 month'",
]
EXPRESSIONS = ARITHMETIC + CASTS + MATH + STRINGS + CONDITIONALS + DATES

Answer = tuple[Any, ...]


def pg_answer(conn: psycopg.Connection[Any], sql: str, fmt: int) -> Answer:
    """PostgreSQL's (type OID, value bytes) of a one-value statement, or ("error", SQLSTATE)."""
    res = conn.pgconn.exec_params(sql.encode(), [], result_format=fmt)
    if res.status != pq.ExecStatus.TUPLES_OK:
        state = res.error_field(pq.DiagnosticField.SQLSTATE)
        return ("error", state.decode() if state else None)
    return (res.ftype(0), res.get_value(0, 0))


def our_answer(session: CatalogSession, sql: str, fmt: int) -> Answer:
    """The catalog engine's (announced type OID, DataRow bytes) for the same statement, or ("error", SQLSTATE)."""
    try:
        res = session.execute(sql)
        batches = list(res.batches)
    except PgError as e:
        return ("error", e.sqlstate)
    col = res.columns[0]
    table = pa.Table.from_batches(batches).combine_chunks()
    if fmt == 1 and col.type.oid in _REG_TYPES:  # the session's step for binary reg* columns: names → OIDs
        oids = pa.array([None if v is None else session.reg_oid(col.type.oid, v) for v in table.column(0).to_pylist()],
                        pa.uint32())
        table = pa.table([oids], names=table.column_names)
    out = BackendDecoder().feed(RowEncoder([col.type], [fmt]).encode(table.to_batches()[0]))
    rows = [x for x in out if isinstance(x, m.DataRow)]
    return (col.type.oid, rows[0].values[0])


@pytest.mark.parametrize("fmt", [0, 1], ids=["text", "binary"])
@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_scalar_matches_postgres(pg_utc: psycopg.Connection[Any], catalog_utc: CatalogSession, expr: str,
                                 fmt: int) -> None:
    sql = f"SELECT {expr}"
    assert our_answer(catalog_utc, sql, fmt) == pg_answer(pg_utc, sql, fmt)


TEMP_SETUP = [
    "CREATE TEMP TABLE parity_n (id int, x numeric, y numeric(10,2), f float8)",
    "INSERT INTO parity_n VALUES (1, 1, 1.50, 0.5), (2, 2, 2.25, 1.5), (3, NULL, NULL, NULL)",
]
TEMP_QUERIES = [
    "SELECT sum(x)/count(x) FROM parity_n",
    "SELECT sum(y)/count(*) FROM parity_n",
    "SELECT x/3 FROM parity_n WHERE id = 1",
    "SELECT y/x FROM parity_n WHERE id = 2",
    "SELECT round(y/3, 3) FROM parity_n WHERE id = 1",
    "SELECT x/3 FROM parity_n WHERE id = 3",
    "SELECT pg_typeof(y/x) FROM parity_n WHERE id = 1",
    "SELECT f/x FROM parity_n WHERE id = 2",
    "SELECT count(*) FROM parity_n WHERE x/3 > 0.5",
    "SELECT id FROM parity_n WHERE x IS NOT NULL ORDER BY y/x DESC LIMIT 1",
    "SELECT string_agg(q::text, ' ') FROM (SELECT y/3 AS q FROM parity_n GROUP BY y/3 ORDER BY 1 DESC) s",
    "SELECT string_agg(q::text, ' ') FROM (SELECT (y*8)/3 AS q FROM parity_n ORDER BY q) s",
    "SELECT string_agg(q::text, ' ') FROM (SELECT DISTINCT (y*8)/3 + id*3 AS q FROM parity_n ORDER BY 1) s",
    "SELECT string_agg(a::text, ' ') FROM (SELECT id, avg(y) AS a FROM parity_n GROUP BY id ORDER BY 2) s",
    "SELECT max(x/3) FROM parity_n", "SELECT min(y/7) FROM parity_n", "SELECT round(avg(y), 1) FROM parity_n",
]


def test_temp_table_numeric_division(pg_utc: psycopg.Connection[Any], catalog_utc: CatalogSession) -> None:
    """Division over a temp table's numeric columns (an aggregate, a row, NULL, in WHERE and ORDER BY)."""
    for sql in TEMP_SETUP:
        pg_utc.execute(sql)
        catalog_utc.execute(sql)
    try:
        differences = []
        for sql in TEMP_QUERIES:
            want, got = pg_answer(pg_utc, sql, 0), our_answer(catalog_utc, sql, 0)
            if want != got:
                differences.append(f"{sql}\n  PostgreSQL: {want}\n  ours:       {got}")
        assert not differences, "\n".join(differences)
    finally:
        pg_utc.execute("DROP TABLE parity_n")
        catalog_utc.execute("DROP TABLE parity_n")


def test_temp_table_created_from_quotients(pg_utc: psycopg.Connection[Any], catalog_utc: CatalogSession) -> None:
    """CREATE TEMP TABLE … AS SELECT of exact quotients: the new numeric columns take arithmetic, comparisons and
    aggregates like PostgreSQL's (stored as doubles here, so compared by value, not by text)."""
    setup = ["CREATE TEMP TABLE parity_src (id int, x numeric, y numeric(10,2))",
             "INSERT INTO parity_src VALUES (1, 1, 1.50), (2, 2, 2.25), (3, NULL, NULL)",
             "CREATE TEMP TABLE parity_q AS SELECT id, y/3 AS q, x/7 AS r FROM parity_src"]
    queries = ["SELECT id, q * 3, r + 1, q > 0.6 FROM parity_q ORDER BY id",
               "SELECT sum(q), max(r), count(*) FILTER (WHERE q < 0.6) FROM parity_q"]
    for sql in setup:
        pg_utc.execute(sql)
        catalog_utc.execute(sql)
    try:
        for sql in queries:
            ours = catalog_utc.execute(sql)
            table = pa.Table.from_batches(list(ours.batches))
            got = list(zip(*(c.to_pylist() for c in table.columns), strict=True))  # names repeat: ?column?
            want = pg_utc.execute(sql).fetchall()
            assert [c.type.oid for c in ours.columns] == [d.type_code for d in pg_utc.execute(sql).description or ()]
            assert [tuple(float(v) if v is not None and not isinstance(v, bool) else v for v in r) for r in got] == \
                [tuple(pytest.approx(float(v)) if v is not None and not isinstance(v, bool) else v for v in r)
                 for r in want]
    finally:
        for t in ("parity_q", "parity_src"):
            pg_utc.execute(f"DROP TABLE {t}")
            catalog_utc.execute(f"DROP TABLE {t}")
