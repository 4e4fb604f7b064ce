"""Constant SELECTs answered in the gateway give what the catalog engine gives for the same query.

The differential test runs each query both ways in-process (the gateway's constant path and the
catalog engine's describe + execute) and compares names, type OIDs and the encoded text and binary
DataRows. The client tests check, through a real gateway, which path the statement log says ran.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from gateway.protocol.rowenc import RowEncoder
from gateway.router import split
from gateway.session.constant import constant_query
from tests.catalog.fixtures import fixture_schema
from tests.server import GatewayProcess
from virtual_schema.catalog.api import SessionInfo
from virtual_schema.catalog.engine import CatalogEngine, CatalogSession

QUERIES = [
    "SELECT 1",
    "select 0",
    "SELECT -7 AS n, 2147483647 AS big",
    "SELECT 'abc'",
    "SELECT '' AS empty, 'x' AS y",
    "SELECT version()",
    "SELECT pg_catalog.version()",
    "SELECT current_schema()",
    "SELECT current_database()",
    "SELECT current_user",
    "SELECT session_user",
    "SELECT pg_backend_pid()",
    "SELECT 1 AS one, current_user AS u, version() AS v",
]
NOT_CONSTANT = ["SELECT 1 FROM pg_class LIMIT 1", "SELECT 1 WHERE false", "SELECT 1 UNION SELECT 2",
                "SELECT 2147483648", "SELECT 1.5", "SELECT NULL", "SELECT now() IS NOT NULL", "SELECT 1 LIMIT 1",
                "SELECT DISTINCT 1", "SELECT version(1)", "SELECT $1", "SELECT 1::int8", "SELECT now()",
                "SELECT true"]  # PostgreSQL names it "bool", the catalog engine "?column?": one answer only


@pytest.fixture(scope="module")
def catalog() -> Iterator[CatalogSession]:
    eng = CatalogEngine(fixture_schema(), database="semantic", users=("demo",))
    session = eng.open_session(SessionInfo(pid=4242, user="demo", database="semantic",
                                           settings={"search_path": '"$user", public'}))
    yield session
    eng.close()


class _Values:
    """The session values a connection hands the constant path, taken from the catalog session."""

    def __init__(self, catalog: CatalogSession) -> None:
        self.catalog = catalog

    def session_value(self, name: str) -> object:
        info = self.catalog.info
        return {"version": self.catalog.version_text(), "current_schema": self.catalog.current_schema(),
                "current_database": info.database, "pg_backend_pid": info.pid, "current_user": info.user,
                "session_user": info.user}[name]


@pytest.mark.parametrize("sql", QUERIES)
def test_constant_query_matches_catalog_engine(catalog: CatalogSession, sql: str) -> None:
    const = constant_query(split(sql)[0])
    assert const is not None
    desc = catalog.describe(sql)
    result = catalog.execute(sql)
    assert [(c.name, c.type.oid, c.type.typmod) for c in const.columns] == \
        [(c.name, c.type.oid, c.type.typmod) for c in desc.columns]
    batch = const.batch(_Values(catalog))
    for fmt in (0, 1):
        ours = RowEncoder([c.type for c in const.columns], (fmt,) * len(const.columns)).encode(batch)
        enc = RowEncoder([c.type for c in desc.columns], (fmt,) * len(desc.columns))
        theirs = b"".join(enc.encode(b) for b in result.batches)
        assert ours == theirs


@pytest.mark.parametrize("sql", NOT_CONSTANT)
def test_other_statements_are_not_constant(sql: str) -> None:
    assert constant_query(split(sql)[0]) is None


def test_clients_get_constant_answers(gateway: GatewayProcess) -> None:
    sql = "SELECT 1 AS one, 'x' AS two, current_user"
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        assert conn.execute(sql).fetchall() == [(1, "x", "demo")]
        assert conn.execute(sql, prepare=True).fetchall() == [(1, "x", "demo")]
        with conn.cursor(binary=True) as cur:
            assert cur.execute(sql).fetchall() == [(1, "x", "demo")]
    assert gateway.routes(sql) == {"constant"}
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        assert conn.execute("SELECT 1 WHERE true").fetchall() == [(1,)]
    assert "constant" not in gateway.routes("SELECT 1 WHERE true")


def test_constant_path_follows_session_settings(gateway: GatewayProcess) -> None:
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        conn.execute("SET search_path = pg_catalog")
        assert conn.execute("SELECT current_schema()").fetchone() == ("pg_catalog",)
        conn.execute("SET search_path = nosuchschema")
        assert conn.execute("SELECT current_schema()").fetchone() == (None,)
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert pid == (conn.info.backend_pid,)
