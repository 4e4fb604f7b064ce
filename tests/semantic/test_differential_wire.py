"""The differential suite again, end to end: every case goes through psycopg 3 (binary results, the
extended protocol) to a real gateway process, and must equal MetricFlow's answer on the same data."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.semantic.cases import CASES, Case
from tests.semantic.oracle import MetricFlowOracle, expected_rows, rows_equal
from tests.server import GatewayProcess

MODELS_DIR = Path(__file__).resolve().parents[2] / "semantic-models"


@pytest.fixture(scope="module")
def wire_oracle(demo_duckdb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetricFlowOracle]:
    # The gateway holds the warehouse file open; MetricFlow gets a byte-identical copy it may write to.
    copy = tmp_path_factory.mktemp("oracle") / "demo.duckdb"
    shutil.copyfile(demo_duckdb, copy)
    con = duckdb.connect(str(copy))
    row = con.execute("SELECT max(order_ts)::DATE FROM orders").fetchone()
    assert row is not None
    yield MetricFlowOracle.from_models_dir(con, MODELS_DIR, schema="main", spine_end=str(row[0]))
    con.close()


@pytest.fixture(scope="module")
def conn(gateway: GatewayProcess) -> Iterator[psycopg.Connection]:
    with psycopg.connect(gateway.dsn(), autocommit=True) as c:
        yield c


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_through_the_wire(case: Case, conn: psycopg.Connection, wire_oracle: MetricFlowOracle) -> None:
    with conn.cursor(binary=True) as cur:
        cur.execute(case.sql)
        got = [tuple(r) for r in cur.fetchall()]
        assert cur.description is not None
        if got:
            assert len(cur.description) == len(got[0])
    expected = expected_rows(case, wire_oracle)
    ok, why = rows_equal(got, expected)
    assert ok, f"{case.name}: {why}"
    if case.ordered:
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            same, why = rows_equal([a], [b])
            assert same, f"{case.name}: row {i} out of order: {a} vs {b}"
