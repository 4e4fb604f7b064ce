"""Compile → run on DuckDB, compared with hand-written plain SQL over the same fixture data."""

from __future__ import annotations

import math
from typing import Any

import duckdb
import pytest

from virtual_schema.errors import PgError
from virtual_schema.pgtypes import pg_type_for_arrow
from virtual_schema.semantic_layer import SemanticLayer


def _norm(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    def v(x: Any) -> Any:
        if isinstance(x, float):
            return round(x, 6)
        if hasattr(x, "as_tuple"):  # Decimal
            return round(float(x), 6)
        return x

    return sorted((tuple(v(x) for x in r) for r in rows), key=repr)


def check(
    con: duckdb.DuckDBPyConnection, layer: SemanticLayer, semantic: str, plain: str, params: list[Any] | None = None
) -> None:
    cq = layer.compile(semantic)
    got = con.execute(cq.sql, params or []).fetchall()
    want = con.execute(plain, params or []).fetchall()
    assert _norm(got) == _norm(want), cq.sql
    # RowDescription announced == what the warehouse returned
    schema = con.sql(cq.sql, params=params or None).to_arrow_table().schema
    assert [pg_type_for_arrow(f.type).oid for f in schema] == [c.type.oid for c in cq.columns], cq.sql


def test_metric_by_dimension_with_and_without_group_by(con, layer) -> None:
    plain = "select status, sum(amount) from orders group by 1"
    check(con, layer, "select status, sum(revenue) from orders group by status", plain)
    check(con, layer, "select status, revenue from orders", plain)
    check(con, layer, "select status, max(revenue) from orders group by 1", plain)
    check(con, layer, "select status, measure(revenue) from orders group by 1", plain)


def test_aggregate_of_an_expression_of_metrics_is_that_expression_at_the_grain(con, layer) -> None:
    check(
        con,
        layer,
        "select status, sum(cast(revenue as double) * 2), max(revenue - discount_total) from orders group by 1",
        "select status, sum(amount)::double * 2, sum(amount) - sum(discount) from orders group by 1",
    )


def test_metric_in_group_by_is_ignored_and_constant_keys_work(con, layer) -> None:
    check(
        con,
        layer,
        "select status, revenue, 0 as lvl from orders group by 1, 2, 3",
        "select status, sum(amount), 0 from orders group by 1",
    )


def test_grand_total_and_count_star(con, layer) -> None:
    check(
        con,
        layer,
        "select revenue, count(*), order_count from orders",
        "select sum(amount), count(*), count(order_id) from orders",
    )


def test_date_trunc_equals_grain_column(con, layer) -> None:
    plain = "select date_trunc('month', date_trunc('day', order_ts)), sum(amount) from orders group by 1"
    check(con, layer, "select date_trunc('month', ordered_at), sum(revenue) from orders group by 1", plain)
    check(con, layer, "select ordered_at__month, revenue from orders", plain)
    check(
        con,
        layer,
        "select extract(year from ordered_at) as y, revenue from orders group by 1",
        "select extract(year from order_ts), sum(amount) from orders group by 1",
    )


def test_where_filters_base_rows_and_having_order_limit(con, layer) -> None:
    check(
        con,
        layer,
        "select status, revenue from orders where ordered_at >= '2024-03-01' and status <> 'placed' "
        "group by 1 having sum(revenue) > 10 order by 2 desc limit 1",
        "select status, sum(amount) from orders where date_trunc('day', order_ts) >= '2024-03-01' and "
        "status <> 'placed' group by 1 having sum(amount) > 10 order by 2 desc limit 1",
    )


def test_filtered_ratio_and_derived_metrics(con, layer) -> None:
    check(
        con,
        layer,
        "select status, completed_revenue, avg_order_value, net_revenue from orders",
        "select status, sum(case when status = 'completed' then amount end), "
        "sum(amount)::double / nullif(count(order_id), 0), sum(amount) - sum(discount) from orders group by 1",
    )


def test_joined_dimensions_one_and_two_hops(con, layer) -> None:
    check(
        con,
        layer,
        "select customer_id__segment, customer_id__region_id__region_name, revenue, buyers from orders",
        "select c.segment, r.name, sum(o.amount), count(distinct o.customer_id) from orders o "
        "left join customers c using (customer_id) left join regions r on c.region_id = r.region_id group by 1, 2",
    )


def test_metrics_table_across_models(con, layer) -> None:
    check(
        con,
        layer,
        "select customer_id__segment, revenue, customer_count from metrics",
        "select coalesce(a.segment, b.segment), a.rev, b.cnt from "
        "(select c.segment, sum(o.amount) rev from orders o left join customers c using (customer_id) group by 1) a "
        "full join (select segment, count(customer_id) cnt from customers group by 1) b "
        "on a.segment is not distinct from b.segment",
    )
    check(
        con,
        layer,
        "select metric_time__month, revenue from metrics",
        "select date_trunc('month', order_ts), sum(amount) from orders group by 1",
    )


def test_cumulative_all_time_mtd_and_window(con, layer) -> None:
    spine = (
        "(select unnest(generate_series(min(order_ts)::date, max(order_ts)::date, interval 1 day))::date ds "
        "from orders)"
    )
    check(
        con,
        layer,
        "select ordered_at__month, revenue_to_date from orders",
        f"select date_trunc('month', ds), arg_max(v, ds) from (select s.ds, sum(o.amount) v from {spine} s "
        "join orders o on o.order_ts::date <= s.ds group by 1) group by 1",
    )
    check(
        con,
        layer,
        "select ordered_at__month, revenue_mtd from orders",
        f"select date_trunc('month', ds), arg_max(v, ds) from (select s.ds, sum(o.amount) v from {spine} s "
        "join orders o on o.order_ts::date <= s.ds and o.order_ts::date >= date_trunc('month', s.ds) group by 1) "
        "group by 1",
    )
    check(
        con,
        layer,
        "select ordered_at, revenue_7d from orders",
        f"select s.ds::timestamp, sum(o.amount) from {spine} s join orders o on o.order_ts::date <= s.ds "
        "and o.order_ts::date > s.ds - interval 7 day group by 1",
    )


def test_subqueries_ctes_unions_and_joins_around_semantic_queries(con, layer) -> None:
    check(
        con,
        layer,
        "select count(*) from (select status, revenue from orders) t where revenue > 2600",
        "select count(*) from (select status, sum(amount) r from orders group by 1) where r > 2600",
    )
    check(
        con,
        layer,
        "with m as (select ordered_at__month m, revenue r from orders) select max(r) from m",
        "select max(r) from (select date_trunc('month', order_ts), sum(amount) r from orders group by 1)",
    )
    check(
        con,
        layer,
        "select status from orders union all select segment from customers",
        "select distinct status from orders union all select distinct segment from customers",
    )
    check(
        con,
        layer,
        "select o.customer_id, o.revenue, c.segment from orders o join customers c on o.customer_id = c.customer_id",
        "select o.customer_id, sum(o.amount), c.segment from orders o join customers c using (customer_id) "
        "group by o.customer_id, c.segment",
    )


def test_parameters_keep_positions_and_get_types(con, layer) -> None:
    cq = layer.compile("select status, revenue from orders where status = $1 and order_id > $2")
    assert [t.oid for t in cq.param_types] == [25, 20]
    got = con.execute(cq.sql, ["completed", 3]).fetchall()
    want = con.execute(
        "select status, sum(amount) from orders where status = $1 and order_id > $2 group by 1", ["completed", 3]
    ).fetchall()
    assert _norm(got) == _norm(want)


def test_empty_answers(layer) -> None:
    assert layer.compile("select * from orders limit 0").empty
    assert layer.compile("select status from orders where false").empty
    assert not layer.compile("select status from orders").empty


@pytest.mark.parametrize(
    ("sql", "state", "has_position"),
    [
        ("select nope from orders", "42703", True),
        ("select status from nothere", "42P01", True),
        ("selec status from orders", "42601", True),
        ("insert into orders values (1)", "25006", False),
        ("drop table orders", "25006", False),
        ("select status from orders where revenue > 3", "42803", True),
        ("select status, revenue from orders group by customer_id", "42803", True),
        ("select sum(revenue * order_id) from orders", "0A000", False),
    ],
)
def test_errors(layer, sql: str, state: str, has_position: bool) -> None:
    with pytest.raises(PgError) as ei:
        layer.compile(sql)
    assert ei.value.sqlstate == state, ei.value.message
    assert (ei.value.position is not None) == has_position


def test_cache_returns_same_object_and_is_keyed_by_param_types(layer) -> None:
    a = layer.compile("select status, revenue from orders")
    assert layer.compile("select status, revenue from orders") is a
    b = layer.compile("select status from orders where status = $1", [25])
    c = layer.compile("select status from orders where status = $1", [1043])
    assert b.param_types[0].oid == 25 and c.param_types[0].oid == 1043


def test_result_columns_named_like_postgresql(layer) -> None:
    cq = layer.compile(
        "select status, sum(revenue), count(*), revenue as r, date_trunc('month', ordered_at) from orders group by 1, 5"
    )
    assert [c.name for c in cq.columns] == ["status", "sum", "count", "r", "date_trunc"]
    assert math.isfinite(len(cq.sql))


def test_derived_metric_with_offset_window(con, layer) -> None:
    cur = "select date_trunc('month', order_ts) m, sum(amount) v from orders group by 1"
    prev = "select date_trunc('month', order_ts + interval 1 month) m, sum(amount) v from orders group by 1"
    plain = (
        f"select coalesce(c.m, p.m), c.v, p.v, c.v - p.v from ({cur}) c full join ({prev}) p "
        "on c.m is not distinct from p.m"
    )
    check(con, layer, "select metric_time__month, revenue, revenue_prev_month, revenue_growth from metrics", plain)
    check(con, layer, "select ordered_at__month, revenue, revenue_prev_month, revenue_growth from orders", plain)
    with pytest.raises(PgError) as ei:
        layer.compile("select status, revenue_growth from orders")
    assert ei.value.sqlstate == "0A000"


def test_window_function_over_metric_and_tableau_style_sql(con, layer) -> None:
    check(
        con,
        layer,
        'SELECT "orders"."status" AS "status", SUM("orders"."revenue") AS "sum:revenue:ok", '
        'SUM(SUM("orders"."revenue")) OVER () AS "total" FROM "public"."orders" "orders" GROUP BY 1',
        "select status, sum(amount), sum(sum(amount)) over () from orders group by 1",
    )
    check(
        con,
        layer,
        'SELECT CAST(DATE_TRUNC(\'month\', CAST("public"."orders"."ordered_at" AS timestamp)) AS timestamp) '
        'AS "ordered_at", SUM("public"."orders"."revenue") AS "sum" FROM "public"."orders" '
        'GROUP BY CAST(DATE_TRUNC(\'month\', CAST("public"."orders"."ordered_at" AS timestamp)) AS timestamp) '
        "ORDER BY 1 ASC",
        "select date_trunc('month', order_ts), sum(amount) from orders group by 1",
    )


def test_ambiguous_column_across_joined_virtual_tables(layer) -> None:
    with pytest.raises(PgError) as ei:
        layer.compile("select customer_id from orders o join customers c on o.customer_id = c.customer_id")
    assert ei.value.sqlstate == "42702"


def test_databricks_parameters_are_positional_markers_in_text_order(dbx_layer) -> None:
    cq = dbx_layer.compile(
        "select status, revenue from orders where status = $2 and order_id > $1 and customer_id__segment <> $2"
    )
    assert "$" not in cq.sql and cq.sql.count("?") == 3
    assert cq.param_order == (1, 0, 1)
    assert [t.oid for t in cq.param_types] == [20, 25]


def test_result_columns_carry_table_oid_and_attnum_for_plain_columns(layer) -> None:
    cq = layer.compile("select status, revenue, sum(revenue) from orders")
    orders = layer.schema.table("orders")
    assert orders is not None
    names = [c.name for c in orders.columns]
    assert (cq.columns[0].table_oid, cq.columns[0].attnum) == (orders.oid, names.index("status") + 1)
    assert (cq.columns[1].table_oid, cq.columns[1].attnum) == (orders.oid, names.index("revenue") + 1)
    assert (cq.columns[2].table_oid, cq.columns[2].attnum) == (0, 0)


@pytest.mark.parametrize(
    "sql",
    [
        "select status, revenue, avg_order_value, net_revenue, completed_revenue from orders",
        "select metric_time__week, region_id__region_name, revenue, buyers from metrics",
        "select ordered_at__month, revenue_to_date, revenue_7d, revenue_mtd from orders",
        "select metric_time__month, revenue_growth from metrics",
        "with t as (select status, revenue from orders) select * from t union all select segment, null from customers",
        "select extract(year from ordered_at), case when is_large then 'big' else 'small' end, count(*) from orders "
        "group by 1, 2",
    ],
)
def test_databricks_rendering_succeeds(dbx_layer, sql: str) -> None:
    out = dbx_layer.compile(sql).sql
    assert "__sem" in out and "$" not in out


def test_compile_is_thread_safe(con, models) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from virtual_schema.semantic_layer import build_semantic_layer

    phys = {r: con.sql(f"select * from {r} limit 0").to_arrow_table().schema for r in models.relations()}
    fresh = build_semantic_layer(models, phys, "duckdb", cache_size=8)
    queries = [
        "select status, revenue from orders",
        "select metric_time__month, customer_id__segment, revenue, buyers from metrics",
        "select ordered_at__month, revenue_mtd from orders",
        "select customer_id__region_id__region_name, avg_order_value from orders",
        "select segment, customer_count from customers",
    ] * 8
    serial = {q: build_semantic_layer(models, phys, "duckdb").compile(q) for q in set(queries)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(fresh.compile, queries))
    for q, got in zip(queries, results, strict=True):
        assert got == serial[q]


def test_boolean_dimension_expressions_keep_their_precedence(con, layer) -> None:
    check(
        con,
        layer,
        "select status, revenue from orders where is_large = true and not is_large = false",
        "select status, sum(amount) from orders where (amount > 100) = true and not ((amount > 100) = false) "
        "group by 1",
    )


def test_constant_only_select(con, layer) -> None:
    check(con, layer, 'SELECT TRUE AS "_" FROM "public"."orders" WHERE 1 <> 1 LIMIT 0', "select true where false")


def test_or_in_where_combined_with_metric_filters(con, layer) -> None:
    check(
        con,
        layer,
        "select customer_id__segment, completed_revenue, revenue from orders "
        "where status = 'completed' or status = 'placed'",
        "select a.segment, f.v, a.v from (select c.segment, sum(o.amount) v from orders o left join customers c "
        "using (customer_id) where o.status in ('completed', 'placed') group by 1) a left join "
        "(select c.segment, sum(o.amount) v from orders o left join customers c using (customer_id) "
        "where o.status = 'completed' group by 1) f on a.segment is not distinct from f.segment",
    )


def test_shape_queries_answer_from_the_schema_even_without_a_computable_grain(layer) -> None:
    cq = layer.compile("select * from metrics limit 0")
    assert cq.empty
    metrics = layer.schema.table("metrics")
    assert metrics is not None
    assert [(c.name, c.type) for c in cq.columns] == [(c.name, c.type) for c in metrics.columns]
    assert layer.compile("select * from orders where false").empty


def test_star_over_metrics_that_cannot_be_answered_says_why(layer) -> None:
    """A data preview's `SELECT * FROM metrics LIMIT 100` splits every metric by every dimension: where that is
    impossible the refusal names the star and what to select instead, not just the first unreachable column."""
    with pytest.raises(PgError) as ei:
        layer.compile("select * from metrics limit 100")
    assert ei.value.sqlstate == "0A000"
    assert ei.value.message.startswith('SELECT * from "metrics"') and "not reachable" in ei.value.message
    assert "metric_time__month" in (ei.value.hint or "")


def test_dimension_only_query_on_metrics_table_reads_the_dimension_model(con, layer) -> None:
    check(con, layer, "select customer_id__segment from metrics", "select distinct segment from customers")


def test_union_branch_types_are_unified_like_postgresql(con, layer) -> None:
    check(
        con,
        layer,
        "select status, order_count from orders union all select 'total', cast(null as numeric)",
        "select status, count(order_id)::decimal(38, 6) from orders group by 1 union all select 'total', null",
    )


def test_bi_tool_shapes(con, layer) -> None:
    # Tableau top-N: the model table joined with a semantic subquery on the dimension
    check(
        con,
        layer,
        'SELECT "orders"."status" AS "status", SUM("orders"."revenue") AS "sum:revenue:ok" '
        'FROM "public"."orders" "orders" INNER JOIN (SELECT "orders"."status" AS "status__copy_", '
        'SUM("orders"."revenue") AS "$__alias__0" FROM "public"."orders" "orders" GROUP BY 1 ORDER BY 2 DESC '
        'LIMIT 2) "t0" ON ("orders"."status" IS NOT DISTINCT FROM "t0"."status__copy_") GROUP BY 1',
        "select o.status, sum(o.amount) from orders o where o.status in (select status from orders group by 1 "
        "order by sum(amount) desc limit 2) group by 1",
    )
    # Power BI: a projection subquery, then aggregation outside
    check(
        con,
        layer,
        'select "_"."status", sum("_"."revenue") as "a0" from (select "status", "revenue" from "public"."orders") "_" '
        'group by "_"."status"',
        "select status, sum(amount) from orders group by 1",
    )
    # Metabase: fully qualified columns, date_trunc over a cast
    check(
        con,
        layer,
        'SELECT CAST(date_trunc(\'month\', "public"."orders"."ordered_at") AS date) AS "ordered_at", '
        'SUM("public"."orders"."revenue") AS "sum" FROM "public"."orders" '
        'WHERE "public"."orders"."status" = \'completed\' '
        'GROUP BY CAST(date_trunc(\'month\', "public"."orders"."ordered_at") AS date) '
        'ORDER BY CAST(date_trunc(\'month\', "public"."orders"."ordered_at") AS date) ASC',
        "select cast(date_trunc('month', order_ts) as date), sum(amount) from orders where status = 'completed' "
        "group by 1",
    )
