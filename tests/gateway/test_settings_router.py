"""Settings follow PostgreSQL 15's rules; the router classifies statements the way the session needs."""

from __future__ import annotations

import pytest

from gateway.router import Kind, split
from gateway.session.settings import DEFINITIONS, SessionSettings
from virtual_schema.errors import PgError


@pytest.mark.parametrize(("name", "raw", "shown"), [
    ("statement_timeout", "5000", "5s"),
    ("statement_timeout", "90s", "90s"),
    ("statement_timeout", "1500ms", "1500ms"),
    ("statement_timeout", "2min", "2min"),
    ("work_mem", "64MB", "64MB"),
    ("work_mem", "1024", "1MB"),
    ("DateStyle", "iso, dmy", "ISO, DMY"),
    ("datestyle", "ISO", "ISO, MDY"),
    ("TimeZone", "Europe/Paris", "Europe/Paris"),
    ("extra_float_digits", "3", "3"),
    ("enable_seqscan", "no", "off"),
    ("client_encoding", "unicode", "UTF8"),
    ("IntervalStyle", "POSTGRES", "postgres"),
    ("myapp.tenant", "acme", "acme"),
])
def test_set_then_show(name: str, raw: str, shown: str) -> None:
    s = SessionSettings()
    s.set(name, raw)
    assert s.get(name) == shown


@pytest.mark.parametrize(("name", "raw", "sqlstate"), [
    ("no_such_setting", "1", "42704"),
    ("statement_timeout", "soon", "22023"),
    ("statement_timeout", "5 parsecs", "22023"),
    ("enable_seqscan", "maybe", "22023"),
    ("server_version", "16", "55P02"),
    ("TimeZone", "Mars/Olympus", "22023"),
    ("client_encoding", "LATIN1", "0A000"),
])
def test_invalid_set_has_postgres_sqlstate(name: str, raw: str, sqlstate: str) -> None:
    with pytest.raises(PgError) as e:
        SessionSettings().set(name, raw)
    assert e.value.sqlstate == sqlstate


def test_set_is_transactional_and_local_ends_with_transaction() -> None:
    s = SessionSettings()
    s.begin()
    s.set("statement_timeout", "1s")
    s.set("work_mem", "8MB", local=True)
    assert s.get("work_mem") == "8MB"
    s.rollback()
    assert s.get("statement_timeout") == "0" and s.get("work_mem") == "4MB"
    s.begin()
    s.set("statement_timeout", "1s")
    s.commit()
    assert s.get("statement_timeout") == "1s" and s.timeout_ms() == 1000


def test_settings_table_is_postgres_15() -> None:
    assert len(DEFINITIONS) > 300
    assert DEFINITIONS["datestyle"].name == "DateStyle"
    assert DEFINITIONS["search_path"].default == '"$user", public'


def test_router_kinds() -> None:
    stmts = split("SET x.y = 1; SHOW ALL; BEGIN; DECLARE c CURSOR FOR SELECT 1; FETCH 5 FROM c; CLOSE c;"
                  " SELECT * FROM orders; CREATE TEMP TABLE t (a int); UPDATE orders SET a = 1; COPY t TO STDOUT;"
                  " COPY t TO '/tmp/f'")
    assert [s.kind for s in stmts] == [Kind.SET, Kind.SHOW, Kind.TRANSACTION, Kind.DECLARE, Kind.FETCH,
                                       Kind.CLOSE, Kind.QUERY, Kind.TEMP_DDL, Kind.TEMP_DDL, Kind.COPY, Kind.REJECTED]
    assert stmts[8].written == ((None, "orders"),)  # the session refuses it unless orders is its temp table
    assert stmts[9].relations == ((None, "t"),)
    assert stmts[10].error is not None and stmts[10].error.sqlstate == "42501"  # a server file: superuser only


def test_router_writes_name_their_targets() -> None:
    """What INSERT/UPDATE/DELETE/TRUNCATE write (checked against the session's temp tables) and what they read."""
    upd, dele, trunc = split("UPDATE t SET a = u.a FROM u WHERE u.b = t.b; "
                             "WITH c AS (SELECT 1) DELETE FROM pg_temp.t USING v, c; TRUNCATE TABLE t, public.w")
    assert (upd.tag, upd.written, upd.relations) == ("UPDATE", ((None, "t"),), ((None, "t"), (None, "u")))
    assert (dele.tag, dele.written, dele.relations) == ("DELETE", (("pg_temp", "t"),), (("pg_temp", "t"), (None, "v")))
    assert (trunc.tag, trunc.written) == ("TRUNCATE TABLE", ((None, "t"), ("public", "w")))


def test_router_relations_exclude_ctes() -> None:
    (stmt,) = split("WITH x AS (SELECT * FROM orders) SELECT * FROM x JOIN pg_catalog.pg_class c ON true")
    assert set(stmt.relations) == {(None, "orders"), ("pg_catalog", "pg_class")}


def test_router_syntax_error_position_counts_characters() -> None:
    with pytest.raises(PgError) as e:
        split("SELECT 'é', 1; SELEC")
    assert e.value.sqlstate == "42601"
    assert e.value.position == 16
