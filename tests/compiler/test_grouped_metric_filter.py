"""A metric the statement groups by, tested in WHERE (QuickSight's numeric-field filters, corpus quicksight/016-019).

Decision (README "Query semantics"): grouping by a metric does not split it (it is computed at the grain of the
other keys), so a WHERE conjunct that reads only such grouped metrics filters result rows, as HAVING does. Any
other metric in WHERE stays 42803. Answers are checked against plain SQL with HAVING on the fixture warehouse.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from virtual_schema.errors import PgError


def _run(con: duckdb.DuckDBPyConnection, layer: Any, sql: str) -> list[tuple[Any, ...]]:
    return sorted(con.execute(layer.compile(sql).sql).fetchall(), key=repr)


def test_quicksight_starts_with_on_a_grouped_metric(con: duckdb.DuckDBPyConnection, layer: Any) -> None:
    total = con.execute("SELECT CAST(SUM(amount) AS VARCHAR) FROM orders").fetchone()
    assert total is not None
    for digit in (total[0][0], "9" if total[0][0] != "9" else "8"):  # one that matches, one that does not
        sql = (f'SELECT revenue AS "uuid.revenue", COUNT(*) AS "count" FROM orders '
               f"WHERE LEFT(CAST(revenue AS VARCHAR), 1) = '{digit}' GROUP BY revenue")
        want = con.execute(f"SELECT SUM(amount), COUNT(*) FROM orders "
                           f"HAVING LEFT(CAST(SUM(amount) AS VARCHAR), 1) = '{digit}'").fetchall()
        assert _run(con, layer, sql) == sorted(want, key=repr)
        assert len(want) == (1 if digit == total[0][0] else 0)


def test_grouped_metric_filter_with_a_dimension_filter(con: duckdb.DuckDBPyConnection, layer: Any) -> None:
    cut = con.execute("SELECT MEDIAN(s) FROM (SELECT SUM(amount) s FROM orders "
                      "WHERE status <> 'placed' GROUP BY status)").fetchone()
    assert cut is not None
    sql = (f"SELECT status, revenue FROM orders WHERE status <> 'placed' AND revenue > {cut[0]} "
           f"GROUP BY status, revenue")
    want = con.execute(f"SELECT status, SUM(amount) FROM orders WHERE status <> 'placed' GROUP BY status "
                       f"HAVING SUM(amount) > {cut[0]}").fetchall()
    assert _run(con, layer, sql) == sorted(want, key=repr) and want


@pytest.mark.parametrize("sql", [
    "SELECT status, revenue FROM orders WHERE revenue > 10 GROUP BY status",  # not grouped by the metric
    "SELECT revenue FROM orders WHERE revenue > 10 OR status = 'placed' GROUP BY revenue",  # mixed conjunct
    "SELECT status, revenue FROM orders WHERE order_count > 1 GROUP BY status, revenue",  # another metric
])
def test_other_metrics_in_where_stay_42803(layer: Any, sql: str) -> None:
    with pytest.raises(PgError) as e:
        layer.compile(sql)
    assert e.value.sqlstate == "42803"
