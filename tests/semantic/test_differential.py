"""Differential suite: the semantic compiler's answers equal MetricFlow's on the demo warehouse.

Each case of tests/semantic/cases.py is compiled by `build_semantic_layer(...).compile()` and run on the
demo DuckDB; MetricFlow (tests/semantic/oracle.py) answers the equivalent request on the same
database. Results are compared as sorted row multisets (numbers within a float tolerance), or in order
when the case orders totally. The Databricks SQL of every case is held in a golden file
(tests/golden/databricks/semantic__<case>.sql; UPDATE_GOLDEN=1 regenerates).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.semantic.cases import CASES, Case
from tests.semantic.oracle import MetricFlowOracle, expected_rows, rows_equal
from virtual_schema.demo_warehouse import demo_physical_schemas, generate_demo_warehouse

MODELS_DIR = Path(__file__).resolve().parents[2] / "semantic-models"


@pytest.fixture(scope="module")
def warehouse_con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    path = tmp_path_factory.mktemp("semantic") / "demo.duckdb"
    generate_demo_warehouse(path)
    con = duckdb.connect(str(path))
    yield con
    con.close()


@pytest.fixture(scope="module")
def oracle(warehouse_con: duckdb.DuckDBPyConnection) -> MetricFlowOracle:
    # MetricFlow's time spine ends where the data ends, as the compiler's generated spine does.
    row = warehouse_con.execute("SELECT max(order_ts)::DATE FROM orders").fetchone()
    assert row is not None
    return MetricFlowOracle.from_models_dir(warehouse_con, MODELS_DIR, schema="main", spine_end=str(row[0]))


def physical_schemas() -> dict[str, Any]:
    """The demo tables' Arrow schemas under the names a `ref('x')` may resolve to."""
    out: dict[str, Any] = {}
    for name, schema in demo_physical_schemas().items():
        out[name] = schema
        out[f"main.{name}"] = schema
    return out


def _layer(dialect: str) -> Any:
    from virtual_schema.loader import load_models
    from virtual_schema.semantic_layer import build_semantic_layer

    return build_semantic_layer(load_models(MODELS_DIR), physical_schemas(), dialect)


@pytest.fixture(scope="module")
def duckdb_layer() -> Any:
    return _layer("duckdb")


@pytest.fixture(scope="module")
def databricks_layer() -> Any:
    return _layer("databricks")


def _ids(cases: tuple[Case, ...]) -> list[str]:
    return [c.name for c in cases]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_matches_metricflow(
    case: Case, warehouse_con: duckdb.DuckDBPyConnection, oracle: MetricFlowOracle, duckdb_layer: Any
) -> None:
    compiled = duckdb_layer.compile(case.sql)
    got = [tuple(r) for r in warehouse_con.execute(compiled.sql).fetchall()]
    if got:
        assert len(compiled.columns) == len(got[0]), "RowDescription and rows disagree on width"
    expected = expected_rows(case, oracle)
    if case.ordered:
        ok, why = rows_equal(got, expected)
        assert ok, f"{case.name}: {why}\ncompiled SQL:\n{compiled.sql}"
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            same, why = rows_equal([a], [b])
            assert same, f"{case.name}: row {i} out of order: {a} vs {b}\ncompiled SQL:\n{compiled.sql}"
    else:
        ok, why = rows_equal(got, expected)
        assert ok, f"{case.name}: {why}\ncompiled SQL:\n{compiled.sql}"


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_golden_databricks_sql(case: Case, databricks_layer: Any) -> None:
    from tests.golden import assert_golden

    assert_golden(f"semantic__{case.name}", "databricks", databricks_layer.compile(case.sql).sql)


def test_enough_cases_of_every_kind() -> None:
    tags = {t for c in CASES for t in c.tags}
    for needed in ("simple", "filter", "ratio", "derived", "cumulative", "window", "grain_to_date", "period_agg",
                   "join", "2hop", "metrics_table", "date_trunc", "extract", "case", "where", "having", "order",
                   "limit", "subquery", "cte", "grain", "boolean", "avg", "min", "max", "count_distinct"):
        assert needed in tags, needed
    assert len(CASES) >= 60
