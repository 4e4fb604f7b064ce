"""Create, in a real PostgreSQL, tables equivalent to a VirtualSchema (same names, types, keys, comments).

PostgreSQL then answers every client's catalog questions about the same relations the gateway serves, which
is the reference the client matrix compares against. A `measure(x)` aggregate (a sum) lets the same metric
SQL run on both targets; it lives in pg_catalog so that `\\df` lists no user function, as on the gateway.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from virtual_schema.pgtypes import TYPES_BY_OID, PgColumnType
from virtual_schema.schema import ColumnKind, VirtualSchema, VirtualTable

ROWS = 60

_MEASURE_AGGREGATES = """
CREATE AGGREGATE pg_catalog.measure(smallint) (sfunc = int2pl, stype = smallint);
CREATE AGGREGATE pg_catalog.measure(integer) (sfunc = int4pl, stype = integer);
CREATE AGGREGATE pg_catalog.measure(bigint) (sfunc = int8pl, stype = bigint);
CREATE AGGREGATE pg_catalog.measure(numeric) (sfunc = numeric_add, stype = numeric);
CREATE AGGREGATE pg_catalog.measure(real) (sfunc = float4pl, stype = real);
CREATE AGGREGATE pg_catalog.measure(double precision) (sfunc = float8pl, stype = double precision);
"""


def sql_type(t: PgColumnType) -> str:
    """The type as DDL would spell it (format_type's answer, modulo spelling PostgreSQL accepts)."""
    pt = TYPES_BY_OID[t.oid]
    name = pt.name
    if t.typmod >= 0:
        if name == "numeric":
            mod = t.typmod - 4
            return f"numeric({(mod >> 16) & 0xFFFF},{mod & 0xFFFF})"
        if name in ("varchar", "bpchar"):
            return f"{name}({t.typmod - 4})"
        if name in ("timestamp", "timestamptz", "time", "timetz", "interval"):
            return f"{name}({t.typmod})"
    if pt.element_oid:
        return sql_type(PgColumnType(pt.element_oid)) + "[]"
    return name


def _value_expr(t: PgColumnType) -> str:
    """A deterministic value of type t for row g (1..ROWS), for the sample data."""
    name = TYPES_BY_OID[t.oid].name
    exprs = {
        "int2": "(g % 7)::int2", "int4": "(g % 11)", "int8": "(g * 3)::int8", "float4": "(g * 0.5)::float4",
        "float8": "(g * 1.25)::float8", "numeric": "(g * 2.5)::numeric", "bool": "(g % 2 = 0)",
        "text": "'v' || (g % 3)", "varchar": "'v' || (g % 3)", "bpchar": "'c' || (g % 3)",
        "date": "DATE '2024-01-01' + g", "timestamp": "TIMESTAMP '2024-01-01 00:00' + g * INTERVAL '5 hours'",
        "timestamptz": "TIMESTAMPTZ '2024-01-01 00:00+00' + g * INTERVAL '5 hours'",
        "time": "TIME '00:00' + g * INTERVAL '1 minute'", "interval": "g * INTERVAL '1 hour'",
        "uuid": "md5(g::text)::uuid", "bytea": "decode(md5(g::text), 'hex')", "json": "json_build_object('g', g)",
        "jsonb": "jsonb_build_object('g', g)", "_int4": "ARRAY[g, g + 1]", "_text": "ARRAY['a' || g]",
    }
    return exprs.get(name, "NULL")


def _create_table(conn: psycopg.Connection[object], t: VirtualTable) -> None:
    cols = [sql.SQL("{} {}{}").format(sql.Identifier(c.name), sql.SQL(sql_type(c.type)),
                                      sql.SQL("" if c.nullable else " NOT NULL")) for c in t.columns]
    qname = sql.Identifier(t.schema, t.name)
    conn.execute(sql.SQL("CREATE TABLE {} ({})").format(qname, sql.SQL(", ").join(cols)))
    if t.description:
        conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(qname, sql.Literal(t.description)))
    for c in t.columns:
        if c.description:
            conn.execute(sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(qname, sql.Identifier(c.name),
                                                                          sql.Literal(c.description)))
    values = []
    for c in t.columns:
        if c.name in t.primary_key:
            values.append(f"g::{sql_type(c.type)}")
        elif c.kind is ColumnKind.ENTITY:
            values.append(f"(1 + g % {ROWS // 3})::{sql_type(c.type)}")
        else:
            values.append(f"({_value_expr(c.type)})::{sql_type(c.type)}")
    conn.execute(sql.SQL("INSERT INTO {} SELECT {} FROM generate_series(1, {}) AS s(g)").format(
        qname, sql.SQL(", ".join(values)), sql.Literal(ROWS)))
    if t.primary_key:
        conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
            qname, sql.SQL(", ").join(map(sql.Identifier, t.primary_key))))


def mirror_schema(dsn: str, schema: VirtualSchema) -> None:
    """Create schema's tables (with sample rows, keys and comments) in the PostgreSQL at dsn."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(_MEASURE_AGGREGATES)
        for t in schema.tables:
            if t.schema != "public":
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(t.schema)))
            _create_table(conn, t)
        for t in schema.tables:
            for fk in t.foreign_keys:
                ref = schema.table(fk.ref_table)
                conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})").format(
                    sql.Identifier(t.schema, t.name), sql.Identifier(fk.name),
                    sql.SQL(", ").join(map(sql.Identifier, fk.columns)),
                    sql.Identifier(ref.schema if ref else "public", fk.ref_table),
                    sql.SQL(", ").join(map(sql.Identifier, fk.ref_columns))))
