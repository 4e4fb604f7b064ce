"""Parameter type inference at describe, binding of decoded values, bytea literals (PostgreSQL 15 semantics)."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from tests.catalog.fixtures import fixture_schema
from virtual_schema.catalog.api import SessionInfo
from virtual_schema.catalog.engine import CatalogEngine, CatalogSession


@pytest.fixture(scope="module")
def engine() -> Iterator[CatalogEngine]:
    eng = CatalogEngine(fixture_schema(), database="semantic", users=("demo",))
    yield eng
    eng.close()


@pytest.fixture
def s(engine: CatalogEngine) -> Iterator[CatalogSession]:
    sess = engine.open_session(
        SessionInfo(pid=7, user="demo", database="semantic", settings={"search_path": '"$user", public'})
    )
    yield sess
    sess.close()


def _rows(s: CatalogSession, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    s.describe(sql, [0] * len(params))
    table = pa.Table.from_batches(list(s.execute(sql, params).batches))
    return list(zip(*[c.to_pylist() for c in table.columns], strict=True))


# Expected parameter OIDs are what PostgreSQL 15 reports in ParameterDescription for an unspecified $1.
@pytest.mark.parametrize(
    ("sql", "oid"),
    [
        ("SELECT $1::int4 + 1 AS x", 23),
        ("SELECT $1::int8 * 2", 20),
        ("SELECT $1::text", 25),
        ("SELECT $1::date", 1082),
        ("SELECT $1::numeric", 1700),
        ("SELECT $1::bool", 16),
        ("SELECT $1::regclass", 2205),
        ("SELECT $1::regtype", 2206),
        ("SELECT CAST($1 AS int8)", 20),
        ("SELECT ($1)::int2", 21),
        ("SELECT relname FROM pg_class WHERE oid = $1", 26),
        ("SELECT oid FROM pg_class WHERE relname = $1", 19),
        ("SELECT oid FROM pg_namespace WHERE nspname = ANY($1)", 1003),
        ("SELECT $1", 25),
    ],
)
def test_param_types_inferred(s: CatalogSession, sql: str, oid: int) -> None:
    assert [p.oid for p in s.describe(sql, [0]).param_types] == [oid]


def test_declared_param_type_wins(s: CatalogSession) -> None:
    assert [p.oid for p in s.describe("SELECT $1::int8", [23]).param_types] == [23]


def test_decoded_values_bind(s: CatalogSession) -> None:
    assert _rows(s, "SELECT $1::int4 + 1 AS x", (41,)) == [(42,)]
    assert _rows(s, "SELECT $1::int8 * 2", (21,)) == [(42,)]
    assert _rows(s, "SELECT $1::date", (dt.date(2024, 1, 2),)) == [(dt.date(2024, 1, 2),)]
    assert _rows(s, "SELECT $1::numeric = 1.5", (decimal.Decimal("1.50"),)) == [(True,)]
    assert _rows(s, "SELECT $1::bool", (True,)) == [(True,)]
    oid = _rows(s, "SELECT 'orders'::regclass::oid")[0][0]
    assert _rows(s, "SELECT relname FROM pg_class WHERE oid = $1", (oid,)) == [("orders",)]
    assert _rows(s, "SELECT $1::regclass::oid", ("orders",)) == [(oid,)]
    got = _rows(s, "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1) ORDER BY 1", (["public", "pg_catalog"],))
    assert got == [("pg_catalog",), ("public",)]


# bytea input with standard_conforming_strings on: the backslash in '...' is literal, so '\x0102' is
# PostgreSQL's hex format (2 bytes); E'...' strings process escapes first, so E'\\x0102' is the same value.
@pytest.mark.parametrize(
    ("sql", "value"),
    [
        (r"SELECT '\x0102'::bytea", b"\x01\x02"),
        (r"SELECT E'\\x0102'::bytea", b"\x01\x02"),
        (r"SELECT '\xDEAD beef'::bytea", bytes.fromhex("deadbeef")),
        (r"SELECT 'abc\000'::bytea", b"abc\x00"),
        (r"SELECT 'a\\b'::bytea", b"a\\b"),
        (r"SELECT 'it''s'::bytea", b"it's"),
        (r"SELECT CAST('\x41' AS bytea)", b"A"),
    ],
)
def test_bytea_literals(s: CatalogSession, sql: str, value: bytes) -> None:
    assert _rows(s, sql) == [(value,)]
    assert [c.type.oid for c in s.describe(sql).columns] == [17]


@pytest.mark.parametrize(
    ("sql", "sqlstate"),
    [(r"SELECT 'a\b'::bytea", "22P02"), (r"SELECT '\x012'::bytea", "22023"), (r"SELECT '\xzz'::bytea", "22023")],
)
def test_bytea_bad_input(s: CatalogSession, sql: str, sqlstate: str) -> None:
    from virtual_schema.errors import PgError

    with pytest.raises(PgError) as err:
        s.execute(sql)
    assert err.value.sqlstate == sqlstate
    if "zz" in sql:
        assert err.value.message == 'invalid hexadecimal digit: "z"'  # PostgreSQL 15's wording


def test_escape_strings(s: CatalogSession) -> None:
    assert _rows(s, r"SELECT E'a\tb\n\\c\'d', E'\101', 'a\b'") == [("a\tb\n\\c'd", "A", "a\\b")]


@pytest.mark.parametrize(
    ("kind", "sql"),
    [
        (2205, "SELECT oid, oid::regclass FROM pg_class"),
        (2206, "SELECT oid, oid::regtype FROM pg_type"),
        (24, "SELECT oid, oid::regproc FROM pg_proc"),
        (4089, "SELECT oid, oid::regnamespace FROM pg_namespace"),
    ],
)
def test_reg_names_map_back_to_oids(s: CatalogSession, kind: int, sql: str) -> None:
    """Binary result format sends a reg* value as its OID: every name we send must map back (reg_oid)."""
    pairs = _rows(s, sql)
    assert pairs
    # an overloaded function's regproc name is ambiguous in PostgreSQL too: check names unique in the result
    seen: dict[str, int] = {}
    for _oid, name in pairs:
        seen[name] = seen.get(name, 0) + 1
    assert all(s.reg_oid(kind, name) == oid for oid, name in pairs if seen[name] == 1)


def test_reg_in_follows_postgres_input_rules(s: CatalogSession) -> None:
    # values of PostgreSQL 15's regtypein / regclassin
    assert s.reg_in(2206, "integer[]") == 1007
    assert s.reg_in(2206, '"char"') == 18
    assert s.reg_in(2206, "timestamp with time zone") == 1184
    assert s.reg_in(2206, "pg_catalog.int4") == 23
    assert s.reg_in(2205, "-") == 0
    assert s.reg_in(2205, "1259") == 1259


def test_length_of_bytea(s: CatalogSession) -> None:
    assert _rows(s, r"SELECT length('\xdeadbeef'::bytea), length('abc')") == [(4, 3)]
