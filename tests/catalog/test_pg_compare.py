"""Compare the catalog engine with a real PostgreSQL 15 holding the same tables.

Every statement real clients sent (captured by capture_client_queries.py: psql meta-commands, pgjdbc
DatabaseMetaData, SQLAlchemy's inspector, psycopg TypeInfo, asyncpg introspection) and every corpus
catalog statement PostgreSQL itself accepts must give the same column names and type OIDs; a set of
model-derived answers must match value for value.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from tests.catalog import pgserver
from tests.catalog.fixtures import fixture_schema
from virtual_schema.catalog.api import SessionInfo
from virtual_schema.catalog.engine import CatalogEngine, CatalogSession
from virtual_schema.errors import PgError

HERE = Path(__file__).parent
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "bi-corpus"


def _client_queries() -> list[dict[str, Any]]:
    return list(json.loads((HERE / "data" / "client_queries.json").read_text()))


def _corpus_queries() -> list[dict[str, Any]]:
    if not (CORPUS / "manifest.tsv").exists():
        return []
    out: list[dict[str, Any]] = []
    with open(CORPUS / "manifest.tsv", newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            if r["kind"] != "catalog" or "redshift." in r["tables_referenced"]:
                continue
            out.append({"client": r["file"].split("_")[0], "sql": (CORPUS / r["file"]).read_text(), "params": []})
    return out


@pytest.fixture(scope="module")
def pg() -> Iterator[pgserver.PgServer]:
    server = pgserver.start()
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE cubedb")
    with psycopg.connect(server.dsn("cubedb"), autocommit=True) as conn:
        for stmt in pgserver.ddl(fixture_schema()):
            conn.execute(stmt)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pg_conn(pg: pgserver.PgServer) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg.dsn("cubedb"), autocommit=True, cursor_factory=psycopg.RawCursor) as conn:
        yield conn


@pytest.fixture(scope="module")
def session() -> Iterator[CatalogSession]:
    eng = CatalogEngine(fixture_schema(), database="cubedb", users=("postgres",))
    s = eng.open_session(
        SessionInfo(
            pid=1,
            user="postgres",
            database="cubedb",
            settings={"search_path": '"$user", public', "server_version": "15.0"},
        )
    )
    yield s
    eng.close()


def _pg_shape(conn: psycopg.Connection[Any], sql: str, params: list[Any]) -> list[tuple[str, int]] | None:
    try:
        cur = conn.execute(sql, params or None)
    except psycopg.Error:
        return None
    return [(d.name, d.type_code) for d in cur.description or []]


def _ours(session: CatalogSession, sql: str, params: list[Any]) -> tuple[list[tuple[str, int]], pa.Table | None]:
    res = session.execute(sql, params)
    batches = list(res.batches)
    return [(c.name, c.type.oid) for c in res.columns], (pa.Table.from_batches(batches) if batches else None)


QUERIES = _client_queries() + _corpus_queries()


@pytest.mark.parametrize("q", QUERIES, ids=[f"{q['client']}-{i}" for i, q in enumerate(QUERIES)])
def test_same_columns_and_types(q: dict[str, Any], pg_conn: psycopg.Connection[Any], session: CatalogSession) -> None:
    expected = _pg_shape(pg_conn, q["sql"], q["params"])
    if expected is None:
        pytest.skip("PostgreSQL 15 itself rejects this statement")
    got, _ = _ours(session, q["sql"], q["params"])
    assert got == expected


VALUE_QUERIES = [
    """SELECT table_name, column_name, ordinal_position, is_nullable, data_type, character_maximum_length,
              character_octet_length, numeric_precision, numeric_precision_radix, numeric_scale, datetime_precision,
              udt_name, udt_schema
       FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position""",
    """SELECT c.relname, a.attname, a.attnum, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
              a.attlen, a.atttypmod, a.attndims, t.typname, col_description(c.oid, a.attnum)
       FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid JOIN pg_type t ON t.oid = a.atttypid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND a.attnum > 0 ORDER BY 1, 3""",
    """SELECT c.relname, c.relkind, c.relnatts, c.relhasindex, c.relhastriggers, obj_description(c.oid, 'pg_class'),
              pg_catalog.pg_table_is_visible(c.oid)
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1""",
    """SELECT r.conname, r.contype, r.conkey, r.confkey, pg_catalog.pg_get_constraintdef(r.oid, true),
              cl.relname, f.relname AS ref
       FROM pg_constraint r JOIN pg_class cl ON cl.oid = r.conrelid LEFT JOIN pg_class f ON f.oid = r.confrelid
       JOIN pg_namespace n ON n.oid = r.connamespace WHERE n.nspname = 'public' ORDER BY 1""",
    """SELECT t.relname, i.relname, ix.indisprimary, ix.indisunique, ix.indkey::text, ix.indnatts,
              pg_get_indexdef(ix.indexrelid), pg_get_indexdef(ix.indexrelid, 1, true)
       FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = 'public' ORDER BY 1, 2""",
    """SELECT tc.constraint_name, tc.table_name, tc.constraint_type, kcu.column_name, kcu.ordinal_position,
              kcu.position_in_unique_constraint
       FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu
         ON kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name
       WHERE tc.table_schema = 'public' ORDER BY 1, 5""",
    """SELECT constraint_name, unique_constraint_name, match_option, update_rule, delete_rule
       FROM information_schema.referential_constraints WHERE constraint_schema = 'public' ORDER BY 1""",
    """SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1""",
    """SELECT nspname FROM pg_namespace ORDER BY 1""",
    """SELECT routine_name, routine_type, data_type, type_udt_name, external_language, is_deterministic
       FROM information_schema.routines WHERE routine_name IN ('lower', 'now', 'array_in', 'format_type', 'version')
       ORDER BY 1, 3""",
    """SELECT typname, typlen, typtype, typcategory, typelem, typarray, typinput, typoutput, typreceive, typsend,
              typdelim, typbasetype, typnotnull, format_type(oid, NULL), oid::regtype::text
       FROM pg_type WHERE typnamespace = 11 AND typtype IN ('b', 'p', 'r', 'm') ORDER BY oid""",
    """SELECT 'pg_class'::regclass, 'pg_namespace'::regclass::oid, 'int4'::regtype, 'boolean'::regtype::oid,
              to_regtype('text'), to_regclass('nope'), 'array_in'::regproc, current_schemas(true), current_schema(),
              current_database(), current_user, session_user, pg_catalog.quote_ident('Order'),
              format('%I.%I', 'public', 'Kibana'), array_upper(ARRAY[1,2,3], 1), array_lower(ARRAY[1,2], 1)""",
    """SELECT x, n FROM information_schema._pg_expandarray(ARRAY[10, 20, 30]) ORDER BY n""",
    """SELECT pg_is_in_recovery(), pg_my_temp_schema(), pg_is_other_temp_schema(11),
              pg_get_serial_sequence('orders', 'order_id'), array_to_string(ARRAY[1, 2], ','), quote_ident('a b'),
              pg_encoding_to_char(6), pg_get_userbyid(10), has_schema_privilege('public', 'USAGE'),
              obj_description(2200, 'pg_namespace'), current_catalog, 'int4'::regtype::oid,
              E'x\\y' ~ 'x', 'abc' ~* 'B', array_length(ARRAY[1, 2, 3], 1)""",
    """SELECT word, catcode, barelabel FROM pg_get_keywords() WHERE word IN ('select', 'user', 'abort') ORDER BY 1""",
    """SELECT generate_series(1, 3) AS g, unnest(ARRAY['a', 'b', 'c']) AS u""",
    """VALUES (1, 'a'), (2, NULL) ORDER BY 1 DESC LIMIT 1""",
    """SELECT * FROM (VALUES (1, 2.5, 'x'), (3, NULL, 'y')) AS v(a) ORDER BY a""",
    """SELECT column1, v.column2 FROM (VALUES (true, DATE '2024-01-01')) v""",
]


@pytest.mark.parametrize("sql", VALUE_QUERIES)
def test_same_values(sql: str, pg_conn: psycopg.Connection[Any], session: CatalogSession) -> None:
    cur = pg_conn.execute(sql)
    expected_cols = [(d.name, d.type_code) for d in cur.description or []]
    expected_rows = [tuple(_norm(v) for v in r) for r in cur.fetchall()]
    got_cols, table = _ours(session, sql, [])
    assert got_cols == expected_cols
    rows = (
        [tuple(_norm(v) for v in r) for r in zip(*[c.to_pylist() for c in table.columns], strict=True)]
        if table is not None
        else []
    )
    # pg_type / pg_class oids of user objects differ by design (stable_oid); everything else must match.
    assert rows == expected_rows


def _norm(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_norm(x) for x in v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


# EXTRACT is numeric since PostgreSQL 14 with the field's scale; date_part() is double precision.
EXTRACT_QUERIES = [
    "SELECT EXTRACT(YEAR FROM DATE '2024-03-05') AS y, EXTRACT(QUARTER FROM DATE '2024-03-05') AS q, "
    "EXTRACT(DOW FROM DATE '2024-03-05') AS dow, EXTRACT(EPOCH FROM DATE '2024-03-05') AS ed, "
    "EXTRACT(JULIAN FROM DATE '2024-03-05') AS jd",
    "SELECT EXTRACT(EPOCH FROM TIMESTAMP '2024-03-05 12:34:56.789') AS e, "
    "EXTRACT(SECOND FROM TIMESTAMP '2024-03-05 12:34:12.345678') AS s, "
    "EXTRACT(SECOND FROM TIMESTAMP '2024-03-05 12:34:12') AS s0, "
    "EXTRACT(MILLISECONDS FROM TIMESTAMP '2024-03-05 12:34:12.345678') AS ms, "
    "EXTRACT(MICROSECONDS FROM TIMESTAMP '2024-03-05 12:34:12.345678') AS us, "
    "EXTRACT(JULIAN FROM TIMESTAMP '2024-03-05 12:00:00') AS j, "
    "EXTRACT(EPOCH FROM TIMESTAMPTZ '2024-03-05 12:00:00+00') AS etz",
    "SELECT EXTRACT(EPOCH FROM INTERVAL '1 day 2 hours') AS ei, "
    "EXTRACT(SECOND FROM INTERVAL '1 day 2 hours 3.5 seconds') AS si, EXTRACT(HOUR FROM INTERVAL '26 hours') AS hi, "
    "EXTRACT(SECOND FROM TIME '12:34:56.5') AS st, EXTRACT(EPOCH FROM TIME '12:34:56.5') AS et",
    "SELECT date_part('year', DATE '2024-03-05') AS y, "
    "date_part('second', TIMESTAMP '2024-03-05 12:34:12.345678') AS s, "
    "date_part('epoch', TIMESTAMP '2024-03-05 12:34:56.789') AS e",
    "SELECT EXTRACT(YEAR FROM d) + 1 AS a, EXTRACT(DOY FROM d) * 1.5 AS b, EXTRACT(MONTH FROM d) - 0.25 AS c, "
    "EXTRACT(SECOND FROM t) * 2 AS s FROM (VALUES (DATE '2024-03-05', TIMESTAMP '2024-03-05 12:34:12.345678')) v(d, t)",
]


@pytest.mark.parametrize("sql", EXTRACT_QUERIES)
def test_extract_numeric(sql: str, pg_conn: psycopg.Connection[Any], session: CatalogSession) -> None:
    """Names, type OIDs and the very digits PostgreSQL prints (Decimal text keeps the scale: 12.000000)."""
    cur = pg_conn.execute(sql)
    expected = [(d.name, d.type_code) for d in cur.description or []], [str(v) for v in cur.fetchone() or ()]
    cols, table = _ours(session, sql, [])
    assert table is not None and table.num_rows == 1
    assert (cols, [str(c[0].as_py()) for c in table.columns]) == expected


def test_extract_numeric_division(pg_conn: psycopg.Connection[Any], session: CatalogSession) -> None:
    """(EXTRACT(MONTH …) - 1) / 3 divides as numeric (never as integers); its value-dependent scale aside, equal."""
    sql = "SELECT (EXTRACT(MONTH FROM d) - 1) / 3 AS q FROM (VALUES (DATE '2024-03-05')) v(d)"
    cur = pg_conn.execute(sql)
    want = cur.fetchone()
    cols, table = _ours(session, sql, [])
    assert want is not None and table is not None
    assert cols == [(d.name, d.type_code) for d in cur.description or []]
    assert float(table.column(0)[0].as_py()) == pytest.approx(float(want[0]), rel=1e-15)


def test_extract_time_field_of_date_is_0a000(pg_conn: psycopg.Connection[Any], session: CatalogSession) -> None:
    sql = "SELECT EXTRACT(SECOND FROM DATE '2024-03-05')"
    with pytest.raises(psycopg.Error) as want:
        pg_conn.execute(sql)
    with pytest.raises(PgError) as got:
        _ours(session, sql, [])
    assert got.value.sqlstate == want.value.sqlstate
