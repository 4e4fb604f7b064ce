"""Result types and text values of constant and catalog expressions, compared with a real PostgreSQL 15.

Drivers decode by the type OID and typmod of each result column (psycopg loads a `'…'::uuid` as uuid.UUID
only when the column is uuid, 2950), so every `SELECT <expr>` here must describe the same column name,
type OID and typmod as PostgreSQL and print the same text (through the gateway's row encoder).
"""

from __future__ import annotations

import struct
from typing import Any

import psycopg
import pytest

from gateway.protocol.rowenc import RowEncoder
from virtual_schema.catalog.engine import CatalogSession
from virtual_schema.errors import PgError

CASTS = [
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
    "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid",
    "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'::uuid[]",
    """'{"a": 1}'::json""",
    """'{"b":[1,2], "a": 1, "aa": {"y":null}}'::jsonb""",
    """'{"a":1}'::jsonb -> 'a'""",
    "'192.168.0.1'::inet",
    "'10.1.2.3/8'::inet",
    "'::1'::inet",
    "'192.168.0.0/24'::cidr",
    "'08-00-2B-01-02-03'::macaddr",
    "'12.5'::money",
    "'101'::bit(3)",
    "'11'::bit(3)",
    "'1101'::bit(3)",
    "'1101'::varbit(2)",
    "'101'::varbit",
    "B'1010'",
    "'0/16b6c50'::pg_lsn",
    "'(1.5,2)'::point",
    "'[1,5]'::int4range",
    "'(1,5)'::int8range",
    "'<a>x</a>'::xml",
    "'\\x0102'::bytea",
    "'1 day 02:00:00'::interval",
    "interval '1 year 2 months'",
    "'12:34:56'::time",
    "'12:34:56.5'::time(3)",
    "'12:34:56+02'::timetz",
    "'12:34:56'::time with time zone",
    "'2024-02-29'::date",
    "'2024-02-29 12:34:56'::timestamp",
    "'2024-02-29 12:34:56.123456'::timestamp(3)",
    "'2024-02-29 12:34:56+00'::timestamptz",
    "'infinity'::timestamp",
    "'-infinity'::timestamptz",
    "'infinity'::date",
    "'12.345'::numeric(10,2)",
    "12.345::numeric(10,2)",
    "'12.345'::decimal(5,1)",
    "12::numeric(5)",
    "1.5::numeric",
    "'1.50'::numeric",
    "'1.5'::float8::numeric",
    "'abc'::varchar(10)",
    "'abcdef'::varchar(2)",
    "'abc'::character varying",
    "'abc'::char(5)",
    "'abc'::character(2)",
    "'abc'::char",
    "'abc'::bpchar",
    "'x'::\"char\"",
    "'abc'::name",
    "'abc'::text",
    "'abc'::unknown",
    "'123'::oid",
    "'pg_class'::regclass",
    "'int4'::regtype",
    "'array_in'::regproc",
    "'pg_catalog'::regnamespace",
    "'int4'::regtype::oid",
    "'int4'::regtype::text",
    "'1 2'::int2vector",
    "'23 25'::oidvector",
    "'{1,2,3}'::int[]",
    "'{1,2}'::int2[]",
    "'{a,b}'::text[]",
    "'{}'::text[]",
    "'{1.5,2}'::numeric[]",
    "'{x,y}'::varchar(3)[]",
    "ARRAY[1,2]",
    "ARRAY['a','b']",
    "1::int2",
    "1::int8",
    "1.5::float4",
    "'1.5'::real",
    "'1.5'::double precision",
    "1::bool",
    "true",
    "1",
    "123456789012",
    "1.5",
    "'abc'",
    "NULL",
    "NULL::int4",
]
COMBINED = [
    "CASE WHEN random() < 2 THEN 'a' ELSE 'b' END",
    "CASE WHEN random() < 2 THEN 'a'::varchar ELSE 'b'::text END",
    "CASE WHEN random() < 2 THEN 'a'::text ELSE 'b'::varchar END",
    "CASE WHEN random() < 2 THEN 'a'::name ELSE 'b'::text END",
    "CASE WHEN random() < 2 THEN 'a'::varchar(5) ELSE 'bc'::varchar(5) END",
    "CASE WHEN random() < 2 THEN 'a'::varchar(5) ELSE 'bc'::varchar(6) END",
    "CASE WHEN random() < 2 THEN 'a'::varchar ELSE 'b'::name END",
    "CASE WHEN random() < 2 THEN 1 ELSE 2::int8 END",
    "CASE WHEN random() < 2 THEN 1::int2 END",
    "CASE WHEN random() < 2 THEN 2.5 ELSE 1 END",
    "CASE WHEN random() < 2 THEN 1.5::float4 ELSE 2::numeric END",
    "CASE WHEN random() < 2 THEN '2024-01-01 10:00+00'::timestamptz ELSE '2024-01-01'::date END",
    "COALESCE(NULL, 'x')",
    "COALESCE('a'::varchar, 'b'::text)",
    "COALESCE('b'::text, 'a'::varchar)",
    "COALESCE(1, 2::int2)",
    "COALESCE(2::int2, 1)",
    "GREATEST(1, 2::int8)",
]
# operators, functions and aggregates clients use: result names (as PostgreSQL's parser spells them) and types
FUNCTIONS = [
    '1::int2 + 1::int2',
    '1::int4 * 2::int8',
    '1.5::float4 + 1',
    '1.5::float4 * 2::float8',
    '1 + 1.5',
    '2::int8 / 3',
    "length('abc')",
    "char_length('abc')",
    "octet_length('abc')",
    "position('b' in 'abc')",
    "strpos('abc', 'b')",
    "substring('abc' from 2)",
    "substr('abc', 2)",
    "upper('abc'::varchar)",
    "lower('ABC'::name)",
    "concat('a', 1)",
    "'a'::varchar || 'b'::varchar",
    "'a'::name || 'b'",
    "extract(year from '2024-01-01'::date)",
    "date_trunc('day', '2024-01-01 10:00'::timestamp)",
    "date_trunc('day', '2024-01-01 10:00+00'::timestamptz)",
    "to_char('2024-01-01'::date, 'YYYY')",
    'round(1.5)',
    'round(1.55, 1)',
    'round(1.5::float8)',
    'abs(-1)',
    'abs(-1.5)',
    'ceil(1.5)',
    'floor(1.5::float8)',
    'mod(5, 3)',
    '5 % 3',
    '2 ^ 3',
    'sqrt(4)',
    'COALESCE(NULL, 1)',
    'NULLIF(1, 2)',
    'GREATEST(1, 2.5)',
    "LEAST('a', 'b')",
    "'a' = 'b'",
    "'abc' LIKE 'a%'",
    'NULL IS NULL',
    '1 IN (1, 2)',
    'ARRAY[1,2]::text',
    '(SELECT 1)',
    "(SELECT 'a'::varchar)",
    'CAST(1 AS text)',
    "format('%s-%s', 1, 'a')",
    "quote_literal('a')",
    "quote_ident('Ab')",
    "md5('a')",
    "replace('abc', 'b', 'x')",
    "trim('  a ')",
    "btrim('xax', 'x')",
    "left('abc', 2)",
    "lpad('a', 3, '-')",
    "split_part('a.b', '.', 2)",
    'array_length(ARRAY[1,2], 1)',
    'cardinality(ARRAY[1,2])',
    "array_to_string(ARRAY[1,2], ',')",
    "string_to_array('a,b', ',')",
    "'2024-01-01'::date + 1",
    "'2024-01-02'::date - '2024-01-01'::date",
    "'2024-01-01'::date + interval '1 day'",
    "'2024-01-01 00:00'::timestamp - '2023-01-01 00:00'::timestamp",
    "'10:00'::time + interval '1 hour'",
    "age('2024-01-01'::timestamp, '2023-01-01'::timestamp)",
    'make_date(2024, 1, 2)',
    "to_date('2024-01-02', 'YYYY-MM-DD')",
    'to_timestamp(0)',
    "'1'::int4 = 1::int8",
    '1::bool::int4',
    "'3'::int4::text::int8",
    "ascii('a')",
    'chr(65)',
    "repeat('ab', 2)",
    "reverse('abc')",
    "initcap('ab cd')",
    '1::numeric(5,2) + 1::numeric(5,2)',
    'sum(1)',
    'count(*)',
    "max('a'::varchar)",
    'min(1.5)',
    'sum(1::int8)',
    'sum(1.5::float4)',
    "string_agg('a', ',')",
    'array_agg(1)',
    'bool_and(true)',
    'every(true)',
]
# set operations: each UNION / INTERSECT / EXCEPT resolves its two inputs' column types (unknown literals give way)
SETOPS = [
    '1 UNION SELECT 2::int8',
    "'a' UNION SELECT 'b'::varchar",
    "'a'::varchar UNION SELECT 'b'",
    "'a'::varchar(3) UNION ALL SELECT 'b'::varchar(3)",
    "'a'::varchar(3) UNION ALL SELECT 'b'::varchar(4)",
    '1::int2 UNION SELECT 1 UNION SELECT 2::int8',
    "'x' UNION SELECT relname FROM pg_class WHERE false",
    "relname FROM pg_class WHERE false UNION SELECT 'x'",
    'relname FROM pg_class WHERE false UNION SELECT nspname::text FROM pg_namespace WHERE false',
    "table_name FROM information_schema.tables WHERE false UNION SELECT 'x'",
    "table_type FROM information_schema.tables WHERE false UNION SELECT 'x'::text",
    "1, 'a' UNION SELECT 2::int8, 'b'::name",
    '(SELECT 1 UNION SELECT 2) ORDER BY 1',
    '1 INTERSECT SELECT 1::int8',
    '1 EXCEPT SELECT 2::numeric',
]
# information_schema's domains (sql_identifier = name, character_data = varchar, cardinal_number = int4,
# yes_or_no = varchar(3), time_stamp = timestamptz(2)) in CASE / COALESCE with other expressions
DOMAIN_QUERIES = [
    "SELECT table_name, column_name, data_type, is_nullable, ordinal_position, character_maximum_length "
    "FROM information_schema.columns WHERE false",
    "SELECT CASE WHEN data_type LIKE '%unsigned%' THEN data_type || ' unsigned' ELSE data_type END "
    "FROM information_schema.columns WHERE false",
    "SELECT CASE WHEN is_nullable = 'YES' THEN 'nullable' ELSE data_type END FROM information_schema.columns",
    "SELECT CASE WHEN is_nullable = 'YES' THEN is_nullable ELSE 'NO' END FROM information_schema.columns",
    "SELECT CASE WHEN true THEN table_name ELSE column_name END FROM information_schema.columns WHERE false",
    "SELECT CASE WHEN true THEN table_name::text ELSE column_name END FROM information_schema.columns WHERE false",
    "SELECT CASE WHEN true THEN table_name ELSE 'x'::varchar END FROM information_schema.columns WHERE false",
    "SELECT COALESCE(character_maximum_length, 0) FROM information_schema.columns WHERE false",
    "SELECT COALESCE(character_maximum_length, 0::int8) FROM information_schema.columns WHERE false",
    "SELECT COALESCE(column_default, data_type) FROM information_schema.columns WHERE false",
    "SELECT COALESCE(column_name, table_name) FROM information_schema.columns WHERE false",
    "SELECT COALESCE(column_name, data_type) FROM information_schema.columns WHERE false",
    "SELECT COALESCE(is_nullable, 'x') FROM information_schema.columns WHERE false",
    "SELECT CASE WHEN numeric_precision IS NULL THEN 0 ELSE numeric_precision END "
    "FROM information_schema.columns WHERE false",
    "SELECT table_name, is_insertable_into, commit_action FROM information_schema.tables WHERE false",
    "SELECT CASE WHEN table_type = 'VIEW' THEN 'v' ELSE table_type END FROM information_schema.tables WHERE false",
    "SELECT created FROM information_schema.triggers WHERE false",
    "SELECT COALESCE(created, now()) FROM information_schema.triggers WHERE false",
]


Shape = list[tuple[str, int, int]]


def _pg(conn: psycopg.Connection[Any], sql: str) -> tuple[Shape, list[list[str | None]]]:
    res = conn.execute(sql).pgresult
    assert res is not None
    shape = [(res.fname(i).decode(), res.ftype(i), res.fmod(i)) for i in range(res.nfields)]
    rows = []
    for r in range(res.ntuples):
        vals = [res.get_value(r, i) for i in range(res.nfields)]
        rows.append([None if v is None else v.decode() for v in vals])
    return shape, rows


def _data_rows(data: bytes) -> list[list[str | None]]:
    rows: list[list[str | None]] = []
    i = 0
    while i < len(data):
        length = struct.unpack("!I", data[i + 1 : i + 5])[0]
        body, i = data[i + 5 : i + 1 + length], i + 1 + length
        j, row = 2, []
        for _ in range(struct.unpack("!H", body[:2])[0]):
            n = struct.unpack("!i", body[j : j + 4])[0]
            j += 4
            row.append(None if n < 0 else body[j : j + n].decode())
            j += max(n, 0)
        rows.append(row)
    return rows


def _ours(session: CatalogSession, sql: str) -> tuple[Shape, list[list[str | None]]]:
    desc = session.describe(sql)
    res = session.execute(sql)
    shape = [(c.name, c.type.oid, c.type.typmod) for c in res.columns]
    assert [(c.name, c.type.oid, c.type.typmod) for c in desc.columns] == shape, "Describe differs from Execute"
    enc = RowEncoder([c.type for c in res.columns], [0], timezone="UTC")
    rows = [r for b in res.batches for r in _data_rows(enc.encode(b))]
    return shape, rows


@pytest.mark.parametrize("expr", CASTS + COMBINED + FUNCTIONS)
def test_expression_type_and_text(expr: str, pg_utc: psycopg.Connection[Any], catalog_utc: CatalogSession) -> None:
    sql = f"SELECT {expr}"
    assert _ours(catalog_utc, sql) == _pg(pg_utc, sql)


@pytest.mark.parametrize("expr", SETOPS)
def test_set_operation_types(expr: str, pg_utc: psycopg.Connection[Any], catalog_utc: CatalogSession) -> None:
    sql = f"SELECT {expr}"
    try:
        want = _pg(pg_utc, sql)
    except psycopg.Error as e:
        with pytest.raises(PgError) as ours:
            catalog_utc.execute(sql)
        assert ours.value.sqlstate == e.sqlstate
        return
    got = _ours(catalog_utc, sql)
    assert (got[0], sorted(got[1], key=repr)) == (want[0], sorted(want[1], key=repr))


@pytest.mark.parametrize("sql", DOMAIN_QUERIES)
def test_information_schema_domain_resolution(sql: str, pg_utc: psycopg.Connection[Any],
                                              catalog_utc: CatalogSession) -> None:
    assert _ours(catalog_utc, sql)[0] == _pg(pg_utc, sql)[0]


@pytest.mark.parametrize(
    ("expr", "sqlstate"),
    [("'10.1.2.3/8'::cidr", "22P02"), ("'zz'::macaddr", "22P02"), ("'1012'::varbit", "22P02"),
     ("'12'::bit(3)", "22P02"), ("'{\"a\":'::jsonb", "22P02"), ("'[5,1]'::int4range", "22000")],
)
def test_invalid_input_same_sqlstate(expr: str, sqlstate: str, pg_utc: psycopg.Connection[Any],
                                     catalog_utc: CatalogSession) -> None:
    with pytest.raises(psycopg.Error) as pg_err:
        pg_utc.execute(f"SELECT {expr}")
    assert pg_err.value.sqlstate == sqlstate
    with pytest.raises(PgError) as ours:
        catalog_utc.execute(f"SELECT {expr}")
    assert ours.value.sqlstate == sqlstate
