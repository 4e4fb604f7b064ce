"""Temporary tables read together with semantic tables (Tableau's filter, set and top-N temp tables).

Each statement runs through a real gateway over psycopg; the reference is plain SQL over the physical demo tables
in the same DuckDB warehouse file, with the temp table's rows written as a literal list, so the expected answer
owes nothing to the gateway's compiler.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from gateway.session.temp_inline import MAX_ROWS
from tests.server import GatewayProcess

FILTER = '"#Tableau_7_2_Filter"'


@pytest.fixture(scope="module")
def warehouse(demo_duckdb: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(demo_duckdb), read_only=True)
    yield con
    con.close()


@pytest.fixture()
def conn(gateway: GatewayProcess) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(gateway.dsn(), autocommit=True) as c:
        yield c


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=repr)


def _close(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    assert len(got) == len(want)
    for g, w in zip(_sorted(got), _sorted(want), strict=True):
        assert len(g) == len(w)
        for a, b in zip(g, w, strict=True):
            if isinstance(a, float) or isinstance(b, float):
                assert a == pytest.approx(float(b), rel=1e-12)
            else:
                assert a == b


def test_tableau_filter_temp_table_keeps_metrics_exact(conn: psycopg.Connection[Any],
                                                       warehouse: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f'CREATE LOCAL TEMPORARY TABLE {FILTER} ("X_status" TEXT) ON COMMIT PRESERVE ROWS')
    conn.execute(f"INSERT INTO {FILTER} VALUES ('completed'), ('returned'), ('it''s not there')")
    got = conn.execute(
        f'SELECT "orders"."customer_id__region" AS "region", AVG("orders"."avg_order_value") AS "avg:aov", '
        f'SUM("orders"."revenue") AS "sum:revenue", SUM("orders"."order_count") AS "n" '
        f'FROM "public"."orders" "orders" INNER JOIN {FILTER} '
        f'ON ("orders"."status" = {FILTER}."X_status") GROUP BY 1').fetchall()
    want = warehouse.execute(
        "SELECT c.region, AVG(o.amount), SUM(o.amount), COUNT(o.order_id) FROM orders o "
        "LEFT JOIN customers c ON o.customer_id = c.customer_id "
        "WHERE o.status IN ('completed', 'returned', 'it''s not there') GROUP BY 1").fetchall()
    _close(got, want)
    # the same filter as a subquery, and null-safe as Tableau writes it for a nullable field
    got = conn.execute(f'SELECT channel, revenue FROM orders WHERE status IN (SELECT "X_status" FROM {FILTER})'
                       ).fetchall()
    want = warehouse.execute("SELECT channel, SUM(amount) FROM orders WHERE status IN ('completed', 'returned') "
                             "GROUP BY 1").fetchall()
    _close(got, want)


def test_typed_columns_nulls_and_duplicates(conn: psycopg.Connection[Any],
                                            warehouse: duckdb.DuckDBPyConnection) -> None:
    conn.execute("CREATE TEMP TABLE picks (cid bigint, since date, at timestamp, cap numeric(10,2), gift boolean, "
                 "label varchar(20))")
    rows = [(3, dt.date(2023, 1, 1), dt.datetime(2024, 3, 1, 12, 30), Decimal("250.50"), True, "a"),
            (3, dt.date(2023, 1, 1), dt.datetime(2024, 3, 1, 12, 30), Decimal("250.50"), True, "a"),  # duplicate
            (7, None, dt.datetime(2023, 6, 1), None, False, "b\\'q"),
            (None, dt.date(2024, 1, 1), None, Decimal("-1.25"), None, None)]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO picks VALUES (%s, %s, %s, %s, %s, %s)", rows)
    # every typed column comes back as stored, next to a model's columns (the duplicate row joins twice)
    got = conn.execute("SELECT p.cid, p.since, p.at, p.cap, p.gift, p.label, c.customer_id, c.region "
                       "FROM customers c JOIN picks p ON c.customer_id = p.cid").fetchall()
    want = [(r[0], *r[1:6], r[0], reg) for r in rows if r[0] is not None
            for (reg,) in warehouse.execute("SELECT region FROM customers WHERE customer_id = ?", [r[0]]).fetchall()]
    assert _sorted(got) == _sorted(want)
    got = conn.execute("SELECT ordered_at__month, order_count FROM orders o "
                       "WHERE o.ordered_at >= (SELECT min(at) FROM picks) "
                       "AND o.customer_id > (SELECT max(cap) FROM picks) "
                       "AND o.is_gift IN (SELECT gift FROM picks) GROUP BY 1").fetchall()
    want = warehouse.execute("SELECT date_trunc('month', order_ts), COUNT(order_id) FROM orders "
                             "WHERE order_ts >= TIMESTAMP '2023-06-01' AND customer_id > 250.50 "
                             "AND is_gift IN (true, false) GROUP BY 1").fetchall()
    assert _sorted(got) == _sorted(want)


def test_unconstrained_numeric_keeps_its_digits(conn: psycopg.Connection[Any]) -> None:
    """A temp table's plain numeric column keeps every digit, in the catalog and when read with a model."""
    conn.execute("CREATE TEMP TABLE nv (v numeric)")
    conn.execute("INSERT INTO nv VALUES (0.12345), (1.5), (2), (NULL)")
    assert conn.execute("SELECT v FROM nv ORDER BY v").fetchall() == [
        (Decimal("0.12345"),), (Decimal("1.5"),), (Decimal("2"),), (None,)]
    got = conn.execute("SELECT o.order_id, nv.v FROM orders o JOIN nv ON o.order_id = nv.v ORDER BY 1").fetchall()
    assert got == [(2, Decimal("2"))]
    assert conn.execute("SELECT count(*) FROM orders o WHERE o.order_id < (SELECT min(v) FROM nv) + 1").fetchone() \
        == (1,)
    assert sorted(v for (v,) in conn.execute(
        "SELECT nv.v FROM nv LEFT JOIN (SELECT status FROM orders) o ON false").fetchall() if v is not None) \
        == [Decimal("0.12345"), Decimal("1.5"), Decimal("2")]


def test_rows_are_read_when_the_statement_runs(conn: psycopg.Connection[Any]) -> None:
    """A prepared statement sees the temp table's rows as they are at each Execute, as in PostgreSQL."""
    conn.execute("CREATE TEMP TABLE st (s text)")
    query = "SELECT o.status, o.order_count FROM orders o JOIN st ON o.status = st.s ORDER BY 1"
    assert conn.execute(query, prepare=True).fetchall() == []
    conn.execute("INSERT INTO st VALUES ('pending')")
    first = conn.execute(query, prepare=True).fetchall()
    assert [r[0] for r in first] == ["pending"]
    conn.execute("INSERT INTO st VALUES ('shipped')")
    assert [r[0] for r in conn.execute(query, prepare=True).fetchall()] == ["pending", "shipped"]
    with conn.transaction():
        conn.execute("DELETE FROM st WHERE s = 'pending'")
        assert [r[0] for r in conn.execute(query, prepare=True).fetchall()] == ["shipped"]
        conn.execute("ROLLBACK")  # psycopg's block then sees the rollback as an error; the rows come back
    assert [r[0] for r in conn.execute(query, prepare=True).fetchall()] == ["pending", "shipped"]
    # NOT IN an empty table keeps every row; a left join keeps rows without a match
    conn.execute("DELETE FROM st")
    assert len(conn.execute("SELECT status, order_count FROM orders WHERE status NOT IN (SELECT s FROM st)"
                            ).fetchall()) == 5
    assert conn.execute("SELECT count(st.s), count(*) FROM (SELECT status FROM orders) o "
                        "LEFT JOIN st ON o.status = st.s").fetchone() == (0, 5)


def test_errors_point_into_the_statement_as_written(conn: psycopg.Connection[Any]) -> None:
    conn.execute("CREATE TEMP TABLE ef (s text)")
    conn.execute("INSERT INTO ef VALUES ('completed')")
    plain = "SELECT o.status FROM orders o WHERE o.nope = 1"
    with pytest.raises(psycopg.errors.UndefinedColumn) as err:
        conn.execute(plain)
    offset = int(err.value.diag.statement_position or 0) - plain.index("o.nope")
    sql = "SELECT o.status FROM orders o JOIN ef ON o.status = ef.s WHERE o.nope = 1"
    with pytest.raises(psycopg.errors.UndefinedColumn) as err:
        conn.execute(sql)
    assert err.value.diag.statement_position == str(sql.index("o.nope") + offset)
    with pytest.raises(psycopg.errors.FeatureNotSupported):  # a model with the catalog: still refused
        conn.execute("SELECT o.status FROM orders o JOIN ef ON o.status = ef.s JOIN pg_class c ON c.relname = ef.s")
    assert conn.execute("SELECT count(*) FROM ef").fetchone() == (1,)


def test_too_many_rows_is_refused_and_the_session_goes_on(conn: psycopg.Connection[Any]) -> None:
    conn.execute("CREATE TEMP TABLE big (n bigint)")
    conn.execute(f"INSERT INTO big SELECT generate_series(1, {MAX_ROWS + 1})")
    with pytest.raises(psycopg.errors.FeatureNotSupported) as err:
        conn.execute("SELECT order_id FROM orders WHERE order_id IN (SELECT n FROM big)")
    assert "big" in str(err.value)
    conn.execute("DELETE FROM big WHERE n > 1000")
    got = conn.execute("SELECT count(*) FROM orders WHERE order_id IN (SELECT n FROM big)").fetchone()
    assert got == (1000,)


def test_select_into_temp_holds_what_the_select_returns(conn: psycopg.Connection[Any],
                                                       warehouse: duckdb.DuckDBPyConnection) -> None:
    """Tableau's context filter: SELECT … INTO TEMPORARY TABLE from a model, then queries on the temp table."""
    query = ("SELECT status, revenue, avg_order_value, ordered_at__month AS m, EXTRACT(YEAR FROM ordered_at) AS y "
             "FROM orders WHERE channel = 'web'")
    direct = conn.execute(query)
    want = direct.fetchall()
    types = [(d.name, d.type_code, d.display_size, d.precision, d.scale) for d in direct.description or ()]
    cur = conn.execute(query.replace(" FROM orders", ' INTO TEMPORARY TABLE "#Tableau_9_Context" FROM orders'))
    assert cur.statusmessage == f"SELECT {len(want)}"
    stored = conn.execute('SELECT * FROM "#Tableau_9_Context"')
    assert _sorted(stored.fetchall()) == _sorted(want)
    assert [(d.name, d.type_code, d.display_size, d.precision, d.scale) for d in stored.description or ()] == types
    # the declared types reach the catalog (psql's \d reads them) and the table is visible
    assert conn.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                        "WHERE attrelid = '\"#Tableau_9_Context\"'::regclass AND attnum > 0 ORDER BY attnum"
                        ).fetchall() == [("text",), ("numeric(38,2)",), ("double precision",),
                                         ("timestamp without time zone",), ("numeric",)]
    assert conn.execute("SELECT pg_table_is_visible('\"#Tableau_9_Context\"'::regclass)").fetchone() == (True,)
    total = warehouse.execute("SELECT SUM(amount) FROM orders WHERE channel = 'web'").fetchone()
    assert conn.execute('SELECT sum(revenue) FROM "#Tableau_9_Context"').fetchone() == total


def test_create_table_as_and_insert_select(conn: psycopg.Connection[Any]) -> None:
    cur = conn.execute("CREATE TEMP TABLE reg (r, n) AS SELECT customer_id__region, order_count FROM orders")
    regions = conn.execute("SELECT customer_id__region, order_count FROM orders").fetchall()
    assert cur.statusmessage == f"SELECT {len(regions)}"
    assert _sorted(conn.execute("SELECT r, n FROM reg").fetchall()) == _sorted(regions)
    statuses = conn.execute("SELECT status, order_count FROM orders").fetchall()
    cur = conn.execute("INSERT INTO reg (n, r) SELECT order_count, status FROM orders")
    assert cur.statusmessage == f"INSERT 0 {len(statuses)}"
    assert _sorted(conn.execute("SELECT * FROM reg").fetchall()) == _sorted(regions + statuses)
    # WITH NO DATA creates the table only; IF NOT EXISTS skips with a notice, as PostgreSQL 15 does
    assert conn.execute("CREATE TEMP TABLE nod AS SELECT status, revenue FROM orders WITH NO DATA"
                        ).statusmessage == "CREATE TABLE AS"
    assert conn.execute("SELECT * FROM nod").fetchall() == []
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(f"{d.sqlstate} {d.message_primary}"))
    assert conn.execute("CREATE TEMP TABLE IF NOT EXISTS nod AS SELECT status FROM orders"
                        ).statusmessage == "CREATE TABLE AS"
    assert notices == ['42P07 relation "nod" already exists, skipping']
    for sql, sqlstate in [("CREATE TEMP TABLE nod AS SELECT status FROM orders", "42P07"),
                          ("INSERT INTO nod SELECT status, revenue, order_count FROM orders", "42601"),
                          ("INSERT INTO nod (nope) SELECT status FROM orders", "42703"),
                          ("CREATE TEMP TABLE two (a, a) AS SELECT status, channel FROM orders", "42701"),
                          ("CREATE TEMP TABLE three (a, b, c) AS SELECT status, channel FROM orders", "42601"),
                          ("INSERT INTO nod SELECT status, revenue FROM orders RETURNING status", "0A000")]:
        with pytest.raises(psycopg.Error) as err:
            conn.execute(sql)
        assert err.value.sqlstate == sqlstate, sql
    # EXPLAIN shows the warehouse SQL of the SELECT whose rows it would write; with ANALYZE it is refused
    plan = [r[0] for r in conn.execute("EXPLAIN CREATE TEMP TABLE x AS SELECT status, revenue FROM orders")]
    assert plan == [r[0] for r in conn.execute("EXPLAIN SELECT status, revenue FROM orders")]
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        conn.execute("EXPLAIN ANALYZE CREATE TEMP TABLE x AS SELECT status, revenue FROM orders")
    assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'x'").fetchone() == (0,)
    # in a block the write is undone by ROLLBACK; the session goes on
    conn.execute("BEGIN")
    conn.execute("INSERT INTO nod SELECT status, revenue FROM orders")
    assert conn.execute("SELECT count(*) FROM nod").fetchone() == (5,)
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM nod").fetchone() == (0,)


def test_load_through_the_extended_protocol_with_parameters(conn: psycopg.Connection[Any]) -> None:
    conn.execute("CREATE TEMP TABLE ch (channel text, n bigint)")
    for _ in range(2):  # prepared once, executed twice
        conn.execute("INSERT INTO ch SELECT channel, order_count FROM orders WHERE status = %s", ("completed",),
                     prepare=True)
    want = conn.execute("SELECT channel, order_count FROM orders WHERE status = 'completed'").fetchall()
    assert _sorted(conn.execute("SELECT * FROM ch").fetchall()) == _sorted(want * 2)


def test_text_beyond_ascii_before_the_temp_table(conn: psycopg.Connection[Any],
                                                 warehouse: duckdb.DuckDBPyConnection) -> None:
    """Non-ASCII text ahead of a temp table's name or a load's SELECT (PostgreSQL's parse tree counts bytes, its
    scanner characters): the statement is cut where it was written."""
    conn.execute('CREATE TEMP TABLE "filtré" (s text)')
    conn.execute("""INSERT INTO "filtré" VALUES ('completed'), ('déjà vu')""")
    got = conn.execute("""SELECT 'é€' AS label, count(*) AS n FROM orders o JOIN "filtré" f ON f.s = o.status"""
                       ).fetchall()
    want = warehouse.execute("SELECT 'é€', COUNT(*) FROM orders WHERE status = 'completed'").fetchall()
    assert got == want
    cur = conn.execute("""CREATE TEMP TABLE "résumé" AS SELECT 'ü' AS u, status FROM orders WHERE channel = 'web'""")
    n = warehouse.execute("SELECT COUNT(DISTINCT status) FROM orders WHERE channel = 'web'").fetchone()
    assert n is not None and cur.statusmessage == f"SELECT {n[0]}"
    assert conn.execute('SELECT DISTINCT u FROM "résumé"').fetchall() == [("ü",)]
    cur = conn.execute("""SELECT 'ß' AS s, status INTO TEMP "übrig" FROM orders WHERE channel = 'web'""")
    assert cur.statusmessage == f"SELECT {n[0]}"
