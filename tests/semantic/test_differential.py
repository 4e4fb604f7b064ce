"""Differential suite: the semantic compiler's answers equal MetricFlow's on the demo warehouse.

Each case of tests/semantic/cases.py is compiled by `build_semantic_layer(...).compile()` and run on the
demo DuckDB; MetricFlow (tests/semantic/oracle.py) answers the equivalent request on the same
database. Results are compared as sorted row multisets (numbers within a float tolerance), or in order
when the case orders totally. The Databricks SQL of every case is held in a golden file
(tests/golden/databricks/semantic__<case>.sql; UPDATE_GOLDEN=1 regenerates).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.semantic.cases import CASES, Case
from tests.semantic.oracle import MetricFlowOracle, rows_equal
from virtual_schema.demo_warehouse import demo_physical_schemas

MODELS_DIR = Path(__file__).resolve().parents[2] / "semantic-models"


def _layer(dialect: str) -> Any:
    from virtual_schema.loader import load_models
    from virtual_schema.semantic_layer import build_semantic_layer

    return build_semantic_layer(load_models(MODELS_DIR), demo_physical_schemas(), dialect)


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
    case: Case, demo_oracle: MetricFlowOracle, expected: Callable[[Case], list[tuple[Any, ...]]], duckdb_layer: Any
) -> None:
    compiled = duckdb_layer.compile(case.sql)
    # The compiled SQL runs on the oracle's copy of the demo warehouse (same rows as the gateway's).
    got = [tuple(r) for r in demo_oracle.con.execute(compiled.sql).fetchall()]
    if got:
        assert len(compiled.columns) == len(got[0]), "RowDescription and rows disagree on width"
    want = expected(case)
    if case.ordered:
        ok, why = rows_equal(got, want)
        assert ok, f"{case.name}: {why}\ncompiled SQL:\n{compiled.sql}"
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            same, why = rows_equal([a], [b])
            assert same, f"{case.name}: row {i} out of order: {a} vs {b}\ncompiled SQL:\n{compiled.sql}"
    else:
        ok, why = rows_equal(got, want)
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


# What DuckDB may return for a column the gateway declares with a given PostgreSQL type OID.
_DUCKDB_TYPES_FOR_OID: dict[int, tuple[str, ...]] = {
    16: ("BOOLEAN",),
    20: ("BIGINT", "INTEGER", "SMALLINT", "TINYINT"),
    23: ("INTEGER", "SMALLINT", "TINYINT"),
    21: ("SMALLINT", "TINYINT"),
    700: ("FLOAT",),
    701: ("DOUBLE", "FLOAT"),
    1700: ("DECIMAL", "HUGEINT", "BIGINT", "INTEGER", "DOUBLE"),  # DuckDB divides decimals as DOUBLE
    25: ("VARCHAR",),
    1043: ("VARCHAR",),
    1114: ("TIMESTAMP",),
    1082: ("DATE",),
}


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_declared_types_match_results(case: Case, demo_oracle: MetricFlowOracle, duckdb_layer: Any) -> None:
    """Describe answers from the plan; the rows that follow must have the types it announced."""
    compiled = duckdb_layer.compile(case.sql)
    description = demo_oracle.con.execute(compiled.sql).description or []
    assert len(description) == len(compiled.columns)
    for col, desc in zip(compiled.columns, description, strict=True):
        allowed = _DUCKDB_TYPES_FOR_OID.get(col.type.oid)
        actual = str(desc[1]).upper()
        if allowed is not None:
            assert actual.startswith(allowed) and "TIME ZONE" not in actual, (
                f"{case.name}: column {col.name} declared as OID {col.type.oid}, DuckDB returns {actual}"
            )


_SPARK_TRUNC_UNITS = {"YEAR", "YYYY", "YY", "QUARTER", "MONTH", "MM", "MON", "WEEK"}


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_databricks_trunc_units_are_valid(case: Case, databricks_layer: Any) -> None:
    """Databricks' TRUNC(date, fmt) knows only year/quarter/month/week and returns NULL for anything else
    (e.g. 'DAY'); finer grains need DATE_TRUNC(fmt, ts)."""
    import sqlglot
    from sqlglot import exp

    sql = databricks_layer.compile(case.sql).sql
    for node in sqlglot.parse_one(sql, read="databricks").find_all(exp.DateTrunc, exp.TimestampTrunc):
        rendered = node.sql(dialect="databricks")
        if rendered.upper().startswith("TRUNC("):
            unit = node.text("unit").upper() or rendered.rsplit(",", 1)[-1].strip(" ')").upper()
            assert unit in _SPARK_TRUNC_UNITS, f"{case.name}: {rendered} is NULL on Databricks"
