"""Engine-level behaviour: sessions, temp tables, rebuilds, describe, errors, session-dependent relations."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from tests.catalog.fixtures import fixture_schema
from virtual_schema.catalog.api import SessionActivity, SessionInfo
from virtual_schema.catalog.engine import CatalogEngine, CatalogSession, classify_relations
from virtual_schema.errors import PgError
from virtual_schema.schema import stable_oid


@pytest.fixture(scope="module")
def engine() -> Iterator[CatalogEngine]:
    eng = CatalogEngine(fixture_schema(), database="semantic", users=("demo", "analyst"))
    yield eng
    eng.close()


def _info(**kw: Any) -> SessionInfo:
    base: dict[str, Any] = {
        "pid": 7,
        "user": "demo",
        "database": "semantic",
        "settings": {"search_path": '"$user", public', "application_name": "pytest"},
    }
    base.update(kw)
    return SessionInfo(**base)


def rows(session: CatalogSession, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    res = session.execute(sql, params)
    batches = list(res.batches)
    if not batches:
        return []
    table = pa.Table.from_batches(batches)
    return list(zip(*[c.to_pylist() for c in table.columns], strict=True))


def types(session: CatalogSession, sql: str) -> list[tuple[str, int]]:
    return [(c.name, c.type.oid) for c in session.describe(sql).columns]


def test_constant_queries(engine: CatalogEngine) -> None:
    s = engine.open_session(_info())
    assert rows(s, "SELECT 1") == [(1,)]
    assert types(s, "SELECT 1") == [("?column?", 23)]
    assert rows(s, "select pg_catalog.version()")[0][0].startswith("PostgreSQL 15")
    assert rows(s, "SELECT current_schema(), current_database(), current_user, session_user, user") == [
        ("public", "semantic", "demo", "demo", "demo")
    ]
    assert types(s, "SELECT current_schema()") == [("current_schema", 19)]
    assert rows(s, "SELECT pg_backend_pid()") == [(7,)]
    ts = rows(s, "SELECT CURRENT_TIMESTAMP")
    assert len(ts) == 1 and ts[0][0] is not None
    assert rows(s, "SELECT E'a\\nb', 'x' ~ '^x', 'abc' !~ 'z', 3 = ANY(ARRAY[1,2,3])") == [("a\nb", True, True, True)]
    assert s.execute("SELECT 1").command_tag == "SELECT 1"


def test_model_tables_in_catalog(engine: CatalogEngine) -> None:
    s = engine.open_session(_info())
    schema = fixture_schema()
    orders = schema.table("orders")
    assert orders is not None
    got = rows(s, "SELECT oid, relname, relkind, relnatts FROM pg_class WHERE relname = 'orders'")
    assert got == [(orders.oid, "orders", "r", len(orders.columns))]
    assert rows(s, "SELECT 'orders'::regclass::oid, 'orders'::regclass") == [(orders.oid, "orders")]
    assert types(s, "SELECT 'orders'::regclass") == [("regclass", 2205)]
    atts = rows(
        s,
        "SELECT attname, atttypid, atttypmod FROM pg_attribute WHERE attrelid = 'orders'::regclass "
        "AND attnum > 0 ORDER BY attnum",
    )
    assert atts == [(c.name, c.type.oid, c.type.typmod) for c in orders.columns]
    assert rows(s, "SELECT description FROM pg_description WHERE objoid = 'customers'::regclass AND objsubid = 0") == [
        ("One row per customer",)
    ]
    assert rows(
        s, "SELECT obj_description('customers'::regclass, 'pg_class'), col_description('customers'::regclass, 1)"
    ) == [("One row per customer", "Customer key")]
    fk = rows(
        s,
        "SELECT conname, contype, conkey, confkey, confrelid::regclass::text, "
        "pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'orders'::regclass ORDER BY contype",
    )
    assert fk == [
        (
            "orders_customer_id_fkey",
            "f",
            [2],
            [1],
            "customers",
            "FOREIGN KEY (customer_id) REFERENCES customers(customer_id)",
        ),
        ("orders_pkey", "p", [1], None, "-", "PRIMARY KEY (order_id)"),
    ]
    assert rows(s, "SELECT indkey[0], indkey::text FROM pg_index WHERE indrelid = 'orders'::regclass") == [(1, "1")]
    assert rows(s, "SELECT indkey FROM pg_index WHERE indrelid = 'orders'::regclass") == [("1",)]
    assert types(s, "SELECT indkey, indclass FROM pg_index") == [("indkey", 22), ("indclass", 30)]


def test_builtin_oids(engine: CatalogEngine) -> None:
    s = engine.open_session(_info())
    assert rows(
        s, "SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog', 'public', 'information_schema') ORDER BY oid"
    ) == [(11,), (2200,), (13207,)]
    assert rows(s, "SELECT typname, typinput, typreceive, typarray, typdelim FROM pg_type WHERE oid = 23") == [
        ("int4", "int4in", "int4recv", 1007, ",")
    ]
    assert rows(
        s, "SELECT 'pg_class'::regclass::oid, 'int4'::regtype::oid, 'integer'::regtype, to_regtype('text')"
    ) == [(1259, 23, "integer", "text")]
    assert rows(
        s, "SELECT format_type(1043, 259), format_type(1700, 655366), format_type(1184, NULL), format_type(1007, NULL)"
    ) == [("character varying(255)", "numeric(10,2)", "timestamp with time zone", "integer[]")]


def test_stable_oids_across_engines_and_rebuild() -> None:
    engine = CatalogEngine(fixture_schema(), database="semantic", users=("demo",))
    s = engine.open_session(_info())
    before = rows(s, "SELECT oid, relname FROM pg_class WHERE relnamespace = 2200 ORDER BY relname")
    other = CatalogEngine(fixture_schema(), database="semantic", users=("demo",))
    s2 = other.open_session(_info())
    assert rows(s2, "SELECT oid, relname FROM pg_class WHERE relnamespace = 2200 ORDER BY relname") == before
    other.close()
    assert ("returns",) not in [(r[1],) for r in before]
    engine.rebuild(fixture_schema(version=2, extra_table=True))
    after = rows(s, "SELECT oid, relname FROM pg_class WHERE relnamespace = 2200 ORDER BY relname")
    assert (stable_oid("public", "returns"), "returns") in after
    assert set(before) <= set(after)
    assert rows(s, "SELECT table_name FROM information_schema.tables WHERE table_name = 'returns'") == [("returns",)]
    engine.close()


def test_temp_tables_are_per_session(engine: CatalogEngine) -> None:
    a = engine.open_session(_info(pid=1))
    b = engine.open_session(_info(pid=2))
    name = '"#Tableau_91262_83C81E14-EFF9-4FBD-AA5C-A9D7F5634757_2_Connect_C"'
    assert (
        a.execute(f'CREATE LOCAL TEMPORARY TABLE {name} ("COL" INTEGER) ON COMMIT PRESERVE ROWS').command_tag
        == "CREATE TABLE"
    )
    assert a.execute(f'INSERT INTO {name} ("COL") VALUES (1), (2)').command_tag == "INSERT 0 2"
    assert rows(a, f'SELECT "COL" FROM {name} ORDER BY 1') == [(1,), (2,)]
    assert types(a, f'SELECT "COL" FROM {name}') == [("COL", 23)]
    with pytest.raises(PgError) as err:
        b.execute(f"SELECT * FROM {name}")
    assert err.value.sqlstate == "42P01"
    res = a.execute('SELECT * INTO TEMPORARY TABLE "#T2" FROM (SELECT 1 AS COL) AS CHECKTEMP LIMIT 1')
    assert res.command_tag == "SELECT 1"
    assert rows(a, 'SELECT col FROM "#T2"') == [(1,)]
    assert a.execute(f"DROP TABLE {name}").command_tag == "DROP TABLE"
    with pytest.raises(PgError):
        a.execute(f"SELECT * FROM {name}")
    with pytest.raises(PgError) as err:
        a.execute("CREATE TABLE not_temp (x int)")
    assert err.value.sqlstate == "25006"


def test_errors_like_postgres(engine: CatalogEngine) -> None:
    s = engine.open_session(_info())
    with pytest.raises(PgError) as err:
        s.execute("SELECT * FROM svv_tables")
    assert err.value.sqlstate == "42P01" and err.value.message == 'relation "svv_tables" does not exist'
    assert err.value.position == 15
    with pytest.raises(PgError) as err:
        s.execute("SELECT * FROM pg_catalog.nope")
    assert err.value.sqlstate == "42P01"
    with pytest.raises(PgError) as err:
        s.execute("SELECT no_such_function(1)")
    assert err.value.sqlstate == "42883"
    with pytest.raises(PgError) as err:
        s.execute("SELEC 1")
    assert err.value.sqlstate == "42601"
    with pytest.raises(PgError) as err:
        s.execute("SELECT 'nope'::regclass")
    assert err.value.sqlstate == "42P01"
    with pytest.raises(PgError) as err:
        s.execute("SELECT current_setting('no.such_setting')")
    assert err.value.sqlstate == "42704"


def test_pg_catalog_shadows_duckdb(engine: CatalogEngine) -> None:
    s = engine.open_session(_info())
    cols = [c.name for c in s.describe("SELECT * FROM pg_catalog.pg_namespace").columns]
    assert cols == ["oid", "nspname", "nspowner", "nspacl"]
    assert [c.name for c in s.describe("SELECT * FROM information_schema.schemata").columns][:3] == [
        "catalog_name",
        "schema_name",
        "schema_owner",
    ]
    assert rows(s, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'") == [(0,)]


def test_settings_and_activity(engine: CatalogEngine) -> None:
    changes: list[tuple[str, str]] = []
    settings = {"search_path": "public", "application_name": "pytest", "datestyle": "ISO, MDY"}

    def set_setting(name: str, value: str) -> None:
        changes.append((name, value))
        settings[name] = value

    now = time.time()
    acts = [SessionActivity(7, "demo", "semantic", "pytest", "127.0.0.1", now, "active", "SELECT 1", now)]
    s = engine.open_session(_info(settings=settings, set_setting=set_setting, activity=lambda: acts))
    assert rows(s, "SELECT setting FROM pg_settings WHERE name = 'DateStyle'") == [("ISO, MDY",)]
    assert rows(s, "SELECT set_config('application_name', 'x', false)") == [("x",)]
    assert changes == [("application_name", "x")]
    assert rows(s, "SELECT current_setting('application_name')") == [("x",)]
    assert rows(s, "SELECT setting FROM pg_settings WHERE name = 'application_name'") == [("x",)]
    assert rows(s, "SELECT pid, usename, application_name, state, query FROM pg_stat_activity") == [
        (7, "demo", "pytest", "active", "SELECT 1")
    ]
    assert types(s, "SELECT pid, usename, backend_start FROM pg_stat_activity") == [
        ("pid", 23),
        ("usename", 19),
        ("backend_start", 1184),
    ]


def test_describe_and_params(engine: CatalogEngine) -> None:
    s = engine.open_session(_info())
    d = s.describe("SELECT relname, oid FROM pg_class WHERE relname = $1 AND relnamespace = $2", [0, 26])
    assert [(c.name, c.type.oid) for c in d.columns] == [("relname", 19), ("oid", 26)]
    assert [t.oid for t in d.param_types] == [19, 26]
    assert rows(s, "SELECT relname FROM pg_class WHERE relname = $1 AND relnamespace = $2", ("orders", 2200)) == [
        ("orders",)
    ]
    d = s.describe(
        "SELECT has_table_privilege($1, 'SELECT'), pg_get_constraintdef(oid, $2) FROM pg_constraint "
        "WHERE conname = 'orders_pkey'"
    )
    assert len(d.param_types) == 2
    assert rows(
        s,
        "SELECT has_table_privilege($1, 'SELECT'), pg_get_constraintdef(oid, $2) FROM pg_constraint "
        "WHERE conname = 'orders_pkey'",
        ("orders", True),
    ) == [(True, "PRIMARY KEY (order_id)")]


def test_session_commands_and_cursors(engine: CatalogEngine) -> None:
    s = engine.open_session(_info())
    assert s.execute("BEGIN").command_tag == "BEGIN"
    assert s.execute("DECLARE c CURSOR FOR SELECT generate_series(1, 10)").command_tag == "DECLARE CURSOR"
    res = s.execute("FETCH 3 IN c")
    assert res.command_tag == "FETCH 3"
    assert pa.Table.from_batches(list(res.batches)).column(0).to_pylist() == [1, 2, 3]
    assert s.execute("COMMIT").command_tag == "COMMIT"
    with pytest.raises(PgError) as err:
        s.execute("FETCH 3 IN c")
    assert err.value.sqlstate == "34000"
    assert rows(s, "SHOW max_identifier_length") == [("63",)]


def test_classify_relations() -> None:
    rels = classify_relations(
        "SELECT * FROM pg_class c JOIN information_schema.tables t ON true, orders, "
        'temp_x, "KibanaSampleDataEcommerce" WHERE x IN (SELECT 1 FROM pg_catalog.pg_type)'
    )
    assert ("pg_catalog", "pg_class") in rels.catalog
    assert ("information_schema", "tables") in rels.catalog
    assert ("pg_catalog", "pg_type") in rels.catalog
    assert {"orders", "temp_x", "KibanaSampleDataEcommerce"} <= set(rels.other)
