"""psycopg 3: TypeInfo.fetch for every type we emit, server-side parameters, binary results."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from psycopg.types import TypeInfo

from tests.clients.targets import Target
from virtual_schema.pgtypes import TYPES_BY_OID


def emitted_types(target: Target) -> set[int]:
    return {c.type.oid for t in target.schema.tables for c in t.columns}


def test_typeinfo_fetch_every_emitted_type(target: Target) -> None:
    with psycopg.connect(target.dsn(), autocommit=True) as conn:
        for oid in sorted(emitted_types(target)):
            pt = TYPES_BY_OID[oid]
            info = TypeInfo.fetch(conn, pt.name)
            assert info is not None, pt.name
            assert (info.name, info.oid) == (pt.name, oid)
            if pt.array_oid:
                assert info.array_oid == pt.array_oid, pt.name


def test_typeinfo_fetch_unknown_type_is_none(target: Target) -> None:
    with psycopg.connect(target.dsn(), autocommit=True) as conn:
        assert TypeInfo.fetch(conn, "no_such_type_here") is None


def _all_rows(conn: psycopg.Connection[tuple[object, ...]], target: Target) -> dict[object, object]:
    q = target.metric()
    return dict(conn.execute(q.all_sql()).fetchall())  # type: ignore[arg-type]


def test_server_side_parameters(target: Target) -> None:
    q = target.metric()
    with psycopg.connect(target.dsn(), autocommit=True) as conn:
        everything = _all_rows(conn, target)
        assert everything, "the metric query returned no rows"
        for value in sorted(everything, key=str)[:3]:
            cur = conn.execute(q.sql("%s"), [value])  # type: ignore[arg-type]
            assert cur.fetchall() == [(value, everything[value])]
            assert cur.description is not None and [d.name for d in cur.description][1] == "m"
        value = sorted(everything, key=str)[0]
        for _ in range(7):  # past psycopg's prepare_threshold: a named server-side prepared statement
            got = conn.execute(q.sql("%s"), [value], prepare=True).fetchall()  # type: ignore[arg-type]
            assert got == [(value, everything[value])]


def test_binary_results_equal_text_results(target: Target) -> None:
    q = target.metric()
    select_all = target.scan_sql()
    columns = target.scan_columns()
    with psycopg.connect(target.dsn(), autocommit=True) as conn:
        text_metric = conn.execute(q.all_sql()).fetchall()  # type: ignore[arg-type]
        text_rows = conn.execute(select_all).fetchall()  # type: ignore[arg-type]
        with conn.cursor(binary=True) as cur:
            assert cur.execute(q.all_sql()).fetchall() == text_metric  # type: ignore[arg-type]
            assert cur.pgresult is not None and cur.pgresult.fformat(1) == 1  # really binary
        with conn.cursor(binary=True) as cur:
            cur.execute(select_all)  # type: ignore[arg-type]
            assert cur.description is not None
            assert [d.name for d in cur.description] == [c.name for c in columns]
            assert [d.type_code for d in cur.description] == [c.type.oid for c in columns]
            assert cur.fetchall() == text_rows


def test_binary_parameters(target: Target) -> None:
    q = target.metric()
    with psycopg.connect(target.dsn(), autocommit=True) as conn:
        everything = _all_rows(conn, target)
        value = sorted(everything, key=str)[-1]
        with conn.cursor(binary=True) as cur:
            cur.execute(q.sql("%b"), [value])  # type: ignore[arg-type]
            assert cur.fetchall() == [(value, everything[value])]


@pytest.mark.parametrize("literal", [
    "12.5::numeric", "7::int8", "'x'::text", "true", "DATE '2024-02-29'",
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", "'192.168.0.1'::inet", "'10.0.0.0/8'::cidr",
    "'12:34:56+02'::timetz", "'1 day 02:00:00'::interval", "'[1,5]'::int4range", "'(,5)'::int8range",
    """'{"b": [1, 2], "a": null}'::jsonb""", "'12.345'::numeric(10,2)", "'abc'::char(5)", "'abc'::varchar(2)",
    "'{1.5,2}'::numeric[]", "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'::uuid[]", "'12:34:56'::time",
])
def test_binary_scalars(target: Target, literal: str) -> None:
    with psycopg.connect(target.dsn(), autocommit=True) as conn:
        text = conn.execute(f"SELECT {literal}").fetchone()  # type: ignore[call-overload]
        with conn.cursor(binary=True) as cur:
            assert cur.execute(f"SELECT {literal}").fetchone() == text  # type: ignore[call-overload]
    assert text is not None and text[0] is not None
    if literal.startswith("12.5"):
        assert text[0] == Decimal("12.5")


def test_copy_out_and_in(target: Target) -> None:
    """psycopg's COPY support: COPY (query) TO STDOUT in text and binary carries the query's rows, and COPY … FROM
    STDIN loads a temp table with write_row that a SELECT reads back."""
    q = target.metric()
    with psycopg.connect(target.dsn(), autocommit=True) as conn:
        cur = conn.cursor()
        want = cur.execute(q.all_sql()).fetchall()  # type: ignore[arg-type]
        assert cur.description is not None
        oids = [d.type_code for d in cur.description]
        for options in ("", "WITH (FORMAT binary)"):
            with cur.copy(f"COPY ({q.all_sql()}) TO STDOUT {options}") as cp:
                cp.set_types(oids)
                assert list(cp.rows()) == want
            assert cur.rowcount == len(want)
        cur.execute("CREATE TEMP TABLE copy_check (k text, n numeric, d date)")
        rows = [("a\tb", Decimal("1.50"), None), (None, Decimal("-2"), None)]
        with cur.copy("COPY copy_check FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)
        assert cur.rowcount == 2
        assert cur.execute("SELECT * FROM copy_check ORDER BY n DESC").fetchall() == rows
