"""One statement shape, many literal values, through the server: psycopg's client-side binding sends each value
inline (as BI tools do), so after the first statement the gateway answers from the shape's template. Every
answer must be the one plain SQL gives over a copy of the same data."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.semantic.oracle import MetricFlowOracle, rows_equal
from tests.server import GatewayProcess

VALUES = [("completed", "2024-01-01"), ("returned", "2024-06-15"), ("cancelled", "2023-03-01"),
          ("it's no status", "2024-01-01"), ("pending", "2024-11-30"), ("shipped", "2023-01-01")]


def test_literal_variants_of_one_shape(gateway: GatewayProcess, demo_oracle: MetricFlowOracle) -> None:
    seen = []
    with psycopg.connect(gateway.dsn(), autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        for status, since in VALUES:
            got = conn.execute(
                "SELECT channel, revenue, order_count FROM orders WHERE status = %s AND ordered_at >= %s::date "
                "GROUP BY 1", (status, since)).fetchall()
            want = demo_oracle.con.execute(
                "SELECT channel, sum(amount), count(order_id) FROM main.orders WHERE status = ? "
                "AND order_ts >= ?::date GROUP BY 1", [status, since]).fetchall()
            ok, why = rows_equal(got, want)
            assert ok, f"{status} {since}: {why}"
            seen.append(repr(sorted(got, key=repr)))
    assert len(set(seen)) >= len(VALUES) - 1  # the values select different rows (one status may be absent)


def test_in_list_and_number_variants(gateway: GatewayProcess, demo_oracle: MetricFlowOracle) -> None:
    with psycopg.connect(gateway.dsn(), autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        for a, b, low in [("web", "mobile", 100), ("store", "web", 250), ("partner", "store", 1000)]:
            got: list[tuple[Any, ...]] = conn.execute(
                "SELECT status, order_count FROM orders WHERE channel IN (%s, %s) GROUP BY 1 "
                "HAVING revenue > %s", (a, b, low)).fetchall()
            want = demo_oracle.con.execute(
                "SELECT status, count(order_id) FROM main.orders WHERE channel IN (?, ?) GROUP BY 1 "
                "HAVING sum(amount) > ?", [a, b, low]).fetchall()
            ok, why = rows_equal(got, want)
            assert ok, f"{a} {b} {low}: {why}"
