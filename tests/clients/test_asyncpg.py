"""asyncpg: its type introspection for every column type we emit, prepared statements, cursors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from tests.clients.targets import Endpoint, Target
from virtual_schema.pgtypes import TYPES_BY_OID

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the same loop as the session-scoped async fixtures


@pytest_asyncio.fixture(loop_scope="session")
async def conn(target: Target) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(host=target.host, port=target.port, user="demo", password="demo",
                              database="semantic", ssl=False)
    try:
        yield c
    finally:
        await c.close()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def test_introspection_of_every_emitted_type(target: Target, conn: asyncpg.Connection) -> None:
    """set_type_codec runs asyncpg's type-by-name and type introspection queries (pg_type, pg_range, ...)."""
    emitted = sorted({c.type.oid for t in target.schema.tables for c in t.columns})
    for oid in emitted:
        if TYPES_BY_OID[oid].element_oid:
            continue  # asyncpg takes custom codecs for scalars only; arrays are decoded by their element's
        name = TYPES_BY_OID[oid].name
        await conn.set_type_codec(name, schema="pg_catalog", encoder=str, decoder=str, format="text")
    rows = await conn.fetch(target.scan_sql())
    assert rows, "no rows"
    for row in rows:
        for c in target.scan_columns():
            v = row[c.name]
            if not TYPES_BY_OID[c.type.oid].element_oid:
                assert v is None or isinstance(v, str), (c.name, type(v))


async def test_result_types_reported(target: Target, conn: asyncpg.Connection) -> None:
    table = target.showcase()
    stmt = await conn.prepare(f"SELECT * FROM {_q(table.name)}")
    attrs = stmt.get_attributes()
    assert [a.name for a in attrs] == [c.name for c in table.columns]
    assert [a.type.oid for a in attrs] == [c.type.oid for c in table.columns]
    scalars = [(a.type.name, TYPES_BY_OID[c.type.oid].name) for a, c in zip(attrs, table.columns, strict=True)
               if not TYPES_BY_OID[c.type.oid].element_oid]
    assert all(got == want for got, want in scalars), scalars


async def test_prepared_statement_with_parameter(target: Target, conn: asyncpg.Connection) -> None:
    q = target.metric()
    everything = {r[0]: r[1] for r in await conn.fetch(q.all_sql())}
    assert everything
    stmt = await conn.prepare(q.sql("$1"))
    assert [p.name for p in stmt.get_parameters()] in (["text"], ["varchar"], ["bpchar"])
    assert [a.name for a in stmt.get_attributes()] == [q.dimension, "m"]
    for value in sorted(everything)[:3]:
        got = await stmt.fetch(value)
        assert [tuple(r) for r in got] == [(value, everything[value])]
        assert await stmt.fetchval(value, column=1) == everything[value]


async def test_cursors(target: Target, conn: asyncpg.Connection) -> None:
    query = target.scan_sql()
    expected = await conn.fetch(query)
    async with conn.transaction():
        got = [r async for r in conn.cursor(query, prefetch=7)]
    assert got == expected
    async with conn.transaction():
        cur = await conn.cursor(query)
        assert await cur.fetch(5) == expected[:5]
        await cur.forward(2)
        assert await cur.fetchrow() == (expected[7] if len(expected) > 7 else None)


# Constants of every built-in type a client may cast to; asyncpg reads each in binary with its own codec.
CASTS = [
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", "'192.168.0.1'::inet", "'10.1.2.3/8'::inet", "'::1'::inet",
    "'192.168.0.0/24'::cidr", "'08:00:2b:01:02:03'::macaddr", "'12:34:56+02'::timetz", "'12:34:56.5-03:30'::timetz",
    "'101'::bit(3)", "'1101'::varbit", "B'1'", "'(1.5,-2)'::point", "'[1,5]'::int4range", "'(,5)'::int8range",
    "'empty'::int4range", "'0/16B6C50'::pg_lsn", "'12.5'::money", """'{"b": [1, 2], "a": null}'::jsonb""",
    """'{"a": 1}'::json""", "'<a>x</a>'::xml", "'1 day 02:00:00'::interval", "'12:34:56'::time",
    "'12.345'::numeric(10,2)", "1.5::numeric", "'abc'::varchar(2)", "'abc'::char(5)", "'x'::\"char\"",
    "'abc'::name", "'{1,2}'::int2[]", "'{1.5,2}'::numeric[]", "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'::uuid[]",
    "'1 2'::int2vector", "'23 25'::oidvector", "'\\x0102'::bytea", "'2024-02-29 12:34:56+00'::timestamptz",
]


async def test_constant_casts_decode_as_on_postgres(target: Target, conn: asyncpg.Connection,
                                                    pg15: Endpoint) -> None:
    reference = await asyncpg.connect(host=pg15.host, port=pg15.port, user="demo", password="demo",
                                      database="semantic", ssl=False)
    try:
        differences = []
        for expr in CASTS:
            want = await reference.fetchrow(f"SELECT {expr}")
            got = await conn.fetchrow(f"SELECT {expr}")
            if (list(got.keys()), list(got.values())) != (list(want.keys()), list(want.values())):
                differences.append((expr, dict(got), dict(want)))
        assert not differences
    finally:
        await reference.close()
