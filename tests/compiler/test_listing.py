"""Dimension listings: no DISTINCT when the model's primary entity is in the grain (the rows are already
distinct, so the warehouse can stream them), DISTINCT otherwise; row counts right both ways."""

from __future__ import annotations

import duckdb
import pytest

from virtual_schema.semantic_layer import SemanticLayer


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[object, ...]]:
    return sorted(con.execute(sql).fetchall(), key=repr)


@pytest.mark.parametrize(
    ("semantic", "plain", "distinct"),
    [
        ("select order_id, status, customer_id__segment, customer_id__region_id__region_name from orders",
         "select o.order_id, o.status, c.segment, r.name from orders o left join customers c using (customer_id) "
         "left join regions r on c.region_id = r.region_id", False),
        ("select upper(status), order_id, date_trunc('month', ordered_at) from orders where status <> 'placed'",
         "select upper(status), order_id, date_trunc('month', date_trunc('day', order_ts)) from orders "
         "where status <> 'placed'", False),
        ("select status from orders group by order_id, status", "select status from orders", False),
        ("select customer_id, customer_name, region_id__region_name from customers",
         "select c.customer_id, c.name, r.name from customers c left join regions r using (region_id)", False),
        ("select order_id, status from orders order by order_id desc limit 5",
         "select order_id, status from orders order by order_id desc limit 5", False),
        # without the model's own primary entity: one row per distinct combination
        ("select status, customer_id__segment from orders",
         "select distinct o.status, c.segment from orders o left join customers c using (customer_id)", True),
        ("select customer_id, status from orders", "select distinct customer_id, status from orders", True),
        ("select customer_id, customer_id__segment from metrics", "select distinct customer_id, segment from customers",
         None),
    ],
)
def test_listing_rows(
    con: duckdb.DuckDBPyConnection, layer: SemanticLayer, semantic: str, plain: str, distinct: bool | None
) -> None:
    cq = layer.compile(semantic)
    assert _rows(con, cq.sql) == _rows(con, plain), cq.sql
    if distinct is not None:
        assert ("DISTINCT" in cq.sql) == distinct, cq.sql


def test_explicit_distinct_over_a_primary_entity_listing_still_applies(
    con: duckdb.DuckDBPyConnection, layer: SemanticLayer
) -> None:
    cq = layer.compile("select distinct status from (select order_id, status from orders) t")
    assert _rows(con, cq.sql) == _rows(con, "select distinct status from orders")
