"""The differential cases through a real driver: psycopg 3 against a gateway process on the demo models.

The gateway serves one copy of the demo warehouse; MetricFlow answers over a second copy built by the same
deterministic generator (DuckDB lets one process write a file, and the oracle writes its time spine).
Every case of tests/semantic/cases.py must give MetricFlow's rows, in extended-protocol text results.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.semantic.cases import CASES, Case
from tests.semantic.oracle import MetricFlowOracle, expected_rows, rows_equal
from tests.server import GatewayProcess, start_gateway
from virtual_schema.demo_warehouse import generate_demo_warehouse

MODELS_DIR = Path(__file__).resolve().parents[2] / "semantic-models"


@pytest.fixture(scope="module")
def demo_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    path = tmp_path_factory.mktemp("wire") / "demo.duckdb"
    generate_demo_warehouse(path)
    gw = start_gateway(["--models", str(MODELS_DIR), "--duckdb", str(path), "--log-level", "warning"])
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def wire_oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetricFlowOracle]:
    path = tmp_path_factory.mktemp("wire_oracle") / "demo.duckdb"
    generate_demo_warehouse(path)
    con = duckdb.connect(str(path))
    row = con.execute("SELECT max(order_ts)::DATE FROM orders").fetchone()
    assert row is not None
    yield MetricFlowOracle.from_models_dir(con, MODELS_DIR, schema="main", spine_end=str(row[0]))
    con.close()


@pytest.fixture(scope="module")
def conn(demo_gateway: GatewayProcess) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(demo_gateway.dsn(), autocommit=True, connect_timeout=20) as c:
        c.execute("SET TimeZone = 'UTC'")
        yield c


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_wire_matches_metricflow(
    case: Case, conn: psycopg.Connection[tuple[object, ...]], wire_oracle: MetricFlowOracle
) -> None:
    cur = conn.execute(case.sql)  # extended protocol (psycopg 3 sends Parse/Bind/Execute)
    got = cur.fetchall()
    expected = expected_rows(case, wire_oracle)
    ok, why = rows_equal(got, expected)
    assert ok, f"{case.name}: {why}"
    if case.ordered:
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            same, why = rows_equal([a], [b])
            assert same, f"{case.name}: row {i} out of order: {a} vs {b}"
