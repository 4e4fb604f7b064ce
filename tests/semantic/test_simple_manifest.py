"""MetricFlow's own `simple_manifest` (dbt format, from the metricflow wheel) answers as MetricFlow does.

The manifest loads through our dbt-format loader; both the compiler and MetricFlow run over the same
synthetic tables (tests/semantic/simple_manifest_data.py) and must agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import pytest

from tests.semantic.cases import Case, MfRequest
from tests.semantic.oracle import MetricFlowOracle, expected_rows, rows_equal
from tests.semantic.simple_manifest_data import SIMPLE_MANIFEST, populate

CASES = (
    Case("sm_month_instant", "SELECT metric_time__month, booking__is_instant, bookings, booking_value FROM metrics",
         MfRequest(("bookings", "booking_value"), ("metric_time__month", "booking__is_instant"))),
    Case("sm_join_listing", "SELECT listing__country_latest, bookings FROM metrics",
         MfRequest(("bookings",), ("listing__country_latest",))),
    Case("sm_filtered_metric", "SELECT metric_time__day, instant_booking_value FROM metrics",
         MfRequest(("instant_booking_value",), ("metric_time__day",))),
    Case("sm_derived", "SELECT metric_time__month, booking_fees FROM metrics",
         MfRequest(("booking_fees",), ("metric_time__month",))),
    Case("sm_ratio_same_model", "SELECT metric_time__week, bookings_per_booker FROM metrics",
         MfRequest(("bookings_per_booker",), ("metric_time__week",))),
    Case("sm_ratio_two_models", "SELECT listing__country_latest, bookings_per_view FROM metrics",
         MfRequest(("bookings_per_view",), ("listing__country_latest",))),
    Case("sm_cumulative_all_time", "SELECT metric_time__month, revenue_all_time FROM metrics",
         MfRequest(("revenue_all_time",), ("metric_time__month",))),
    Case("sm_cumulative_mtd", "SELECT metric_time__day, revenue_mtd FROM metrics",
         MfRequest(("revenue_mtd",), ("metric_time__day",))),
    Case("sm_model_table", "SELECT is_instant, bookings, max_booking_value FROM bookings_source",
         MfRequest(("bookings", "max_booking_value"), ("booking__is_instant",))),
    Case("sm_model_table_join", "SELECT listing__country_latest, min_booking_value FROM bookings_source",
         MfRequest(("min_booking_value",), ("listing__country_latest",))),
)


@pytest.fixture(scope="module")
def sm_con() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    yield con
    con.close()


@pytest.fixture(scope="module")
def sm_layer(sm_con: duckdb.DuckDBPyConnection) -> Any:
    from virtual_schema.semantic_layer import build_semantic_layer

    models = populate(sm_con)
    physical = {r: sm_con.sql(f"SELECT * FROM {r} LIMIT 0").to_arrow_table().schema for r in models.relations()}
    return build_semantic_layer(models, physical, "duckdb")


@pytest.fixture(scope="module")
def sm_oracle(sm_con: duckdb.DuckDBPyConnection, sm_layer: Any) -> MetricFlowOracle:
    # The manifest's project configuration names its own time spines (created by populate()).
    return MetricFlowOracle.from_mf_dir(sm_con, SIMPLE_MANIFEST, {"source_schema": "main"})


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_simple_manifest_matches_metricflow(
    case: Case, sm_con: duckdb.DuckDBPyConnection, sm_layer: Any, sm_oracle: MetricFlowOracle
) -> None:
    compiled = sm_layer.compile(case.sql)
    got = sm_con.execute(compiled.sql).fetchall()
    ok, why = rows_equal(got, expected_rows(case, sm_oracle))
    assert ok, f"{case.name}: {why}\ncompiled SQL:\n{compiled.sql}"
