"""Tableau-style temp tables, statement by statement, against the catalog engine and a real PostgreSQL 15.

Quoted mixed-case names keep their case, unquoted names fold to lower case (so "FooBar" is not foobar, and
"region" is not "Region"), SELECT … INTO TEMP and CREATE TEMP TABLE … AS report `SELECT n`, declared column
types (varchar(10), numeric(10,2)) are what queries and the catalog describe, DROP takes a list. UPDATE, DELETE
(WHERE, USING) and TRUNCATE write temp tables with PostgreSQL's command tags, RETURNING with its columns.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from tests.catalog import pgserver
from tests.catalog.fixtures import catalog_session
from virtual_schema.catalog.engine import CatalogSession
from virtual_schema.errors import PgError

CONVERSATION = [
    'CREATE LOCAL TEMPORARY TABLE "#Tableau_9_83C8_2_Connect_C" ("COL" INTEGER) ON COMMIT PRESERVE ROWS',
    'SELECT * INTO TEMPORARY TABLE "#Tableau_9_83C8_1_Connect_C" FROM (SELECT 1 AS COL) AS CHECKTEMP LIMIT 1',
    'SELECT * FROM "#Tableau_9_83C8_1_Connect_C"',
    'INSERT INTO "#Tableau_9_83C8_2_Connect_C" ("COL") VALUES (1), (2), (3)',
    'INSERT INTO "#Tableau_9_83C8_2_Connect_C" SELECT col + 10 FROM "#Tableau_9_83C8_1_Connect_C"',
    'SELECT "COL" FROM "#Tableau_9_83C8_2_Connect_C" ORDER BY 1',
    'SELECT col FROM "#Tableau_9_83C8_2_Connect_C"',
    'DROP TABLE "#Tableau_9_83C8_1_Connect_C"',
    'CREATE LOCAL TEMPORARY TABLE "#Tableau_5_Filter" ("Region" TEXT, "N" INTEGER) ON COMMIT PRESERVE ROWS',
    """INSERT INTO "#Tableau_5_Filter" ("Region", "N") VALUES ('EMEA', 1), ('APAC', 2), ('LOCAL TEMPORARY', 3)""",
    'SELECT "Region", "N" FROM "#Tableau_5_Filter" WHERE "N" > 1 ORDER BY 2',
    'SELECT "region" FROM "#Tableau_5_Filter"',
    'SELECT t.region FROM "#Tableau_5_Filter" t',
    "CREATE TEMP TABLE FooBar (Id int, Name varchar(10), Amount numeric(10,2))",
    "INSERT INTO foobar VALUES (1, 'x', 1.5)",
    "INSERT INTO FOOBAR (ID, name) VALUES (2, 'y')",
    "SELECT id, name, amount FROM FooBar ORDER BY id",
    'SELECT * FROM "FooBar"',
    "SELECT * FROM foobar ORDER BY 1",
    "SELECT 1 AS A, 'x'::text AS b INTO TEMP tmp_into",
    "SELECT a, b FROM tmp_into",
    'SELECT * INTO TEMPORARY TABLE "Tmp2" FROM foobar WHERE id > 1',
    'SELECT * FROM "Tmp2"',
    "SELECT * FROM tmp2",
    "CREATE TEMP TABLE t3 AS SELECT 1 AS x, 'y' AS y, 2.5 AS z",
    "SELECT * FROM t3",
    'SELECT f.id, t."N" FROM foobar f JOIN "#Tableau_5_Filter" t ON t."N" = f.id ORDER BY 1',
    'SELECT f.name FROM foobar f WHERE f.id IN (SELECT "N" FROM "#Tableau_5_Filter") ORDER BY 1',
    "SELECT relname, relkind, relpersistence FROM pg_class WHERE relpersistence = 't' AND relkind = 'r' ORDER BY 1",
    "SELECT c.relname, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
    "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relpersistence = 't' AND c.relkind = 'r' AND a.attnum > 0 "
    "ORDER BY 1, 3",
    "SELECT table_name, table_type, commit_action FROM information_schema.tables "
    "WHERE table_type = 'LOCAL TEMPORARY' ORDER BY 1",
    "SELECT table_name, column_name, data_type, character_maximum_length, numeric_precision, numeric_scale "
    "FROM information_schema.columns WHERE table_name IN ('foobar', 'Tmp2', '#Tableau_5_Filter') "
    "ORDER BY 1, ordinal_position",
    "CREATE TEMP TABLE foobar (x int)",
    "CREATE TEMP TABLE IF NOT EXISTS foobar (x int)",
    "SELECT * FROM foobar ORDER BY 1",
    'DROP TABLE "Tmp2", tmp_into',
    "DROP TABLE IF EXISTS t3",
    "DROP TABLE foobar",
    "SELECT relname FROM pg_class WHERE relpersistence = 't' AND relkind = 'r' ORDER BY 1",
    "SELECT count(*) FROM information_schema.tables WHERE table_type = 'LOCAL TEMPORARY'",
]

# Writes to temp tables: the rows each leaves behind are read back after it.
DML_CONVERSATION = [
    "CREATE TEMP TABLE w (id int, name varchar(10), amount numeric(10,2))",
    "CREATE TEMP TABLE \"W Keys\" (\"Id\" int, label text)",
    "INSERT INTO w VALUES (1, 'a', 1.5), (2, 'b', 2.25), (3, 'c', NULL), (4, 'd', 4)",
    "INSERT INTO \"W Keys\" VALUES (2, 'two'), (4, 'four'), (9, 'nine')",
    "DELETE FROM w WHERE id = 1",
    "DELETE FROM w WHERE id = 99",
    "SELECT * FROM w ORDER BY id",
    "UPDATE w SET amount = amount * 2, name = upper(name) WHERE amount IS NOT NULL",
    "UPDATE W SET NAME = 'z' WHERE ID > 100",
    "SELECT * FROM w ORDER BY id",
    "UPDATE w SET name = k.label FROM \"W Keys\" k WHERE k.\"Id\" = w.id",
    "SELECT * FROM w ORDER BY id",
    "DELETE FROM w USING \"W Keys\" AS k WHERE k.\"Id\" = w.id AND k.label = 'four'",
    "DELETE FROM w WHERE id IN (SELECT \"Id\" FROM \"W Keys\" WHERE label = 'nine')",
    "SELECT * FROM w ORDER BY id",
    "WITH gone AS (SELECT 3 AS id) DELETE FROM pg_temp.w WHERE id IN (SELECT id FROM gone)",
    "SELECT * FROM w ORDER BY id",
    "INSERT INTO w VALUES (5, 'e', 5.5), (6, 'f', NULL) RETURNING *",
    "INSERT INTO pg_temp.w AS x (id, name) VALUES (8, 'h') RETURNING x.id, name, x.amount IS NULL AS none",
    "UPDATE w SET amount = coalesce(amount, 0) + 1 WHERE id >= 5 RETURNING id, amount, amount * 2, "
    "substr(name, 1) AS s",
    "DELETE FROM w x USING \"W Keys\" k WHERE x.id = k.\"Id\" RETURNING x.*",
    "DELETE FROM w WHERE id = 5 RETURNING name, id + 1",
    "SELECT * FROM w ORDER BY id",
    "TRUNCATE w",
    "SELECT count(*) FROM w",
    "INSERT INTO w VALUES (7, 'g', 7)",
    "TRUNCATE TABLE ONLY w, \"W Keys\" RESTART IDENTITY",
    "SELECT (SELECT count(*) FROM w) AS w, (SELECT count(*) FROM \"W Keys\") AS k",
    "DELETE FROM w WHERE nope = 1",
    'UPDATE w SET "ID" = 1',
    "DELETE FROM no_such_table",
    "UPDATE no_such_table SET a = 1",
    "TRUNCATE w, no_such_table",
    "DROP TABLE w, \"W Keys\"",
    "DELETE FROM w",
    # an unknown column type is 42704 with its position
    "CREATE TEMP TABLE bad_type (a footype)",
    # constraints of a temp table hold for UPDATE as for INSERT (class 23 SQLSTATEs)
    "CREATE TEMP TABLE c (id int PRIMARY KEY, n int NOT NULL, p int CHECK (p > 0))",
    "SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'c'::regclass AND attnum > 0 ORDER BY attnum",
    "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_name = 'c' ORDER BY ordinal_position",
    "INSERT INTO c VALUES (1, 1, 1), (2, 2, 2)",
    "INSERT INTO c VALUES (1, 3, 3)",
    "UPDATE c SET n = NULL WHERE id = 1",
    "UPDATE c SET p = 0",
    "UPDATE c SET id = 2 WHERE id = 1",
    "SELECT * FROM c ORDER BY id",
    "DROP TABLE c",
    # an unconstrained numeric keeps every digit it is given (DuckDB's bare DECIMAL would keep 3 places)
    "CREATE TEMP TABLE nn (v numeric, w numeric(10,2))",
    "INSERT INTO nn VALUES (0.12345, 1.5), (1.5, 2), (2, NULL), (NULL, 3), (123456789.987654321, 4)",
    "SELECT v, w, sum(v) OVER () AS s, v / 3 AS q FROM nn ORDER BY v",
    "SELECT sum(v) AS s, max(v) AS mx, min(v) AS mn, count(v) AS n FROM nn",
    "SELECT v FROM nn WHERE v > 1.2 AND v < 3 ORDER BY v",
    "DROP TABLE nn",
    # declared lengths hold: too long is 22001, excess spaces are cut
    "CREATE TEMP TABLE s (id int, v varchar(3), c char(2))",
    "INSERT INTO s VALUES (1, 'abc', 'ab')",
    "INSERT INTO s VALUES (2, 'abcd', 'a')",
    "INSERT INTO s VALUES (3, 'a', 'abc')",
    "INSERT INTO s VALUES (4, 'ab   ', 'a')",
    "UPDATE s SET v = 'wxyz' WHERE id = 1",
    "UPDATE s SET v = 'q    ' WHERE id = 1",
    "SELECT id, v, length(v) FROM s ORDER BY id",
    "INSERT INTO s VALUES (5, 'x', 'y')",
    "SELECT id, c, length(c), c || '|' AS cat, c = 'y' AS eq, upper(c) FROM s ORDER BY id",
    "DROP TABLE s",
]


@pytest.fixture(scope="module")
def pg_conn() -> Iterator[psycopg.Connection[Any]]:
    with pgserver.connection() as conn:
        yield conn


@pytest.fixture(scope="module")
def session() -> Iterator[CatalogSession]:
    with catalog_session() as s:
        yield s


def _norm(v: Any) -> Any:
    """A numeric as the text PostgreSQL prints (its scale included); the catalog hands some numerics over as that
    text already."""
    return str(v) if isinstance(v, decimal.Decimal) else v


def answer(conn: psycopg.Connection[Any], sql: str) -> tuple[Any, ...]:
    """What a psycopg connection says to one statement: tag, columns (name, type OID) and rows, or the SQLSTATE."""
    try:
        cur = conn.execute(sql)
    except psycopg.Error as e:
        return ("error", e.sqlstate)
    cols = [(d.name, d.type_code) for d in cur.description or []]
    rows = [tuple(_norm(v) for v in r) for r in cur.fetchall()] if cur.description else None
    return (cur.statusmessage, cols, rows)


def _ours(session: CatalogSession, sql: str) -> tuple[Any, ...]:
    try:
        res = session.execute(sql)
    except PgError as e:
        return ("error", e.sqlstate)
    cols = [(c.name, c.type.oid) for c in res.columns]
    if not cols:
        return (res.command_tag, [], None)
    batches = list(res.batches)
    rows = [tuple(_norm(v) for v in r.values()) for r in pa.Table.from_batches(batches).to_pylist()] if batches \
        else []
    return (res.command_tag, cols, rows)


def _assert_conversation(pg_conn: psycopg.Connection[Any], session: CatalogSession, statements: list[str]) -> None:
    differences = []
    for sql in statements:
        want, got = answer(pg_conn, sql), _ours(session, sql)
        if want != got:
            differences.append(f"{sql}\n  PostgreSQL: {want}\n  ours:       {got}")
    assert not differences, "\n".join(differences)


def test_tableau_temp_table_conversation(pg_conn: psycopg.Connection[Any], session: CatalogSession) -> None:
    _assert_conversation(pg_conn, session, CONVERSATION)


def test_temp_table_writes(pg_conn: psycopg.Connection[Any], session: CatalogSession) -> None:
    _assert_conversation(pg_conn, session, DML_CONVERSATION)
