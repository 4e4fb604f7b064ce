"""MetricFlow over its own copy of the demo warehouse, shared by the in-process and the wire differential runs.

The gateway (tests/conftest.py `gateway`) holds `demo_duckdb`; the oracle writes its time spine, so it gets a
second file from the same deterministic generator. Expected rows are computed once per case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.semantic.cases import Case
from tests.semantic.oracle import MetricFlowOracle, expected_rows
from virtual_schema.demo_warehouse import generate_demo_warehouse

MODELS_DIR = Path(__file__).resolve().parents[2] / "semantic-models"


@pytest.fixture(scope="session")
def demo_oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetricFlowOracle]:
    path = tmp_path_factory.mktemp("oracle") / "demo.duckdb"
    generate_demo_warehouse(path)
    con = duckdb.connect(str(path))
    # MetricFlow's time spine ends where the data ends, as the compiler's generated spine does.
    row = con.execute("SELECT max(order_ts)::DATE FROM orders").fetchone()
    assert row is not None
    yield MetricFlowOracle.from_models_dir(con, MODELS_DIR, schema="main", spine_end=str(row[0]))
    con.close()


@pytest.fixture(scope="session")
def expected(demo_oracle: MetricFlowOracle) -> Callable[[Case], list[tuple[Any, ...]]]:
    cache: dict[str, list[tuple[Any, ...]]] = {}

    def get(case: Case) -> list[tuple[Any, ...]]:
        if case.name not in cache:
            cache[case.name] = expected_rows(case, demo_oracle)
        return cache[case.name]

    return get
