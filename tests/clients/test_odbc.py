"""psqlODBC (Debian's odbc-postgresql) through unixODBC and pyodbc: SQLTables, SQLColumns, SQLGetTypeInfo and
a parameterized metric query. odbcinst.ini / odbc.ini are written into a temp dir (ODBCSYSINI / ODBCINI)."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.targets import Target, nullable
from virtual_schema.pgtypes import TYPES_BY_OID

pyodbc = pytest.importorskip("pyodbc")

DRIVERS = sorted(glob.glob("/usr/lib/*/odbc/psqlodbcw.so")) + sorted(glob.glob("/usr/lib/odbc/psqlodbcw.so"))
pytestmark = pytest.mark.skipif(not DRIVERS, reason="needs odbc-postgresql + unixodbc (make system-deps)")


@pytest.fixture(scope="session")
def odbc_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("odbc")
    (d / "odbcinst.ini").write_text(f"[PostgreSQL Unicode]\nDescription=psqlODBC\nDriver={DRIVERS[0]}\n"
                                    "UsageCount=1\n")
    (d / "odbc.ini").write_text("")
    saved = {k: os.environ.get(k) for k in ("ODBCSYSINI", "ODBCINI")}
    os.environ["ODBCSYSINI"] = str(d)
    os.environ["ODBCINI"] = str(d / "odbc.ini")
    yield d
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def conn(target: Target, odbc_dir: Path) -> Iterator[object]:
    dsn = f"semantic_{target.name}"
    ini = odbc_dir / "odbc.ini"
    if f"[{dsn}]" not in ini.read_text():
        with ini.open("a") as f:
            f.write(f"[{dsn}]\nDriver=PostgreSQL Unicode\nServername={target.host}\nPort={target.port}\n"
                    "Database=semantic\nSSLmode=disable\nUseServerSidePrepare=1\n\n")
    c = pyodbc.connect(f"DSN={dsn};UID=demo;PWD=demo", autocommit=True, timeout=20)
    try:
        yield c
    finally:
        c.close()


def test_sqltables(target: Target, conn: object) -> None:
    cur = conn.cursor()  # type: ignore[attr-defined]
    rows = cur.tables(schema="public", tableType="TABLE").fetchall()
    assert {r.table_name for r in rows} == {t.name for t in target.public_tables}
    assert {r.table_cat for r in rows} == {"semantic"}
    assert {r.table_schem for r in rows} == {"public"}


def test_sqlcolumns(target: Target, conn: object) -> None:
    cur = conn.cursor()  # type: ignore[attr-defined]
    for t in target.public_tables:
        rows = cur.columns(table=t.name, schema="public").fetchall()
        assert [r.column_name for r in rows] == [c.name for c in t.columns], t.name
        for r, c in zip(rows, t.columns, strict=True):
            assert r.type_name, c.name
            assert r.nullable == (1 if nullable(t, c) else 0), c.name
            assert r.ordinal_position == t.columns.index(c) + 1


def test_sqlgettypeinfo(target: Target, conn: object) -> None:
    cur = conn.cursor()  # type: ignore[attr-defined]
    rows = cur.getTypeInfo().fetchall()
    names = {r.type_name for r in rows}
    assert {"int8", "int4", "text", "numeric", "bool", "date", "float8", "varchar"} <= names
    assert rows and all(r.data_type is not None for r in rows)
    emitted = {TYPES_BY_OID[c.type.oid].name for tb in target.schema.tables for c in tb.columns}
    assert emitted & names


def test_metric_query(target: Target, conn: object) -> None:
    q = target.metric()
    cur = conn.cursor()  # type: ignore[attr-defined]
    everything = {r[0]: r[1] for r in cur.execute(q.all_sql()).fetchall()}
    assert everything
    for value in sorted(everything)[:3]:
        got = [tuple(r) for r in cur.execute(q.sql("?"), value).fetchall()]
        assert got == [(value, everything[value])]
