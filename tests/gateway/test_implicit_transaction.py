"""The implicit transaction of temp-table writes, compared with PostgreSQL 15.

Outside BEGIN, the statements sent with the extended protocol up to a Sync (psycopg's pipeline mode) are one
implicit transaction: their writes commit at Sync, and an error before Sync rolls back every write of that
batch, also those that succeeded before it. A simple Query with several statements is one implicit
transaction too. Each batch runs on both servers; the errors and the tables' final rows must be the same."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.catalog import pgserver
from tests.server import GatewayProcess

SETUP = "CREATE TEMP TABLE p (a int, b text)"

PIPELINES = [
    ["INSERT INTO p VALUES (1, 'one')", "INSERT INTO p VALUES (2, 'two')"],  # commits at Sync
    ["INSERT INTO p VALUES (3, 'three')", "UPDATE p SET b = 'ten' WHERE a = 1",
     "INSERT INTO nosuch VALUES (1)", "INSERT INTO p VALUES (4, 'four')"],  # fails at Parse: all rolled back
    ["INSERT INTO p VALUES (5, 'five')", "DELETE FROM p WHERE a = 2",
     "INSERT INTO p VALUES (1 / 0, 'x')"],  # fails while running: the insert and delete before it too
    ["DELETE FROM p WHERE a = 2", "CREATE TEMP TABLE q AS SELECT a * 10 AS a FROM p"],  # commits
    ["INSERT INTO q VALUES (70)", "SELECT 'x'::int"],  # a failing read rolls back the write before it
    ["CREATE TEMP TABLE r (a int)", "INSERT INTO r VALUES (1)", "SELECT 1 / 0"],  # the table itself is gone
    ["BEGIN", "INSERT INTO p VALUES (6, 'six')", "COMMIT", "INSERT INTO p VALUES (1 / 0, 'x')"],  # a block commits
]

QUERIES = [
    "INSERT INTO p VALUES (8, 'eight'); INSERT INTO p VALUES (9 / 0, 'x')",  # one implicit transaction
    "INSERT INTO q VALUES (80); UPDATE q SET a = a + 1",
]


def _pipeline(conn: psycopg.Connection[Any], batch: list[str]) -> str | None:
    """Send the batch in one pipeline (Parse/Bind/Execute each, one Sync at the end); the error's SQLSTATE."""
    try:
        with conn.pipeline():
            for sql in batch:
                conn.execute(sql)
    except psycopg.Error as err:
        return err.sqlstate
    return None


def _query(conn: psycopg.Connection[Any], sql: str) -> str | None:
    try:
        conn.execute(sql, prepare=False)  # psycopg sends a parameterless statement as a simple Query
    except psycopg.Error as err:
        return err.sqlstate
    return None


def _state(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
    tables = [r[0] for r in conn.execute(
        "SELECT relname FROM pg_class WHERE relpersistence = 't' AND relkind = 'r' ORDER BY 1").fetchall()]
    return tables, [conn.execute(f"SELECT * FROM {t} ORDER BY a").fetchall() for t in tables]


def _run(conn: psycopg.Connection[Any]) -> list[Any]:
    conn.execute(SETUP)
    out: list[Any] = []
    for batch in PIPELINES:
        out.append((_pipeline(conn, batch), _state(conn)))
    for sql in QUERIES:
        out.append((_query(conn, sql), _state(conn)))
    return out


@pytest.fixture(scope="module")
def pg() -> Iterator[psycopg.Connection[Any]]:
    with pgserver.connection() as conn:
        yield conn


def test_pipeline_batches_commit_or_roll_back_at_sync_as_postgresql(
        gateway: GatewayProcess, pg: psycopg.Connection[Any]) -> None:
    want = _run(pg)
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        got = _run(conn)
        assert conn.execute("SELECT 1").fetchone() == (1,)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, (i, (PIPELINES + QUERIES)[i])
    assert any(err for err, _ in want) and any(err is None for err, _ in want)
