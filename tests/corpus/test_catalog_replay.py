"""Every `catalog` and `session` statement of the BI corpus, over psycopg against the gateway, compared with
what a real PostgreSQL 15 answers for the same statement over equivalent tables.

A statement passes when
- it names a Redshift system view/function: the gateway answers 42P01 / 42883 (or PostgreSQL's own SQLSTATE
  for it, e.g. 42601 when PostgreSQL's parser rejects the statement first);
- the corpus README expects it to fail (FETCH from a closed cursor): the gateway answers 34000;
- PostgreSQL answers it: the gateway answers too, with the same result columns (names and type OIDs) and
  the same command tags;
- PostgreSQL rejects it (a Cube-ism the tools send anyway): the gateway answers it without error, or
  rejects it with the same SQLSTATE as PostgreSQL 15 (a statement no PostgreSQL can run, e.g. a syntax error).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.clients.pg import PgServer
from tests.corpus.corpus import (
    CURSOR_CONVERSATION,
    EXPECTED_CURSOR_ERRORS,
    REDSHIFT_SQLSTATES,
    Entry,
    Outcome,
    manifest,
    run,
)
from tests.server import GatewayProcess

ENTRIES = [e for e in manifest() if e.kind in ("catalog", "session")]
pytestmark = pytest.mark.skipif(not ENTRIES, reason="bi-corpus not present")


def judge(entry: Entry, got: Outcome, ref: Outcome) -> tuple[bool, str]:
    if entry.redshift:
        ok = got.sqlstate in REDSHIFT_SQLSTATES or (got.sqlstate is not None and got.sqlstate == ref.sqlstate)
        return ok, f"want 42P01/42883 (PostgreSQL: {ref.sqlstate}), got {got.sqlstate} {got.message}"
    if entry.key in EXPECTED_CURSOR_ERRORS:
        return got.sqlstate == "34000", f"want 34000, got {got.sqlstate} {got.message}"
    if not got.ok and not ref.ok and got.sqlstate == ref.sqlstate:
        return True, f"PostgreSQL 15 rejects it the same way ({ref.sqlstate}: {ref.message})"
    if not got.ok:
        return False, f"{got.sqlstate}: {got.message}" + ("" if ref.ok else f" (PostgreSQL: {ref.sqlstate})")
    if not ref.ok:
        return True, f"PostgreSQL rejects it ({ref.sqlstate}: {ref.message}); the gateway answers"
    if len(got.results) != len(ref.results):
        return False, f"{len(got.results)} results, PostgreSQL gives {len(ref.results)}"
    for i, (g, r) in enumerate(zip(got.results, ref.results, strict=True)):
        if g.status.split(" ")[0] != r.status.split(" ")[0]:
            return False, f"result {i}: command tag {g.status!r}, PostgreSQL {r.status!r}"
        if g.columns != r.columns:
            return False, f"result {i}: columns {g.columns}, PostgreSQL {r.columns}"
    return True, ""


@pytest.fixture
def gw_conn(bi_gateway: GatewayProcess) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(bi_gateway.dsn(), autocommit=True, connect_timeout=20) as conn:
        yield conn


@pytest.fixture
def pg_conn(bi_pg: PgServer) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(bi_pg.dsn(), autocommit=True) as conn:
        yield conn


# Known gaps, each with its reason; strict: the test fails once the gap is closed, so the mark goes too.
KNOWN_GAPS: dict[str, str] = {}


def _param(e: Entry) -> Any:
    if e.key in KNOWN_GAPS:
        return pytest.param(e, id=e.key, marks=pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[e.key]))
    return pytest.param(e, id=e.key)


@pytest.mark.parametrize("entry", [_param(e) for e in ENTRIES if e.key not in CURSOR_CONVERSATION])
def test_statement(entry: Entry, gw_conn: psycopg.Connection[Any], pg_conn: psycopg.Connection[Any],
                   record: Any) -> None:
    ref = run(pg_conn, entry.sql)
    got = run(gw_conn, entry.sql)
    ok, why = judge(entry, got, ref)
    record(entry, "pass" if ok else "fail", why)
    assert ok, why


def test_tableau_cursor_conversation(gw_conn: psycopg.Connection[Any], pg_conn: psycopg.Connection[Any],
                                     record: Any) -> None:
    by_key = {e.key: e for e in ENTRIES}
    failures = []
    for key in CURSOR_CONVERSATION:
        entry = by_key[key]
        ref = run(pg_conn, entry.sql)
        got = run(gw_conn, entry.sql)
        ok, why = judge(entry, got, ref)
        record(entry, "pass" if ok else "fail", why)
        if not ok:
            failures.append(f"{key}: {why}")
    assert not failures, failures


def test_replay_covers_manifest() -> None:
    kinds = [e.kind for e in ENTRIES]
    assert len(kinds) == kinds.count("catalog") + kinds.count("session") == 108
