"""COPY … TO STDOUT through a real gateway socket.

Where both servers hold the same rows (constants, VALUES lists, temp tables, pg_catalog) every CopyData message,
the command tag and every error (SQLSTATE and message) must be PostgreSQL 15's own, byte for byte. Over semantic
models, whose rows only the gateway holds, a COPY must carry exactly the rows its SELECT returns, which psycopg's
own COPY parser reads back in text, CSV and binary.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import pq

from tests.catalog import pgserver
from tests.pgserver import postgres_available
from tests.server import GatewayProcess

pytestmark = pytest.mark.skipif(not postgres_available(), reason="PostgreSQL 15 binaries not installed")

ROLE = "copier"  # PostgreSQL's reference session: an ordinary role, as the gateway's users are


@pytest.fixture(scope="module")
def pg() -> Iterator[psycopg.Connection[Any]]:
    server = pgserver.start()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {ROLE} LOGIN")
        with psycopg.connect(server.dsn().replace("user=postgres", f"user={ROLE}"), autocommit=True) as conn:
            yield conn
    finally:
        server.stop()


@pytest.fixture()
def gw(gateway: GatewayProcess) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        yield conn


def copy_out(conn: psycopg.Connection[Any], sql: str) -> tuple[Any, ...]:
    """Every CopyData payload of a COPY … TO STDOUT as sent, and its command tag; or its SQLSTATE and message."""
    try:
        with conn.cursor() as cur:
            with cur.copy(sql) as cp:
                blocks = [bytes(b) for b in cp]
            return ("ok", blocks, cur.rowcount)
    except psycopg.Error as e:
        return ("error", e.sqlstate, e.diag.message_primary, e.diag.message_hint, e.diag.statement_position)


VALUES = ("SELECT * FROM (VALUES (1, E'x\\ty\\nz\\\\w\\r', 1.50::numeric(10,2), TIMESTAMP '2020-01-01 10:00', true, "
          "'{\"a\":\"q\\\"r\"}'::json, '\\x0102'::bytea, DATE '2024-02-29', 2.5::float8), "
          "(NULL, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
          "(3, 'a,b\"c', 2::numeric(10,2), TIMESTAMP '2020-01-01', false, '[1]', '', DATE '1999-12-31', "
          "-0.125::float8), "
          "(4, E'\\x01ctl\\x7f \\\\. x', 0.01::numeric(10,2), TIMESTAMP '2020-01-01 00:00:00.5', true, 'null', "
          "'\\x00', NULL, 1e300)"
          ") AS v(a, b, c, d, e, f, g, h, i)")

SAME_ROWS = [
    f"COPY ({VALUES}) TO STDOUT",
    f"COPY ({VALUES}) TO STDOUT WITH (FORMAT csv, HEADER)",
    f"COPY ({VALUES}) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)",
    f"COPY ({VALUES}) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE (b, a), NULL 'a', HEADER)",
    f"COPY ({VALUES}) TO STDOUT WITH (FORMAT text, HEADER, NULL 'NUL', DELIMITER '|')",
    f"COPY ({VALUES}) TO STDOUT WITH (FORMAT csv, QUOTE '''', ESCAPE '\\', DELIMITER ';')",
    f"COPY ({VALUES}) TO STDOUT WITH (FORMAT binary)",
    f"COPY ({VALUES}) TO STDOUT WITH (DELIMITER E'\\x01')",
    f"COPY ({VALUES}) TO STDOUT WITH CSV HEADER QUOTE AS '\"' FORCE QUOTE *",
    f"COPY ({VALUES}) TO STDOUT WITH NULL AS 'n' DELIMITER AS ','",
    f"COPY ({VALUES}) TO STDOUT BINARY",
    "COPY (SELECT E'\\\\.' AS \"x,y\") TO STDOUT WITH (FORMAT csv, HEADER)",
    "COPY (SELECT 'a' AS \"q\"\"r\", 'b' AS \"t\tu\", 'c' AS \"v\\w\") TO STDOUT WITH (HEADER)",
    "COPY (SELECT 'a' AS \"q\"\"r\", 'b' AS \"t\tu\", 'c' AS \"v\\w\") TO STDOUT WITH (FORMAT csv, HEADER)",
    "COPY (SELECT 1 WHERE false) TO STDOUT WITH (HEADER)",
    "COPY (SELECT 1 WHERE false) TO STDOUT WITH (FORMAT binary)",
    "COPY (SELECT 'caf\u00e9' AS a, 1 AS b) TO STDOUT WITH (ENCODING 'latin1')",
    "COPY (SELECT 'caf\u00e9' AS a) TO STDOUT WITH (FORMAT csv, ENCODING 'WIN1252', HEADER)",
    "COPY (SELECT '\u20ac' AS a) TO STDOUT WITH (ENCODING 'LATIN1')",
    "COPY (SELECT relname, relkind FROM pg_catalog.pg_class WHERE relname IN ('pg_type', 'pg_class') ORDER BY 1) "
    "TO STDOUT WITH (FORMAT csv)",
    "COPY (VALUES (1, 'a'), (2, NULL)) TO STDOUT",
    "COPY (WITH q AS (SELECT 1 AS a) SELECT * FROM q) TO STDOUT WITH (FORMAT csv, HEADER)",
]

SAME_ERRORS = [
    "COPY (SELECT 1) TO STDOUT (FORMAT binary, DELIMITER ',')",
    "COPY (SELECT 1) TO STDOUT (FORMAT binary, NULL 'x')",
    "COPY (SELECT 1) TO STDOUT (FORMAT binary, HEADER)",
    "COPY (SELECT 1) TO STDOUT (FORMAT csv, DELIMITER ',,')",
    "COPY (SELECT 1) TO STDOUT (FORMAT foo)",
    "COPY (SELECT 'é€' AS a) TO STDOUT (FORMAT foo)",
    "COPY (SELECT 'é€' AS a) TO STDOUT (FORMAT csv, FORMAT csv)",
    "COPY (SELECT 1) TO STDOUT (FORMAT 'CSV')",
    "COPY (SELECT 1) TO STDOUT (FORMAT csv, FORMAT csv)",
    "COPY (SELECT 1) TO STDOUT (HEADER, HEADER)",
    "COPY (SELECT 1) TO STDOUT (bogus 1)",
    "COPY (SELECT 1) TO STDOUT (oids true)",
    "COPY (SELECT 1) TO STDOUT (FORCE_NOT_NULL (a))",
    "COPY (SELECT 1) TO STDOUT (FORMAT csv, FORCE_NOT_NULL (a))",
    "COPY (SELECT 1) TO STDOUT (FORMAT csv, FORCE_NULL (a))",
    "COPY (SELECT 1) TO STDOUT (FORCE_QUOTE (a))",
    "COPY (SELECT 1) TO STDOUT (FORCE_QUOTE *)",
    "COPY (SELECT 1 AS a) TO STDOUT (FORMAT csv, FORCE_QUOTE (nope))",
    "COPY (SELECT 1) TO STDOUT (FORMAT csv, QUOTE 'ab')",
    "COPY (SELECT 1) TO STDOUT (FORMAT csv, ESCAPE 'ab')",
    "COPY (SELECT 1) TO STDOUT (QUOTE '\"')",
    "COPY (SELECT 1) TO STDOUT (ESCAPE '\\')",
    "COPY (SELECT 1) TO STDOUT (FORMAT csv, DELIMITER '\"')",
    "COPY (SELECT 1) TO STDOUT (FORMAT csv, NULL ',')",
    "COPY (SELECT 1) TO STDOUT (FORMAT csv, NULL 'a\"b')",
    "COPY (SELECT 1) TO STDOUT (DELIMITER '\\')",
    "COPY (SELECT 1) TO STDOUT (DELIMITER 'a')",
    "COPY (SELECT 1) TO STDOUT (DELIMITER E'\\n')",
    "COPY (SELECT 1) TO STDOUT (NULL E'a\\rb')",
    "COPY (SELECT 1) TO STDOUT (ENCODING 'nope')",
    "COPY (SELECT 1) TO STDOUT (FORMAT csv, HEADER match)",
    "COPY (SELECT 1) TO STDOUT (FORMAT csv, HEADER 2)",
    "COPY (SELECT 1) TO STDOUT (FORMAT)",
    "COPY (SELECT 1) TO STDOUT (DELIMITER)",
    "COPY (SELECT 1) TO STDOUT (FREEZE maybe)",
    "COPY (SELECT 1) TO '/tmp/ssg-copy-test'",
    "COPY (SELECT 1) TO PROGRAM 'cat'",
    "COPY pg_catalog.pg_tables TO STDOUT",
    "COPY no_such_table TO STDOUT",
    "COPY (SELECT no_such_column FROM pg_catalog.pg_class) TO STDOUT",
    "COPY (SELECT 1; SELECT 2) TO STDOUT",
]


@pytest.mark.parametrize("sql", SAME_ROWS)
def test_copy_bytes_match_postgres(gateway: GatewayProcess, gw: psycopg.Connection[Any],
                                   pg: psycopg.Connection[Any], sql: str) -> None:
    assert copy_out(gw, sql) == copy_out(pg, sql)


@pytest.mark.parametrize("sql", SAME_ERRORS)
def test_copy_errors_match_postgres(gw: psycopg.Connection[Any], pg: psycopg.Connection[Any], sql: str) -> None:
    got, want = copy_out(gw, sql), copy_out(pg, sql)
    assert want[0] == "error", want
    assert got == want
    assert gw.execute("SELECT 1").fetchone() == (1,)  # the session is still usable


TEMP_DDL = [
    "CREATE TEMP TABLE copy_t (a int, b text, c numeric(10,2), d date, e bool)",
    "INSERT INTO copy_t VALUES (1, 'x\ty', 1.5, '2024-01-01', true), (NULL, NULL, NULL, NULL, NULL), "
    "(3, 'a,b', 0.25, '1999-12-31', false)",
]


@pytest.mark.parametrize("sql", [
    "COPY copy_t TO STDOUT",
    "COPY copy_t (e, a) TO STDOUT WITH (FORMAT csv, HEADER, FORCE_QUOTE (a))",
    "COPY pg_temp.copy_t TO STDOUT WITH (FORMAT binary)",
    "COPY copy_t (nope) TO STDOUT",
    "COPY copy_t (a, a) TO STDOUT",
    "COPY copy_t (a) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE (b))",
    "COPY copy_t (a) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE (zz))",
    "COPY (SELECT b, count(*) FROM copy_t GROUP BY b ORDER BY b) TO STDOUT WITH (FORMAT csv)",
])
def test_copy_temp_table_matches_postgres(gateway: GatewayProcess, pg: psycopg.Connection[Any], sql: str) -> None:
    with psycopg.connect(gateway.dsn(), autocommit=True) as gw_conn:
        for conn in (gw_conn, pg):
            conn.execute("DROP TABLE IF EXISTS copy_t")
            for ddl in TEMP_DDL:
                conn.execute(ddl)
        assert copy_out(gw_conn, sql) == copy_out(pg, sql)


def _typed_copy(conn: psycopg.Connection[Any], sql: str, options: str) -> tuple[list[Any], str]:
    """Rows of COPY (sql) read back by psycopg's COPY parser with the SELECT's own column types."""
    cur = conn.cursor()
    cur.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0")
    assert cur.description is not None
    oids = [d.type_code for d in cur.description]
    with cur.copy(f"COPY ({sql}) TO STDOUT {options}") as cp:
        cp.set_types(oids)
        rows = list(cp.rows())
    return rows, f"COPY {cur.rowcount}"


SEMANTIC = [
    "SELECT order_id, status, ordered_at, revenue, is_gift FROM orders ORDER BY order_id",
    "SELECT customer_id__region, channel, revenue, order_count FROM orders ORDER BY 1, 2",
    "SELECT product_name, category, max_list_price FROM products ORDER BY product_name",
]


@pytest.mark.parametrize("sql", SEMANTIC)
@pytest.mark.parametrize("options", ["", "WITH (FORMAT binary)"])
def test_copy_of_semantic_query_carries_its_rows(gateway: GatewayProcess, gw: psycopg.Connection[Any], sql: str,
                                                 options: str) -> None:
    want = gw.execute(sql).fetchall()
    got, tag = _typed_copy(gw, sql, options)
    assert got == want and len(want) > 0
    assert tag == f"COPY {len(want)}"
    assert gateway.routes(f"COPY ({sql}) TO STDOUT {options}".strip()) == {"copy"}


def test_copy_csv_of_semantic_query_reads_back(gw: psycopg.Connection[Any]) -> None:
    """CSV with a header: Python's csv module reads the SELECT's values (as text) back, NULL as empty."""
    sql = "SELECT customer_id__region AS region, status, revenue FROM orders ORDER BY 1, 2"
    cur = gw.cursor()
    cur.execute(sql)
    assert cur.description is not None
    names = [d.name for d in cur.description]
    want = [["" if v is None else str(v) for v in row] for row in cur.fetchall()]
    with cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)") as cp:
        text = b"".join(bytes(b) for b in cp).decode()
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == names
    assert lines[1:] == want


def test_copy_of_a_model_by_name_is_its_select(gw: psycopg.Connection[Any]) -> None:
    want = gw.execute("SELECT order_id, status FROM orders").fetchall()
    with gw.cursor().copy("COPY orders (order_id, status) TO STDOUT") as cp:
        cp.set_types(["int8", "text"])
        got = list(cp.rows())
    assert sorted(got) == sorted(want)
    assert copy_out(gw, "COPY orders (nope) TO STDOUT")[:3] == (
        "error", "42703", 'column "nope" of relation "orders" does not exist')


def test_large_copy_matches_its_select(gw: psycopg.Connection[Any]) -> None:
    """Enough rows for the compiled writer's batches (and backpressure) to be used (psycopg parses text and binary
    COPY rows; CSV is read back in test_copy_csv_of_semantic_query_reads_back)."""
    sql = "SELECT order_id, customer_id__customer_name, status, ordered_at, revenue FROM orders"
    want = sorted(gw.execute(sql).fetchall())
    assert len(want) > 10_000
    for options in ("", "WITH (FORMAT binary)"):
        got, tag = _typed_copy(gw, sql, options)
        assert sorted(got) == want and tag == f"COPY {len(want)}"


def test_copy_over_extended_protocol(gw: psycopg.Connection[Any], pg: psycopg.Connection[Any]) -> None:
    """Parse/Bind/Execute of a COPY: no parameters, NoData on Describe, then the same CopyData as the simple
    protocol; a parameter in its query is PostgreSQL's error."""
    def run(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
        pgc = conn.pgconn
        prep = pgc.prepare(b"copy_s", b"COPY (SELECT 1 AS a, 'x' AS b) TO STDOUT WITH (FORMAT csv, HEADER)")
        assert prep.status == pq.ExecStatus.COMMAND_OK, prep.error_message
        desc = pgc.describe_prepared(b"copy_s")
        shape = (desc.nparams, desc.nfields)
        pgc.send_query_prepared(b"copy_s", None)
        res = pgc.get_result()
        assert res is not None and res.status == pq.ExecStatus.COPY_OUT
        data = []
        while True:
            n, block = pgc.get_copy_data(0)
            if n < 0:
                break
            data.append(bytes(block))
        done = pgc.get_result()
        assert done is not None
        tag = done.command_status
        while pgc.get_result() is not None:
            pass
        bad = pgc.exec_params(b"COPY (SELECT $1::int) TO STDOUT", [b"5"])
        pgc.exec_(b"DEALLOCATE copy_s")
        return shape, data, tag, bad.error_field(pq.DiagnosticField.SQLSTATE)
    assert run(gw) == run(pg)


def test_psql_backslash_copy_writes_the_rows(gateway: GatewayProcess, tmp_path: Path,
                                             gw: psycopg.Connection[Any]) -> None:
    """psql's \\copy … TO file runs COPY … TO STDOUT and writes what it receives."""
    out = tmp_path / "orders.csv"
    sql = "SELECT order_id, status, revenue FROM orders ORDER BY order_id"
    env = {**os.environ, "PGPASSWORD": "demo", "PGSSLMODE": "disable"}
    r = subprocess.run(["psql", "-X", "-h", gateway.host, "-p", str(gateway.port), "-U", "demo", "-d", "semantic",
                        "-v", "ON_ERROR_STOP=1", "-c", f"\\copy ({sql}) TO '{out}' WITH (FORMAT csv, HEADER)"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    rows = gw.execute(sql).fetchall()
    assert r.stdout.strip() == f"COPY {len(rows)}"
    lines = list(csv.reader(io.StringIO(out.read_text())))
    assert lines[0] == ["order_id", "status", "revenue"]
    assert lines[1:] == [["" if v is None else str(v) for v in row] for row in rows]


def test_copy_in_a_failed_transaction_is_refused(gw: psycopg.Connection[Any], pg: psycopg.Connection[Any]) -> None:
    for conn in (gw, pg):
        conn.autocommit = False
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("SELECT 1/0")
        assert copy_out(conn, "COPY (SELECT 1) TO STDOUT")[:2] == ("error", "25P02")
        conn.rollback()
        conn.autocommit = True


# ------------------------------------------------------------------------------------ COPY … FROM STDIN

COPY_IN_TABLE = "CREATE TEMP TABLE copy_in (a int, b text, c numeric(10,2), d date, e bool)"

COPY_IN = [
    ("", b"1\tx\\ty\t1.5\t2024-01-01\tt\n2\t\\N\t\\N\t\\N\t\\N\n3\ta\\\\b\\nc\t-2\t1999-12-31\tf\n"),
    ("", b"4\t\\x41\\101\\q\\\t\t0\t2024-02-29\ttrue\r\n5\t\t0.01\t2024-03-01\tno\r\n"),
    ("", b"6\tbefore end\t1\t2024-01-01\tt\n\\.\n7\tafter end\t1\t2024-01-01\tt\n"),
    ("", b"8\tno final line break\t2\t2024-01-02\tf"),
    ("WITH (DELIMITER '|', NULL 'NUL', HEADER)", b"a|b|c|d|e\n9|x\\|y|NUL|2024-01-01|t\n10|NUL|NUL|2024-01-01|f\n"),
    ("WITH (FORMAT csv)", b'11,"q,""r",1,2024-01-01,t\n12,,,,\n13,"",2,2024-01-01,f\n14,"two\nlines",3,2024-01-01,t\n'),
    ("WITH (FORMAT csv, HEADER, DELIMITER ';', QUOTE '''', ESCAPE '\\', NULL 'N')",
     b"a;b;c;d;e\n15;'it\\'s';N;2024-01-01;t\n16;'N';1;N;f\n17;N;2;2024-01-01;t\n"),
    ("WITH (FORMAT csv)", b"18,x,1,2024-01-01,t\n\\.\n19,y,1,2024-01-01,t\n"),
    ("(b, a)", b"only b\t20\n\\N\t21\n"),
]


def _copy_in(conn: psycopg.Connection[Any], options: str, data: bytes, chunk: int) -> tuple[Any, ...]:
    """Load `data` with COPY … FROM STDIN (in CopyData messages of `chunk` bytes); the table's rows and the
    COPY's row count, or its error."""
    conn.execute("DROP TABLE IF EXISTS copy_in")
    conn.execute(COPY_IN_TABLE)
    cols = options if options.startswith("(") else ""
    opts = "" if cols else options
    try:
        with conn.cursor() as cur:
            with cur.copy(f"COPY copy_in {cols} FROM STDIN {opts}") as cp:
                for i in range(0, len(data), chunk):
                    cp.write(data[i : i + chunk])
            count = cur.rowcount
    except psycopg.Error as e:
        got: tuple[Any, ...] = ("error", e.sqlstate, e.diag.message_primary, e.diag.message_detail, e.diag.context)
    else:
        got = ("ok", count)
    return got, conn.execute("SELECT * FROM copy_in ORDER BY a, b").fetchall()


@pytest.mark.parametrize("options,data", COPY_IN)
@pytest.mark.parametrize("chunk", [1 << 20, 3])
def test_copy_from_stdin_matches_postgres(gw: psycopg.Connection[Any], pg: psycopg.Connection[Any], options: str,
                                          data: bytes, chunk: int) -> None:
    assert _copy_in(gw, options, data, chunk) == _copy_in(pg, options, data, chunk)


@pytest.mark.parametrize("options,data", [
    ("", b"1\tx\t1\t2024-01-01\tt\textra\n"),
    ("", b"1\tx\n"),
    ("WITH (FORMAT csv)", b"1,x\n"),
    ("", b"1\tx\t1\t2024-01-01\tt\nabc\ty\t1\t2024-01-01\tt\n"),
    ("", b"1\tx\t1\tnot a date\tt\n"),
    ("", b"1\tx\t1\t2024-01-01\tmaybe\n"),
    ("", b"99999999999\tx\t1\t2024-01-01\tt\n"),
    ("", b"1\tx\t123456789.5\t2024-01-01\tt\n"),
    ("WITH (FORMAT csv)", b"1,x,1,2024-01-01,t\n2,y,zz,2024-01-01,t\n"),
])
def test_copy_from_stdin_errors_leave_nothing(gw: psycopg.Connection[Any], pg: psycopg.Connection[Any],
                                              options: str, data: bytes) -> None:
    got, want = _copy_in(gw, options, data, 1 << 20), _copy_in(pg, options, data, 1 << 20)
    assert want[0][0] == "error" and want[1] == []
    assert got == want
    assert gw.execute("SELECT 1").fetchone() == (1,)


def test_copy_from_stdin_write_row_and_copy_fail(gw: psycopg.Connection[Any], pg: psycopg.Connection[Any]) -> None:
    """psycopg's write_row (its own text formatting of Python values); an exception inside the block sends
    CopyFail, which fails the COPY with 57014 and keeps nothing."""
    rows = [(1, "tab\there", None, None, True), (2, "back\\slash", 12.5, None, None), (3, "é€", 0, None, False)]
    for conn in (gw, pg):
        conn.execute("DROP TABLE IF EXISTS copy_in")
        conn.execute(COPY_IN_TABLE)
        with conn.cursor().copy("COPY copy_in (a, b, c, d, e) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)
        with pytest.raises(RuntimeError), conn.cursor().copy("COPY copy_in FROM STDIN") as cp:
            cp.write_row((9, "never", None, None, None))
            raise RuntimeError("stop")  # psycopg sends CopyFail, reads the 57014 back, re-raises this
    assert gw.execute("SELECT * FROM copy_in ORDER BY a").fetchall() == \
        pg.execute("SELECT * FROM copy_in ORDER BY a").fetchall()


@pytest.mark.parametrize("sql", [
    "COPY orders FROM STDIN",
    "COPY pg_catalog.pg_class FROM STDIN",
    "COPY no_such_table FROM STDIN",
    "COPY copy_in (nope) FROM STDIN",
    "COPY copy_in (a, a) FROM STDIN",
    "COPY copy_in FROM STDIN WITH (FORCE_QUOTE *)",
    "COPY copy_in FROM STDIN WITH (FORMAT binary, HEADER)",
    "COPY copy_in FROM STDIN WITH (FORMAT csv, HEADER match, HEADER)",
    "COPY copy_in FROM '/tmp/ssg-copy-in'",
])
def test_copy_from_refusals_match_postgres(gw: psycopg.Connection[Any], pg: psycopg.Connection[Any],
                                           sql: str) -> None:
    """Only this session's temp tables take rows (a model is read-only: PostgreSQL refuses a table the role may
    not write with 42501, a read-only transaction with 25006)."""
    def refusal(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
        conn.execute("DROP TABLE IF EXISTS copy_in")
        conn.execute(COPY_IN_TABLE)
        try:
            with conn.cursor().copy(sql):
                pass
        except psycopg.Error as e:
            return (e.sqlstate, e.diag.message_primary)
        return ("ok",)
    got, want = refusal(gw), refusal(pg)
    if "orders" in sql or "pg_class" in sql:
        assert got == ("25006", "cannot execute COPY FROM in a read-only transaction")
        assert want[0] in ("42501", "42P01")
    else:
        assert got == want
    assert gw.execute("SELECT 1").fetchone() == (1,)


BINARY_ROWS = [(1, "tab\there", Decimal("1.50"), dt.date(2024, 2, 29), True),
               (2, None, Decimal("-0.01"), None, False), (3, "é€", None, dt.date(1999, 12, 31), None)]


def test_binary_copy_from_stdin_matches_postgres(gw: psycopg.Connection[Any], pg: psycopg.Connection[Any]) -> None:
    """psycopg's binary COPY (its own binary dumpers, in CopyData messages of any size) loads the same rows."""
    for conn in (gw, pg):
        conn.execute("DROP TABLE IF EXISTS copy_in")
        conn.execute(COPY_IN_TABLE)
        with conn.cursor().copy("COPY copy_in (a, b, c, d, e) FROM STDIN WITH (FORMAT binary)") as cp:
            cp.set_types(["int4", "text", "numeric", "date", "bool"])
            for r in BINARY_ROWS:
                cp.write_row(r)
    want = pg.execute("SELECT * FROM copy_in ORDER BY a").fetchall()
    assert want == BINARY_ROWS
    assert gw.execute("SELECT * FROM copy_in ORDER BY a").fetchall() == want


@pytest.mark.parametrize("data", [b"PGCOPY\n\xff\r\n\x00" + bytes(8) + b"\x00\x02\x00\x00\x00\x04\x00\x00\x00\x01",
                                  b"NOTCOPY\n\xff\r\n\x00" + bytes(8),
                                  b"PGCOPY\n\xff\r\n\x00" + bytes(8) + b"\x00\x05\x00\x00\x00\x01\x41"])
def test_bad_binary_copy_data_matches_postgres(gw: psycopg.Connection[Any], pg: psycopg.Connection[Any],
                                               data: bytes) -> None:
    def load(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
        conn.execute("DROP TABLE IF EXISTS copy_in")
        conn.execute(COPY_IN_TABLE)
        try:
            with conn.cursor().copy("COPY copy_in FROM STDIN WITH (FORMAT binary)") as cp:
                cp.write(data)
        except psycopg.Error as e:
            return (e.sqlstate, e.diag.message_primary)
        return ("ok",)
    assert load(gw) == load(pg)
    assert gw.execute("SELECT count(*) FROM copy_in").fetchone() == (0,)


def test_asyncpg_copy_records_to_table(gateway: GatewayProcess, pg: psycopg.Connection[Any]) -> None:
    """asyncpg's bulk load: copy_records_to_table sends binary COPY FROM STDIN; copy_from_query reads COPY TO."""
    import asyncpg

    async def run(dsn: str) -> tuple[Any, ...]:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(COPY_IN_TABLE.replace("copy_in", "copy_async"))
            status = await conn.copy_records_to_table("copy_async", records=BINARY_ROWS,
                                                      columns=["a", "b", "c", "d", "e"])
            rows = [tuple(r) for r in await conn.fetch("SELECT * FROM copy_async ORDER BY a")]
            out = io.BytesIO()
            await conn.copy_from_query("SELECT a, b FROM copy_async ORDER BY a", output=out, format="csv")
            return status, rows, out.getvalue()
        finally:
            await conn.close()

    info = pg.info
    pg_dsn = f"postgresql://{info.user}@{info.host}:{info.port}/{info.dbname}"
    want = asyncio.run(run(pg_dsn))
    assert want[1] == BINARY_ROWS
    assert asyncio.run(run(gateway.url())) == want


def test_psql_backslash_copy_from_a_file(gateway: GatewayProcess, tmp_path: Path) -> None:
    """psql's \\copy … FROM file sends the file as COPY … FROM STDIN; the temp table then holds its rows."""
    data = tmp_path / "in.csv"
    data.write_text('k,n\n"a,b",1\n,2\nc,3\n')
    env = {**os.environ, "PGPASSWORD": "demo", "PGSSLMODE": "disable"}
    r = subprocess.run(["psql", "-X", "-A", "-t", "-h", gateway.host, "-p", str(gateway.port), "-U", "demo",
                        "-d", "semantic", "-v", "ON_ERROR_STOP=1",
                        "-c", "CREATE TEMP TABLE from_file (k text, n int)",
                        "-c", f"\\copy from_file FROM '{data}' WITH (FORMAT csv, HEADER)",
                        "-c", "SELECT coalesce(k, '<null>'), n FROM from_file ORDER BY n"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["CREATE TABLE", "COPY 3", "a,b|1", "<null>|2", "c|3"]


def test_cancel_stops_a_large_copy(gw: psycopg.Connection[Any]) -> None:
    """CancelRequest during COPY … TO STDOUT of a large result: 57014, and the session goes on."""
    import threading

    sql = "COPY (SELECT o.order_id, o.status, p.order_id AS b FROM orders o CROSS JOIN orders p) TO STDOUT"
    timer = threading.Timer(0.5, gw.cancel)
    timer.start()
    try:
        with pytest.raises(psycopg.errors.QueryCanceled), gw.cursor().copy(sql) as cp:
            for _ in cp:
                pass
    finally:
        timer.cancel()
    assert gw.execute("SELECT 1").fetchone() == (1,)


def test_large_copy_from_stdin_matches_postgres(gw: psycopg.Connection[Any], pg: psycopg.Connection[Any]) -> None:
    """Several MB of text in psql-sized CopyData messages: parsed in bulk as it arrives (lines without escapes by
    pyarrow, the others by COPY's rules), every row as PostgreSQL stores it; then the same rows in binary."""
    lines = []
    for i in range(150_000):
        text = f"name {i}" if i % 997 else f"tab\\there {i}\\\\x"
        null = "\\N" if i % 1013 == 0 else f"{i * 0.25}"
        lines.append(f"{i}\t{text}\t{null}\t2024-01-{i % 28 + 1:02d}\t{'t' if i % 3 else 'f'}\n")
    data = "".join(lines).encode()
    check = "SELECT count(*), sum(a), md5(string_agg(b, ',' ORDER BY a)), sum(c), count(c), min(d), max(d), " \
            "sum(e::int) FROM copy_in"
    results = []
    for conn in (gw, pg):
        got = _copy_in(conn, "", data, 8192)[0]
        results.append((got, conn.execute(check).fetchone()))
        rows = conn.execute("SELECT * FROM copy_in ORDER BY a").fetchall()
        conn.execute("TRUNCATE copy_in")
        with conn.cursor().copy("COPY copy_in FROM STDIN WITH (FORMAT binary)") as cp:
            cp.set_types(["int4", "text", "numeric", "date", "bool"])
            for r in rows:
                cp.write_row(r)
        results.append(conn.execute(check).fetchone())
    assert results[0][0] == ("ok", 150_000)
    assert results[:2] == results[2:]


@pytest.mark.parametrize("ddl,data", [
    ("CREATE TEMP TABLE copy_c (a int PRIMARY KEY, b text)", b"1\tx\n2\ty\n1\tz\n"),
    ("CREATE TEMP TABLE copy_c (a int NOT NULL, b text)", b"1\tx\n\\N\ty\n"),
    ("CREATE TEMP TABLE copy_c (a int, b text DEFAULT 'dflt')", b"1\n2\n"),
])
def test_copy_from_stdin_keeps_constraints_and_defaults(gw: psycopg.Connection[Any], pg: psycopg.Connection[Any],
                                                        ddl: str, data: bytes) -> None:
    """A temp table's NOT NULL and PRIMARY KEY hold for COPY as for INSERT (class 23, nothing kept); columns the
    COPY does not list get their defaults."""
    def load(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
        conn.execute("DROP TABLE IF EXISTS copy_c")
        conn.execute(ddl)
        cols = "(a)" if "DEFAULT" in ddl else ""
        try:
            with conn.cursor().copy(f"COPY copy_c {cols} FROM STDIN") as cp:
                cp.write(data)
            outcome: tuple[Any, ...] = ("ok",)
        except psycopg.Error as e:
            outcome = (e.sqlstate,)
        return outcome, conn.execute("SELECT * FROM copy_c ORDER BY a").fetchall()
    assert load(gw) == load(pg)


def test_serial_temp_column_is_refused_clearly(gw: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="serial"):
        gw.execute("CREATE TEMP TABLE with_serial (id serial, v text)")
    assert gw.execute("SELECT 1").fetchone() == (1,)


def test_copy_from_stdin_over_extended_protocol(gw: psycopg.Connection[Any], pg: psycopg.Connection[Any]) -> None:
    """libpq's PQsendQueryParams sends Sync right after Execute; the server ignores it during COPY FROM, and libpq
    sends another after CopyDone: the rows load and the session is ready again, as on PostgreSQL."""
    def load(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
        conn.execute("DROP TABLE IF EXISTS copy_ext")
        conn.execute("CREATE TEMP TABLE copy_ext (a int, b text)")
        pgc = conn.pgconn
        pgc.send_query_params(b"COPY copy_ext FROM STDIN", None)
        first = pgc.get_result()
        assert first is not None and first.status == pq.ExecStatus.COPY_IN
        pgc.put_copy_data(b"1\tx\n2\t\\N\n")
        pgc.put_copy_end()
        tags = []
        while (res := pgc.get_result()) is not None:
            tags.append((res.status, res.command_status))
        return tags, conn.execute("SELECT * FROM copy_ext ORDER BY a").fetchall()
    assert load(gw) == load(pg)
