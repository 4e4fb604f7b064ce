"""The corpus's `semantic` statements against a gateway serving tests/bi_models over the BI DuckDB dataset.

Each answer is compared with the answer plain SQL computes on the same DuckDB data (tests/corpus/oracle.py
rewrites the statement onto the physical tables). A statement the gateway rejects passes only when PostgreSQL 15
rejects it with the same SQLSTATE over equivalent tables (where PostgreSQL only says 42P01 because it folds an
unquoted camelCase table name, it is asked again with the tables visible as the gateway resolves them). At
least REQUIRED_MATCH_RATE (all of them) must match; every file's outcome is recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from psycopg import sql as sql_

from tests.clients.pg import PgServer
from tests.corpus.corpus import Entry, Outcome, manifest, run
from tests.corpus.oracle import NoOracle, TableDef, rewrite, same_rows, table_defs
from tests.server import GatewayProcess
from virtual_schema.schema import VirtualSchema

ENTRIES = [e for e in manifest() if e.kind == "semantic"]
pytestmark = pytest.mark.skipif(not ENTRIES, reason="bi-corpus not present")
REQUIRED_MATCH_RATE = 1.0
UNDEFINED_TABLE = "42P01"


@pytest.fixture(scope="module")
def defs(bi_schema: VirtualSchema) -> dict[str, TableDef]:
    from tests.corpus.conftest import BI_MODELS
    from virtual_schema.loader import load_models

    return table_defs(load_models(BI_MODELS), bi_schema)


@pytest.fixture(scope="module")
def warehouse(bi_duckdb: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(bi_duckdb), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    yield con
    con.close()


def judge(entry: Entry, gw: psycopg.Connection[Any], warehouse: duckdb.DuckDBPyConnection,
          defs: dict[str, TableDef], pg: psycopg.Connection[Any]) -> tuple[str, str]:
    got = run(gw, entry.sql, keep_rows=True)
    if not got.ok:
        # a statement PostgreSQL 15 itself rejects over the same tables (Cube's WideCube dims are numbers,
        # yet a recording compares one with 'foo') has no answer: rejecting it the same way is correct
        ref = run(pg, entry.sql)
        if not ref.ok and ref.sqlstate == got.sqlstate:
            return "pass", f"PostgreSQL 15 rejects it the same way ({ref.sqlstate}: {ref.message})"
        if not ref.ok and ref.sqlstate == UNDEFINED_TABLE:
            folded = run_with_folded_names(pg, entry.sql, defs)
            if not folded.ok and folded.sqlstate == got.sqlstate:
                return "pass", (f"PostgreSQL 15 rejects it the same way ({folded.sqlstate}: {folded.message}) once "
                                f"unquoted names resolve as on the gateway (as written: {ref.sqlstate}: {ref.message})")
        return "fail", f"{got.sqlstate}: {got.message}"
    try:
        plain = rewrite(entry.sql, defs)
    except NoOracle as e:
        return "unverified", f"answered ({len(got.results[-1].rows or [])} rows); no plain-SQL oracle: {e}"
    try:
        want = warehouse.execute(plain).fetchall()
    except duckdb.Error as e:
        return "unverified", f"answered; the plain-SQL oracle failed in DuckDB: {str(e).splitlines()[0]}"
    rows = got.results[-1].rows or []
    ncols = len(got.results[-1].columns)
    if want and len(want[0]) != ncols:
        return "fail", f"{ncols} columns, plain SQL gives {len(want[0])}"
    if not same_rows(rows, want):
        return "fail", f"answer differs from plain SQL: got {rows[:3]}… ({len(rows)} rows), want {want[:3]}… " \
                       f"({len(want)} rows)"
    return "pass", ""


def run_with_folded_names(pg: psycopg.Connection[Any], sql: str, defs: dict[str, TableDef]) -> Outcome:
    """Run sql on PostgreSQL with each mixed-case table also visible under its lower-case name (columns too).

    BI tools write Cube's camelCase table names unquoted (`FROM KibanaSampleDataEcommerce`); the gateway
    resolves an unquoted name case-insensitively when that is unambiguous, PostgreSQL folds it and answers
    42P01 before looking at anything else. Lower-case views, created in a transaction that is rolled back,
    let PostgreSQL say what it thinks of the rest of the statement."""
    with pg.transaction(force_rollback=True):
        for name, tdef in defs.items():
            if name == name.lower() or name.lower() in defs:
                continue
            cols = [c for c in tdef.order if sum(o.lower() == c.lower() for o in tdef.order) == 1]
            items = sql_.SQL(", ").join(sql_.SQL("{} AS {}").format(sql_.Identifier(c), sql_.Identifier(c.lower()))
                                        for c in cols)
            pg.execute(sql_.SQL("CREATE VIEW public.{} AS SELECT {} FROM public.{}").format(
                sql_.Identifier(name.lower()), items, sql_.Identifier(name)))
        return run(pg, sql)


def test_semantic_statements(bi_gateway: GatewayProcess, bi_pg: PgServer, warehouse: duckdb.DuckDBPyConnection,
                             defs: dict[str, TableDef], record: Any) -> None:
    outcomes: dict[str, tuple[str, str]] = {}
    for entry in ENTRIES:
        with psycopg.connect(bi_gateway.dsn(), autocommit=True, connect_timeout=20) as gw, \
                psycopg.connect(bi_pg.dsn(), autocommit=True) as pg:
            gw.execute("SET TimeZone = 'UTC'")
            pg.execute("SET TimeZone = 'UTC'")
            outcome, why = judge(entry, gw, warehouse, defs, pg)
        outcomes[entry.key] = (outcome, why)
        record(entry, outcome, why)
    passed = sum(o == "pass" for o, _ in outcomes.values())
    rate = passed / len(ENTRIES)
    failing = {k: v for k, v in outcomes.items() if v[0] != "pass"}
    assert rate >= REQUIRED_MATCH_RATE, (f"{passed}/{len(ENTRIES)} = {rate:.1%} semantic statements match plain "
                                         f"SQL (need {REQUIRED_MATCH_RATE:.0%}); not passing: {failing}")
