"""Tableau's temp-table conversation over the wire (router, Describe, RowDescription), against the gateway and a
real PostgreSQL 15 side by side: same command tags, columns, rows and SQLSTATEs, statement by statement. Writes to
temp tables (INSERT/UPDATE/DELETE/TRUNCATE, RETURNING) over the simple and the extended protocol, in transaction
blocks, and the refusal of writes to semantic models (PostgreSQL in a read-only transaction: 25006)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg

from tests.catalog.test_temp_tables_pg import CONVERSATION, DML_CONVERSATION, _norm, answer
from tests.clients.pg import PgServer
from tests.server import GatewayProcess


def _differences(gw: psycopg.Connection[Any], pg: psycopg.Connection[Any], statements: list[str]) -> list[str]:
    out = []
    for sql in statements:
        want, got = answer(pg, sql), answer(gw, sql)
        if want != got:
            out.append(f"{sql}\n  PostgreSQL: {want}\n  gateway:    {got}")
    return out


Conn = psycopg.Connection[Any]


@contextlib.contextmanager
def _both(bi_gateway: GatewayProcess, bi_pg: PgServer) -> Iterator[tuple[Conn, Conn]]:
    """An autocommit session on the gateway and one on PostgreSQL 15, to send the same statements to."""
    with psycopg.connect(bi_gateway.dsn(), autocommit=True) as gw, psycopg.connect(bi_pg.dsn(), autocommit=True) as pg:
        yield gw, pg


def _assert_conversation(bi_gateway: GatewayProcess, bi_pg: PgServer, statements: list[str]) -> None:
    with _both(bi_gateway, bi_pg) as (gw, pg):
        differences = _differences(gw, pg, statements)
        assert not differences, "\n".join(differences)


def test_tableau_temp_tables_over_the_wire(bi_gateway: GatewayProcess, bi_pg: PgServer) -> None:
    _assert_conversation(bi_gateway, bi_pg, CONVERSATION)


DISCARD_CONVERSATION = [
    "CREATE TEMP TABLE d1 (a int)",
    "INSERT INTO d1 VALUES (1)",
    "DISCARD TEMP",
    "SELECT * FROM d1",
    "CREATE TEMP TABLE d1 (b text)",  # the name is free again
    "SELECT * FROM d1",
    "BEGIN",
    "DISCARD TEMP",  # allowed in a transaction block, unlike DISCARD ALL
    "DISCARD PLANS",
    "COMMIT",
    "SELECT * FROM d1",
    "CREATE TEMP TABLE d3 (a int)",
    "BEGIN",
    "DISCARD ALL",
    "ROLLBACK",
    "SELECT count(*) FROM d3",
    "DISCARD ALL",
    "SELECT count(*) FROM d3",
]


def test_discard_drops_temp_tables_as_postgresql(bi_gateway: GatewayProcess, bi_pg: PgServer) -> None:
    _assert_conversation(bi_gateway, bi_pg, DISCARD_CONVERSATION)


def test_temp_table_writes_over_the_wire(bi_gateway: GatewayProcess, bi_pg: PgServer) -> None:
    with _both(bi_gateway, bi_pg) as (gw, pg):
        differences = _differences(gw, pg, [*DML_CONVERSATION, "CREATE TEMP TABLE d (a int, b text)",
                                            "INSERT INTO d VALUES (1, 'x'), (2, 'y')",
                                            "UPDATE d SET b = b || '!' RETURNING b, d.*", "DROP TABLE d"])
        assert not differences, "\n".join(differences)


def _answer_params(conn: psycopg.Connection[Any], sql: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
    """answer() over the extended protocol: a named prepared statement with parameters bound server-side."""
    try:
        cur = conn.execute(sql, params, prepare=True)
    except psycopg.Error as e:
        return ("error", e.sqlstate)
    cols = [(d.name, d.type_code) for d in cur.description or []]
    rows = [tuple(_norm(v) for v in r) for r in cur.fetchall()] if cur.description else None
    return (cur.statusmessage, cols, rows)


EXTENDED_WRITES: list[tuple[str, tuple[Any, ...]]] = [
    ("CREATE TEMP TABLE e (id int, name text, amount numeric(10,2))", ()),
    ("INSERT INTO e VALUES (%s, %s, %s), (%s, %s, %s), (%s, %s, %s)", (1, "a", 1.5, 2, "b", 2, 3, "c", None)),
    ("DELETE FROM e WHERE id = %s", (1,)),
    ("DELETE FROM e WHERE id = %s", (42,)),
    ("UPDATE e SET name = %s WHERE id = %s", ("B", 2)),
    ("UPDATE e SET amount = amount + %s WHERE amount IS NOT NULL RETURNING id, amount", (1,)),
    ("DELETE FROM e WHERE name = %s RETURNING *", ("c",)),
    ("SELECT * FROM e ORDER BY id", ()),
    ("TRUNCATE e", ()),
    ("SELECT count(*) FROM e", ()),
    ("DROP TABLE e", ()),
]


def test_temp_table_writes_extended_protocol(bi_gateway: GatewayProcess, bi_pg: PgServer) -> None:
    with _both(bi_gateway, bi_pg) as (gw, pg):
        differences = []
        for sql, params in EXTENDED_WRITES:
            want, got = _answer_params(pg, sql, params), _answer_params(gw, sql, params)
            if want != got:
                differences.append(f"{sql} {params}\n  PostgreSQL: {want}\n  gateway:    {got}")
        assert not differences, "\n".join(differences)


TRANSACTION_WRITES = [
    "CREATE TEMP TABLE x (a int)",
    "BEGIN",
    "INSERT INTO x VALUES (1), (2), (3)",
    "DELETE FROM x WHERE a = 1",
    "UPDATE x SET a = a * 10 RETURNING a",
    "COMMIT",
    "SELECT * FROM x ORDER BY 1",
    "START TRANSACTION",
    "TRUNCATE x",
    "INSERT INTO x VALUES (7)",
    "COMMIT",
    "SELECT * FROM x ORDER BY 1",
    "BEGIN",
    "DELETE FROM no_such_table",
    "DELETE FROM x",  # 25P02: the block has failed
    "ROLLBACK",
    "SELECT * FROM x ORDER BY 1",
]


def test_temp_table_writes_in_transaction_blocks(bi_gateway: GatewayProcess, bi_pg: PgServer) -> None:
    with _both(bi_gateway, bi_pg) as (gw, pg):
        differences = _differences(gw, pg, TRANSACTION_WRITES)
        # several statements in one Query message run as one implicit block, each with its own tag
        script = "UPDATE x SET a = a + 1; DELETE FROM x WHERE a > 7; TRUNCATE x; SELECT count(*) FROM x"
        want, got = _all_results(pg, script), _all_results(gw, script)
        if want != got:
            differences.append(f"{script}\n  PostgreSQL: {want}\n  gateway:    {got}")
        assert not differences, "\n".join(differences)
    with psycopg.connect(bi_gateway.dsn()) as gw, psycopg.connect(bi_pg.dsn()) as pg:  # extended, in a block
        results = []
        for conn in (pg, gw):
            conn.execute("CREATE TEMP TABLE y (a int, b text)")
            conn.execute("INSERT INTO y VALUES (%s, %s), (%s, %s)", (1, "p", 2, "q"))
            deleted = conn.execute("DELETE FROM y WHERE a = %s RETURNING b", (1,))
            tag, rows = deleted.statusmessage, deleted.fetchall()
            conn.commit()
            results.append((tag, rows, conn.execute("SELECT * FROM y").fetchall()))
        assert results[0] == results[1]


ROLLED_BACK_WRITES = [
    "CREATE TEMP TABLE r (a int, v varchar(10))",
    "INSERT INTO r VALUES (1, 'one'), (2, 'two'), (3, 'three')",
    "BEGIN",
    "DELETE FROM r WHERE a = 1",
    "UPDATE r SET a = a * 10",
    "SELECT * FROM r ORDER BY 1",
    "ROLLBACK",
    "SELECT * FROM r ORDER BY 1",
    "BEGIN",
    "TRUNCATE r",
    "CREATE TEMP TABLE r2 (b text)",
    "INSERT INTO r2 VALUES ('x')",
    "DROP TABLE r",
    "ROLLBACK",
    "SELECT * FROM r ORDER BY 1",
    "SELECT * FROM r2",
    "SELECT c.relname, format_type(a.atttypid, a.atttypmod) FROM pg_class c JOIN pg_attribute a "
    "ON a.attrelid = c.oid WHERE c.relpersistence = 't' AND a.attnum > 0 ORDER BY 1, a.attnum",
    "BEGIN",
    "DELETE FROM r WHERE a = 2",
    "SELECT 1 / 0",
    "COMMIT",  # of a failed block: ROLLBACK
    "SELECT * FROM r ORDER BY 1",
    "BEGIN",
    "DELETE FROM r WHERE a = 3",
    "DELETE FROM no_such_table",
    "ROLLBACK",
    "SELECT * FROM r ORDER BY 1",
    "BEGIN",
    "INSERT INTO r VALUES (4, 'four')",
    "COMMIT AND CHAIN",
    "DELETE FROM r WHERE a = 4",
    "ROLLBACK",
    "SELECT * FROM r ORDER BY 1",
    "BEGIN",
    "DISCARD TEMP",
    "ROLLBACK",
    "SELECT count(*) FROM r",
    "UPDATE r SET v = v || ' and more text'",  # 22001 on the third row: none changes
    "SELECT * FROM r ORDER BY 1",
    "BEGIN",
    "INSERT INTO r VALUES (5, 'five')",
    "UPDATE r SET v = 'much too long text'",
    "ROLLBACK",
    "SELECT * FROM r ORDER BY 1",
    "BEGIN",
    "UPDATE r SET v = 'x'",
    "COMMIT",
    "SELECT * FROM r ORDER BY 1",
]


def test_rollback_undoes_temp_table_writes(bi_gateway: GatewayProcess, bi_pg: PgServer) -> None:
    """ROLLBACK (and a failed block's COMMIT) undoes the block's temp-table writes, creations and drops."""
    with _both(bi_gateway, bi_pg) as (gw, pg):
        differences = _differences(gw, pg, ROLLED_BACK_WRITES)
        # a multi-statement Query is one transaction: an error rolls back the writes before it
        for script in ("DELETE FROM r; UPDATE r SET a = 0; SELECT 1 / 0", "TRUNCATE r; DROP TABLE r; SELECT nope"):
            want, got = _all_results_or_error(pg, script), _all_results_or_error(gw, script)
            want_after, got_after = answer(pg, "SELECT * FROM r ORDER BY 1"), answer(gw, "SELECT * FROM r ORDER BY 1")
            if (want, want_after) != (got, got_after):
                differences.append(f"{script}\n  PostgreSQL: {want} {want_after}\n  gateway:    {got} {got_after}")
        assert not differences, "\n".join(differences)


SAVEPOINT_WRITES = [
    "CREATE TEMP TABLE sp (a int)",
    "BEGIN",
    "INSERT INTO sp VALUES (1)",
    "SAVEPOINT s1",
    "INSERT INTO sp VALUES (2)",
    "ROLLBACK TO SAVEPOINT s1",
    "SELECT * FROM sp ORDER BY 1",
    # psqlODBC's statement-level rollback: a savepoint around each statement, ROLLBACK TO after an error
    "SAVEPOINT stmt",
    "INSERT INTO sp VALUES (3)",
    "RELEASE SAVEPOINT stmt",
    "SAVEPOINT stmt",
    "INSERT INTO sp VALUES ('x')",
    "ROLLBACK TO SAVEPOINT stmt",
    "SELECT * FROM sp ORDER BY 1",
    "SAVEPOINT stmt",
    "CREATE TEMP TABLE sp2 AS SELECT a * 10 AS b FROM sp",
    "DELETE FROM sp WHERE a = 1",
    "SELECT nope FROM sp",
    "ROLLBACK TO SAVEPOINT stmt",
    "SELECT * FROM sp ORDER BY 1",
    "SELECT count(*) FROM pg_class WHERE relname = 'sp2'",
    "INSERT INTO sp VALUES (4)",
    "COMMIT",
    "SELECT * FROM sp ORDER BY 1",
    "DROP TABLE sp",
]


def test_rollback_to_savepoint_undoes_the_writes_after_it(bi_gateway: GatewayProcess, bi_pg: PgServer) -> None:
    """ROLLBACK TO the latest savepoint undoes the temp-table writes after it, also after an error, and keeps
    the ones before it, as in PostgreSQL."""
    _assert_conversation(bi_gateway, bi_pg, SAVEPOINT_WRITES)


def _all_results_or_error(conn: psycopg.Connection[Any], script: str) -> Any:
    try:
        return _all_results(conn, script)
    except psycopg.Error as e:
        return ("error", e.sqlstate)


def _all_results(conn: psycopg.Connection[Any], script: str) -> list[tuple[Any, ...]]:
    cur = conn.execute(script)
    out = []
    while True:
        out.append((cur.statusmessage, cur.fetchall() if cur.description else None))
        if not cur.nextset():
            return out


MODEL_WRITES: list[tuple[str, tuple[Any, ...]]] = [
    ("INSERT INTO \"Orders\" (id) VALUES (1)", ()),
    ("UPDATE \"Orders\" SET status = 'x'", ()),
    ("DELETE FROM \"Orders\"", ()),
    ("DELETE FROM public.\"Orders\" WHERE id = %s", (1,)),
    ("UPDATE \"Orders\" SET status = %s RETURNING *", ("x",)),
    ("TRUNCATE \"Orders\"", ()),
    ("TRUNCATE m, \"Orders\"", ()),
    ("DELETE FROM pg_catalog.pg_class WHERE relname = 'm'", ()),
]


def test_writes_to_semantic_models_refused_as_read_only(bi_gateway: GatewayProcess, bi_pg: PgServer) -> None:
    """Models are what PostgreSQL's tables are in a read-only transaction: writing one fails with 25006, and a
    TRUNCATE naming a temp table besides a model truncates nothing; a temp table can take a model's rows."""
    with _both(bi_gateway, bi_pg) as (gw, pg):
        for conn in (gw, pg):
            conn.execute("CREATE TEMP TABLE m (a int)")
            conn.execute("INSERT INTO m VALUES (1), (2)")
        differences = []
        for sql, params in MODEL_WRITES:
            pg.execute("BEGIN READ ONLY")
            want = _answer_params(pg, sql, params) if params else answer(pg, sql)
            pg.execute("ROLLBACK")
            got = _answer_params(gw, sql, params) if params else answer(gw, sql)
            if want != got:
                differences.append(f"{sql} {params}\n  PostgreSQL: {want}\n  gateway:    {got}")
        assert not differences, "\n".join(differences)
        assert answer(gw, "SELECT * FROM m ORDER BY 1") == answer(pg, "SELECT * FROM m ORDER BY 1")
        # an UPDATE or DELETE of a temp table that reads a model is refused (the catalog engine cannot reach the
        # warehouse); the temp table is left as it was
        for sql in ('DELETE FROM m USING "Orders" o WHERE o.id = m.a',
                    'UPDATE m SET a = 0 WHERE a IN (SELECT id FROM "Orders")'):
            assert answer(gw, sql) == ("error", "0A000"), sql
        assert answer(gw, "SELECT * FROM m ORDER BY 1") == answer(pg, "SELECT * FROM m ORDER BY 1")
        # INSERT … SELECT from a model writes the rows the SELECT alone returns (the PostgreSQL mirror holds other
        # rows, so the gateway is its own reference here)
        before = answer(gw, "SELECT * FROM m")[2]
        ids = answer(gw, 'SELECT id FROM "Orders"')[2]
        assert answer(gw, 'INSERT INTO m SELECT id FROM "Orders"') == (f"INSERT 0 {len(ids)}", [], None)
        assert sorted(answer(gw, "SELECT * FROM m")[2]) == sorted(before + ids)


def test_temp_table_writes_stay_in_their_session(bi_gateway: GatewayProcess, bi_pg: PgServer) -> None:
    results = []
    for dsn in (bi_pg.dsn(), bi_gateway.dsn()):
        with psycopg.connect(dsn, autocommit=True) as a, psycopg.connect(dsn, autocommit=True) as b:
            a.execute("CREATE TEMP TABLE iso (a int)")
            a.execute("INSERT INTO iso VALUES (1), (2)")
            seen = [answer(b, sql) for sql in ("DELETE FROM iso", "UPDATE iso SET a = 0", "TRUNCATE iso",
                                               "INSERT INTO iso VALUES (3)")]
            b.execute("CREATE TEMP TABLE iso (z text)")  # its own table of that name
            seen += [answer(b, "DELETE FROM iso"), answer(a, "SELECT * FROM iso ORDER BY 1")]
            results.append(seen)
    assert results[0] == results[1]
