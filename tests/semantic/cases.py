"""The differential query list: gateway SQL over the virtual tables, and how to get the right answer.

Plain data, reused by every suite that checks semantic answers: the in-process compiler run on DuckDB
(tests/semantic/test_differential.py), the run through a real driver over the server, and the
Databricks/Spark parity suite. Each case says how the expected rows are computed:

- `mf`: a MetricFlow request over the demo models (run by tests/semantic/oracle.py). Its result columns
  are taken in the order group_by + metrics, which must be the order the gateway SQL selects them in.
- `outer`: plain SQL over a relation named `mf` that holds MetricFlow's answer to `mf` (MetricFlow's own
  SQL runs as a CTE), for SQL shapes MetricFlow has no words for: HAVING, OFFSET, CASE over dimensions,
  window functions around a metric, re-aggregation of additive metrics.
- `plain`: plain SQL over the physical demo tables (schema `main`), where neither fits (COUNT(*), UNION).

`ordered` compares row order too (the case has an ORDER BY that makes the order total).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MfRequest:
    """A MetricFlow query: metric names, group-by names (`metric_time__month`, `order_id__status`, …),
    where filters in MetricFlow's Jinja form, order-by names (`-` prefix: descending) and a limit."""

    metrics: tuple[str, ...]
    group_by: tuple[str, ...] = ()
    where: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    limit: int | None = None


@dataclass(frozen=True)
class Case:
    name: str
    sql: str
    mf: MfRequest | None = None
    outer: str | None = None
    plain: str | None = None
    ordered: bool = False
    tags: tuple[str, ...] = ()


def D(name: str) -> str:
    return "{{ Dimension('" + name + "') }}"


def TD(name: str, grain: str = "day") -> str:
    return "{{ TimeDimension('" + name + "', '" + grain + "') }}"


def mf(metrics: str, group_by: str = "", where: tuple[str, ...] = (), **kw: Any) -> MfRequest:
    return MfRequest(
        metrics=tuple(metrics.split()),
        group_by=tuple(group_by.split()),
        where=where,
        **kw,
    )


CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------ simple metrics, every aggregation
    Case("simple_total", "SELECT revenue FROM orders", mf("revenue"), tags=("simple",)),
    Case("count_by_status", "SELECT status, order_count FROM orders GROUP BY status",
         mf("order_count", "order_id__status"), tags=("simple", "count")),
    Case("sum_wrapped", "SELECT status, SUM(revenue) AS revenue FROM orders GROUP BY 1",
         mf("revenue", "order_id__status"), tags=("simple", "wrapper")),
    Case("measure_wrapped", "SELECT channel, MEASURE(revenue) FROM orders GROUP BY channel",
         mf("revenue", "order_id__channel"), tags=("simple", "wrapper")),
    Case("max_wrapped_ratio", "SELECT channel, MAX(avg_order_value) AS aov FROM orders GROUP BY 1",
         mf("avg_order_value", "order_id__channel"), tags=("ratio", "wrapper")),
    Case("no_group_by", "SELECT status, revenue FROM orders",
         mf("revenue", "order_id__status"), tags=("simple",)),
    Case("two_dims_three_metrics",
         "SELECT status, channel, revenue, order_count, ordering_customers FROM orders GROUP BY 1, 2",
         mf("revenue order_count ordering_customers", "order_id__status order_id__channel"), tags=("simple",)),
    Case("avg_measure", "SELECT status, avg_order_amount FROM orders",
         mf("avg_order_amount", "order_id__status"), tags=("simple", "avg")),
    Case("min_max_measures", "SELECT channel, min_order_amount, max_order_amount FROM orders",
         mf("min_order_amount max_order_amount", "order_id__channel"), tags=("simple", "min", "max")),
    Case("count_distinct_by_year", "SELECT ordered_at__year, ordering_customers FROM orders",
         mf("ordering_customers", "order_id__ordered_at__year"), tags=("simple", "count_distinct", "grain")),
    Case("measure_column", "SELECT channel, shipping_revenue, discounts FROM orders",
         plain="SELECT channel, SUM(shipping_cost), SUM(discount) FROM main.orders GROUP BY 1", tags=("measure",)),
    Case("total_discounts", "SELECT channel, total_discounts FROM orders",
         mf("total_discounts", "order_id__channel"), tags=("simple",)),
    # ------------------------------------------------------------------ time grains
    Case("grain_default_day", "SELECT ordered_at, order_count FROM orders",
         mf("order_count", "order_id__ordered_at__day"), tags=("grain",)),
    Case("grain_day", "SELECT ordered_at__day, revenue FROM orders",
         mf("revenue", "order_id__ordered_at__day"), tags=("grain",)),
    Case("grain_week", "SELECT ordered_at__week, revenue FROM orders",
         mf("revenue", "order_id__ordered_at__week"), tags=("grain",)),
    Case("grain_month", "SELECT ordered_at__month, revenue, order_count FROM orders",
         mf("revenue order_count", "order_id__ordered_at__month"), tags=("grain",)),
    Case("grain_quarter", "SELECT ordered_at__quarter, avg_order_value FROM orders",
         mf("avg_order_value", "order_id__ordered_at__quarter"), tags=("grain", "ratio")),
    Case("grain_year_status", "SELECT ordered_at__year, status, revenue FROM orders",
         mf("revenue", "order_id__ordered_at__year order_id__status"), tags=("grain",)),
    Case("customers_signup_quarter", "SELECT signed_up_at__quarter, customer_count FROM customers",
         mf("customer_count", "customer_id__signed_up_at__quarter"), tags=("grain",)),
    Case("products_launch_year", "SELECT launched_at__year, product_count FROM products",
         mf("product_count", "product__launched_at__year"), tags=("grain",)),
    # ------------------------------------------------------------------ dimension kinds
    Case("boolean_dim", "SELECT is_gift, revenue FROM orders",
         mf("revenue", "order_id__is_gift"), tags=("boolean",)),
    Case("boolean_expr_dim", "SELECT is_discounted, total_discounts, order_count FROM orders",
         mf("total_discounts order_count", "order_id__is_discounted"), tags=("boolean", "expr")),
    Case("case_expr_dim", "SELECT order_size, order_count FROM orders",
         mf("order_count", "order_id__order_size"), tags=("expr",)),
    Case("customers_region", "SELECT region, customer_count, active_customers FROM customers",
         mf("customer_count active_customers", "customer_id__region"), tags=("simple",)),
    Case("products_all_aggs",
         "SELECT category, product_count, avg_list_price, max_list_price, min_list_price, brand_count FROM products",
         mf("product_count avg_list_price max_list_price min_list_price brand_count", "product__category"),
         tags=("simple", "avg", "min", "max", "count_distinct")),
    Case("products_price_band", "SELECT price_band, product_count FROM products",
         mf("product_count", "product__price_band"), tags=("expr",)),
    Case("web_device", "SELECT device, event_count, session_count, visitor_count FROM web_events",
         mf("event_count session_count visitor_count", "event_id__device"), tags=("count_distinct",)),
    Case("web_avg", "SELECT event_type, avg_time_on_page_ms FROM web_events",
         mf("avg_time_on_page_ms", "event_id__event_type"), tags=("avg",)),
    Case("items_bulk", "SELECT is_bulk, units_sold, item_revenue, line_count FROM order_items",
         mf("units_sold item_revenue line_count", "order_item_id__is_bulk"), tags=("boolean",)),
    # ------------------------------------------------------------------ metric filters
    Case("filtered_metric", "SELECT channel, completed_revenue, revenue FROM orders",
         mf("completed_revenue revenue", "order_id__channel"), tags=("filter",)),
    Case("filtered_count_by_month", "SELECT ordered_at__month, completed_orders FROM orders",
         mf("completed_orders", "order_id__ordered_at__month"), tags=("filter", "grain")),
    Case("filter_two_dims", "SELECT status, large_web_orders FROM orders",
         mf("large_web_orders", "order_id__status"), tags=("filter",)),
    Case("filtered_sparse_day", "SELECT ordered_at__day, large_web_orders FROM orders",
         mf("large_web_orders", "order_id__ordered_at__day"), tags=("filter", "grain")),
    Case("filter_on_joined_dim", "SELECT channel, europe_revenue FROM orders",
         mf("europe_revenue", "order_id__channel"), tags=("filter", "join")),
    Case("derived_of_joined_filter", "SELECT ordered_at__quarter, europe_share FROM orders",
         mf("europe_share", "order_id__ordered_at__quarter"), tags=("filter", "join", "derived")),
    Case("filtered_customers", "SELECT region, corporate_customers FROM customers",
         mf("corporate_customers", "customer_id__region"), tags=("filter",)),
    Case("filtered_events", "SELECT device, page_views, purchases FROM web_events",
         mf("page_views purchases", "event_id__device"), tags=("filter",)),
    Case("filtered_boolean", "SELECT product__category, bulk_units FROM order_items",
         mf("bulk_units", "product__category"), tags=("filter", "join")),
    # ------------------------------------------------------------------ ratio
    Case("ratio_by_channel", "SELECT channel, avg_order_value FROM orders",
         mf("avg_order_value", "order_id__channel"), tags=("ratio",)),
    Case("ratio_filtered_inputs", "SELECT ordered_at__quarter, completion_rate FROM orders",
         mf("completion_rate", "order_id__ordered_at__quarter"), tags=("ratio", "filter")),
    Case("ratio_count_distinct_den", "SELECT device, conversion_rate FROM web_events",
         mf("conversion_rate", "event_id__device"), tags=("ratio",)),
    Case("ratio_joined_dim", "SELECT product__category, revenue_per_unit FROM order_items",
         mf("revenue_per_unit", "product__category"), tags=("ratio", "join")),
    Case("ratio_customers", "SELECT segment, active_share FROM customers",
         mf("active_share", "customer_id__segment"), tags=("ratio",)),
    Case("ratio_total", "SELECT avg_order_value FROM orders", mf("avg_order_value"), tags=("ratio",)),
    # ------------------------------------------------------------------ derived
    Case("derived_by_status", "SELECT status, net_revenue FROM orders",
         mf("net_revenue", "order_id__status"), tags=("derived",)),
    Case("derived_count_distinct", "SELECT ordered_at__year, revenue_per_customer FROM orders",
         mf("revenue_per_customer", "order_id__ordered_at__year"), tags=("derived",)),
    Case("derived_filtered_input", "SELECT product__brand, bulk_unit_share FROM order_items",
         mf("bulk_unit_share", "product__brand"), tags=("derived", "filter", "join")),
    Case("derived_joined_dim", "SELECT customer_id__region, net_revenue FROM orders",
         mf("net_revenue", "customer_id__region"), tags=("derived", "join")),
    # ------------------------------------------------------------------ cumulative
    Case("cumulative_all_time_day", "SELECT ordered_at__day, revenue_to_date FROM orders",
         mf("revenue_to_date", "metric_time__day"), tags=("cumulative",)),
    Case("cumulative_all_time_month", "SELECT ordered_at__month, revenue_to_date FROM orders",
         mf("revenue_to_date", "metric_time__month"), tags=("cumulative",)),
    Case("cumulative_window_day", "SELECT ordered_at__day, revenue_7d FROM orders",
         mf("revenue_7d", "metric_time__day"), tags=("cumulative", "window")),
    Case("cumulative_window_week", "SELECT ordered_at__week, revenue_7d FROM orders",
         mf("revenue_7d", "metric_time__week"), tags=("cumulative", "window")),
    Case("cumulative_mtd_day", "SELECT ordered_at__day, revenue_mtd FROM orders",
         mf("revenue_mtd", "metric_time__day"), tags=("cumulative", "grain_to_date")),
    Case("cumulative_mtd_month", "SELECT ordered_at__month, revenue_mtd FROM orders",
         mf("revenue_mtd", "metric_time__month"), tags=("cumulative", "grain_to_date")),
    Case("cumulative_period_first", "SELECT ordered_at__month, orders_7d_first FROM orders",
         mf("orders_7d_first", "metric_time__month"), tags=("cumulative", "period_agg")),
    Case("cumulative_period_average", "SELECT ordered_at__month, orders_7d_avg FROM orders",
         mf("orders_7d_avg", "metric_time__month"), tags=("cumulative", "period_agg")),
    Case("cumulative_events_window", "SELECT occurred_at__day, events_7d FROM web_events",
         mf("events_7d", "metric_time__day"), tags=("cumulative", "window")),
    Case("cumulative_distinct_mtd", "SELECT occurred_at__month, sessions_mtd FROM web_events",
         mf("sessions_mtd", "metric_time__month"), tags=("cumulative", "grain_to_date", "count_distinct")),
    Case("cumulative_customers", "SELECT signed_up_at__month, cumulative_customers FROM customers",
         mf("cumulative_customers", "metric_time__month"), tags=("cumulative",)),
    Case("cumulative_with_dim", "SELECT ordered_at__month, channel, revenue_to_date FROM orders",
         mf("revenue_to_date", "metric_time__month order_id__channel"), tags=("cumulative",)),
    Case("cumulative_where", "SELECT ordered_at__month, revenue_to_date FROM orders WHERE channel = 'web'",
         mf("revenue_to_date", "metric_time__month", (D("order_id__channel") + " = 'web'",)),
         tags=("cumulative", "where")),
    Case("cumulative_time_where",
         "SELECT ordered_at__day, revenue_to_date, revenue_7d FROM orders WHERE ordered_at >= TIMESTAMP '2024-12-01'",
         mf("revenue_to_date revenue_7d", "metric_time__day", (TD("metric_time") + " >= '2024-12-01'",)),
         tags=("cumulative", "where")),
    # ------------------------------------------------------------------ joined dimensions
    Case("join_1hop", "SELECT customer_id__region, revenue FROM orders",
         mf("revenue", "customer_id__region"), tags=("join",)),
    Case("join_1hop_two_dims", "SELECT customer_id__segment, customer_id__is_active, order_count FROM orders",
         mf("order_count", "customer_id__segment customer_id__is_active"), tags=("join", "boolean")),
    Case("join_items_orders", "SELECT order_id__status, units_sold FROM order_items",
         mf("units_sold", "order_id__status"), tags=("join",)),
    Case("join_items_products", "SELECT product__category, product__price_band, item_revenue FROM order_items",
         mf("item_revenue", "product__category product__price_band"), tags=("join", "expr")),
    Case("join_2hop", "SELECT order_id__customer_id__region, item_revenue FROM order_items",
         mf("item_revenue", "order_id__customer_id__region"), tags=("join", "2hop")),
    Case("join_2hop_with_time",
         "SELECT order_id__customer_id__segment, added_at__year, units_sold FROM order_items",
         mf("units_sold", "order_id__customer_id__segment order_item_id__added_at__year"), tags=("join", "2hop")),
    Case("join_time_dim", "SELECT customer_id__signed_up_at__year, revenue FROM orders",
         mf("revenue", "customer_id__signed_up_at__year"), tags=("join", "grain")),
    Case("join_nullable_fk", "SELECT customer_id__region, event_count FROM web_events",
         mf("event_count", "customer_id__region"), tags=("join",)),
    Case("join_where", "SELECT customer_id__region, revenue FROM orders WHERE customer_id__segment = 'consumer'",
         mf("revenue", "customer_id__region", (D("customer_id__segment") + " = 'consumer'",)), tags=("join", "where")),
    Case("join_2hop_where",
         "SELECT product__category, units_sold FROM order_items WHERE order_id__customer_id__region = 'Europe'",
         mf("units_sold", "product__category order_id__customer_id__region"),
         outer="SELECT product__category, SUM(units_sold) FROM mf WHERE order_id__customer_id__region = 'Europe' "
               "GROUP BY 1",
         tags=("join", "2hop", "where")),
    # ------------------------------------------------------------------ the metrics table
    Case("metrics_two_models", "SELECT metric_time__month, revenue, event_count FROM metrics",
         mf("revenue event_count", "metric_time__month"), tags=("metrics_table",)),
    Case("metrics_shared_entity", "SELECT customer_id__region, revenue, event_count FROM metrics",
         mf("revenue event_count", "customer_id__region"), tags=("metrics_table", "join")),
    Case("metrics_year_status", "SELECT metric_time__year, order_id__status, units_sold, revenue FROM metrics",
         mf("units_sold revenue", "metric_time__year order_id__status"), tags=("metrics_table",)),
    Case("metrics_ratio_quarter", "SELECT metric_time__quarter, avg_order_value, conversion_rate FROM metrics",
         mf("avg_order_value conversion_rate", "metric_time__quarter"), tags=("metrics_table", "ratio")),
    Case("metrics_cross_model_derived", "SELECT metric_time__month, revenue_per_session FROM metrics",
         mf("revenue_per_session", "metric_time__month"), tags=("metrics_table", "derived")),
    Case("metrics_two_cumulative", "SELECT metric_time__week, revenue_7d, events_7d FROM metrics",
         mf("revenue_7d events_7d", "metric_time__week"), tags=("metrics_table", "cumulative")),
    Case("metrics_segment_ratios", "SELECT customer_id__segment, avg_order_value, conversion_rate FROM metrics",
         mf("avg_order_value conversion_rate", "customer_id__segment"), tags=("metrics_table", "ratio", "join")),
    Case("metrics_total", "SELECT customer_count FROM metrics", mf("customer_count"), tags=("metrics_table",)),
    # ------------------------------------------------------------------ expressions over dimensions
    Case("date_trunc_month", "SELECT DATE_TRUNC('month', ordered_at) AS m, revenue FROM orders GROUP BY 1",
         mf("revenue", "order_id__ordered_at__month"), tags=("expr", "date_trunc")),
    Case("date_trunc_quarter_ratio",
         "SELECT DATE_TRUNC('quarter', ordered_at) AS q, avg_order_value FROM orders GROUP BY 1",
         mf("avg_order_value", "order_id__ordered_at__quarter"), tags=("expr", "date_trunc", "ratio")),
    Case("extract_year", "SELECT EXTRACT(YEAR FROM ordered_at) AS y, ordering_customers FROM orders GROUP BY 1",
         mf("ordering_customers", "order_id__ordered_at__year"),
         outer="SELECT EXTRACT(YEAR FROM order_id__ordered_at__year) AS y, ordering_customers FROM mf",
         tags=("expr", "extract")),
    Case("extract_month_of_year",
         "SELECT EXTRACT(MONTH FROM ordered_at) AS mo, revenue FROM orders GROUP BY 1",
         mf("revenue", "order_id__ordered_at__month"),
         outer="SELECT EXTRACT(MONTH FROM order_id__ordered_at__month) AS mo, SUM(revenue) FROM mf GROUP BY 1",
         tags=("expr", "extract")),
    Case("extract_dow_distinct",
         "SELECT EXTRACT(DOW FROM ordered_at) AS dow, ordering_customers FROM orders GROUP BY 1",
         plain="SELECT EXTRACT(DOW FROM order_ts) AS dow, COUNT(DISTINCT customer_id) FROM main.orders GROUP BY 1",
         tags=("expr", "extract", "count_distinct")),
    Case("case_over_dim",
         "SELECT CASE WHEN status IN ('completed', 'shipped') THEN 'fulfilled' ELSE 'open' END AS state, revenue "
         "FROM orders GROUP BY 1",
         mf("revenue", "order_id__status"),
         outer="SELECT CASE WHEN order_id__status IN ('completed', 'shipped') THEN 'fulfilled' ELSE 'open' END, "
               "SUM(revenue) FROM mf GROUP BY 1",
         tags=("expr", "case")),
    Case("case_over_dim_ratio",
         "SELECT CASE WHEN channel IN ('web', 'mobile') THEN 'online' ELSE 'offline' END AS kind, avg_order_value "
         "FROM orders GROUP BY 1",
         plain="SELECT CASE WHEN channel IN ('web', 'mobile') THEN 'online' ELSE 'offline' END, "
               "SUM(amount)::DOUBLE / COUNT(order_id) FROM main.orders GROUP BY 1",
         tags=("expr", "case", "ratio")),
    Case("string_function_joined_dim", "SELECT LOWER(customer_id__region) AS r, order_count FROM orders GROUP BY 1",
         mf("order_count", "customer_id__region"),
         outer="SELECT LOWER(customer_id__region), SUM(order_count) FROM mf GROUP BY 1", tags=("expr", "join")),
    Case("cast_to_date", "SELECT CAST(ordered_at AS DATE) AS d, order_count FROM orders GROUP BY 1",
         mf("order_count", "order_id__ordered_at__day"), tags=("expr", "cast")),
    Case("date_trunc_in_where",
         "SELECT channel, revenue FROM orders WHERE DATE_TRUNC('year', ordered_at) = DATE '2024-01-01'",
         mf("revenue", "order_id__channel", (TD("order_id__ordered_at", "year") + " = '2024-01-01'",)),
         tags=("expr", "where", "date_trunc")),
    # ------------------------------------------------------------------ WHERE
    Case("where_equals", "SELECT channel, revenue FROM orders WHERE status = 'completed' GROUP BY channel",
         mf("revenue", "order_id__channel", (D("order_id__status") + " = 'completed'",)), tags=("where",)),
    Case("where_in_and_boolean",
         "SELECT status, order_count FROM orders WHERE channel IN ('web', 'mobile') AND is_gift",
         mf("order_count", "order_id__status",
            (D("order_id__channel") + " IN ('web', 'mobile')", D("order_id__is_gift"))),
         tags=("where", "boolean")),
    Case("where_is_null", "SELECT status, revenue FROM orders WHERE channel IS NULL",
         mf("revenue", "order_id__status", (D("order_id__channel") + " IS NULL",)), tags=("where",)),
    Case("where_time_range",
         "SELECT ordered_at__month, revenue FROM orders "
         "WHERE ordered_at >= TIMESTAMP '2024-03-01' AND ordered_at < TIMESTAMP '2024-06-01'",
         mf("revenue", "order_id__ordered_at__month",
            (TD("order_id__ordered_at") + " >= '2024-03-01'", TD("order_id__ordered_at") + " < '2024-06-01'")),
         tags=("where", "grain")),
    Case("where_ratio", "SELECT channel, avg_order_value FROM orders WHERE status <> 'cancelled'",
         mf("avg_order_value", "order_id__channel", (D("order_id__status") + " <> 'cancelled'",)),
         tags=("where", "ratio")),
    Case("where_filtered_metric", "SELECT channel, completed_orders FROM orders WHERE is_gift",
         mf("completed_orders", "order_id__channel", (D("order_id__is_gift"),)), tags=("where", "filter")),
    Case("where_derived", "SELECT status, net_revenue FROM orders WHERE customer_id__region = 'Europe'",
         mf("net_revenue", "order_id__status", (D("customer_id__region") + " = 'Europe'",)),
         tags=("where", "derived", "join")),
    # ------------------------------------------------------------------ HAVING / ORDER BY / LIMIT / OFFSET
    Case("having", "SELECT customer_id__country, revenue FROM orders GROUP BY 1 HAVING SUM(revenue) > 4500000",
         mf("revenue", "customer_id__country"), outer="SELECT * FROM mf WHERE revenue > 4500000",
         tags=("having", "join")),
    Case("having_ratio", "SELECT product__category, revenue_per_unit FROM order_items GROUP BY 1 "
         "HAVING MAX(revenue_per_unit) > 150",
         mf("revenue_per_unit", "product__category"), outer="SELECT * FROM mf WHERE revenue_per_unit > 150",
         tags=("having", "ratio")),
    Case("order_limit", "SELECT product__brand, item_revenue FROM order_items ORDER BY item_revenue DESC LIMIT 3",
         mf("item_revenue", "product__brand", order_by=("-item_revenue",), limit=3), ordered=True,
         tags=("order", "limit")),
    Case("order_limit_offset", "SELECT ordered_at__month, revenue FROM orders ORDER BY 1 LIMIT 5 OFFSET 2",
         mf("revenue", "order_id__ordered_at__month"),
         outer="SELECT * FROM mf ORDER BY 1 LIMIT 5 OFFSET 2", ordered=True, tags=("order", "limit")),
    Case("order_by_metric_asc", "SELECT segment, customer_count FROM customers ORDER BY customer_count, segment",
         mf("customer_count", "customer_id__segment"),
         outer="SELECT * FROM mf ORDER BY customer_count, customer_id__segment", ordered=True, tags=("order",)),
    Case("count_star_base_rows", "SELECT status, COUNT(*) FROM orders GROUP BY 1",
         plain="SELECT status, COUNT(*) FROM main.orders GROUP BY 1", tags=("count_star",)),
    # ------------------------------------------------------------------ subqueries, CTEs, unions, joins
    Case("cte_filter", "WITH m AS (SELECT ordered_at__month AS month, revenue FROM orders) "
         "SELECT month, revenue FROM m WHERE revenue > 2000000",
         mf("revenue", "order_id__ordered_at__month"), outer="SELECT * FROM mf WHERE revenue > 2000000",
         tags=("cte",)),
    Case("subquery_window_share",
         "SELECT channel, revenue, revenue / SUM(revenue) OVER () AS share "
         "FROM (SELECT channel, revenue FROM orders) t",
         mf("revenue", "order_id__channel"),
         outer="SELECT order_id__channel, revenue, revenue / SUM(revenue) OVER () FROM mf", tags=("subquery",)),
    Case("union_all_models",
         "SELECT 'orders' AS source, order_count AS n FROM orders "
         "UNION ALL SELECT 'events', event_count FROM web_events",
         plain="SELECT 'orders', COUNT(order_id) FROM main.orders UNION ALL "
               "SELECT 'events', COUNT(event_id) FROM main.web_events",
         tags=("union",)),
    Case("union_with_total_row",
         "SELECT status, order_count FROM orders UNION ALL SELECT 'total', CAST(NULL AS numeric)",
         plain="SELECT status, COUNT(order_id) FROM main.orders GROUP BY 1 UNION ALL SELECT 'total', NULL",
         tags=("union",)),
    Case("join_two_semantic_subqueries",
         "SELECT o.region, o.revenue, e.events FROM (SELECT customer_id__region AS region, revenue FROM orders) o "
         "JOIN (SELECT customer_id__region AS region, event_count AS events FROM web_events) e "
         "ON o.region IS NOT DISTINCT FROM e.region",
         mf("revenue event_count", "customer_id__region"), tags=("subquery", "join")),
    Case("count_of_groups", "SELECT COUNT(*) FROM (SELECT status FROM orders GROUP BY 1) t",
         plain="SELECT COUNT(DISTINCT status) FROM main.orders", tags=("subquery",)),
    Case("scalar_subquery_in_where",
         "SELECT channel, revenue FROM orders WHERE channel IN (SELECT channel FROM orders WHERE channel <> 'store')",
         mf("revenue", "order_id__channel", (D("order_id__channel") + " <> 'store'",)), tags=("subquery", "where")),
    # ------------------------------------------------------------------ more expressions, filters and shapes
    Case("date_trunc_week", "SELECT DATE_TRUNC('week', ordered_at) AS w, order_count FROM orders GROUP BY 1",
         mf("order_count", "order_id__ordered_at__week"), tags=("expr", "date_trunc")),
    Case("extract_quarter", "SELECT EXTRACT(QUARTER FROM ordered_at) AS q, revenue FROM orders GROUP BY 1",
         mf("revenue", "order_id__ordered_at__quarter"),
         outer="SELECT EXTRACT(QUARTER FROM order_id__ordered_at__quarter), SUM(revenue) FROM mf GROUP BY 1",
         tags=("expr", "extract")),
    Case("date_trunc_joined_time_dim",
         "SELECT DATE_TRUNC('year', customer_id__signed_up_at) AS y, ordering_customers FROM orders GROUP BY 1",
         mf("ordering_customers", "customer_id__signed_up_at__year"), tags=("expr", "date_trunc", "join")),
    Case("coalesce_dim", "SELECT COALESCE(channel, 'unknown') AS ch, revenue FROM orders GROUP BY 1",
         mf("revenue", "order_id__channel"),
         outer="SELECT COALESCE(order_id__channel, 'unknown'), SUM(revenue) FROM mf GROUP BY 1", tags=("expr",)),
    Case("where_like", "SELECT channel, order_count FROM orders WHERE customer_id__region LIKE 'A%'",
         mf("order_count", "order_id__channel", (D("customer_id__region") + " LIKE 'A%'",)), tags=("where", "join")),
    Case("where_between",
         "SELECT status, revenue FROM orders WHERE ordered_at BETWEEN '2023-06-01' AND '2023-06-30 23:59:59'",
         mf("revenue", "order_id__status",
            (TD("order_id__ordered_at") + " >= '2023-06-01'", TD("order_id__ordered_at") + " <= '2023-06-30'")),
         tags=("where",)),
    Case("where_or", "SELECT status, channel, order_count FROM orders WHERE status = 'returned' OR channel = 'partner'",
         mf("order_count", "order_id__status order_id__channel",
            (D("order_id__status") + " = 'returned' OR " + D("order_id__channel") + " = 'partner'",)),
         tags=("where",)),
    Case("where_not_in", "SELECT channel, avg_order_value FROM orders WHERE status NOT IN ('cancelled', 'returned')",
         mf("avg_order_value", "order_id__channel", (D("order_id__status") + " NOT IN ('cancelled', 'returned')",)),
         tags=("where", "ratio")),
    Case("metrics_where_time",
         "SELECT metric_time__month, revenue, page_views FROM metrics WHERE metric_time >= '2024-07-01'",
         mf("revenue page_views", "metric_time__month", (TD("metric_time") + " >= '2024-07-01'",)),
         tags=("metrics_table", "where")),
    Case("order_by_metric_desc", "SELECT customer_id__region, revenue FROM orders ORDER BY revenue DESC",
         mf("revenue", "customer_id__region"), outer="SELECT * FROM mf ORDER BY revenue DESC", ordered=True,
         tags=("order", "join")),
    Case("distinct_dimension", "SELECT DISTINCT status FROM orders",
         plain="SELECT DISTINCT status FROM main.orders", tags=("dimension_only",)),
    Case("dimension_only_group_by", "SELECT channel, is_gift FROM orders GROUP BY 1, 2",
         plain="SELECT DISTINCT channel, is_gift FROM main.orders", tags=("dimension_only",)),
    # Listings: with the model's primary entity in the grain the rows are already distinct (no DISTINCT in the
    # warehouse SQL); without it, one row per distinct combination. Row counts must be right both ways.
    Case("listing_with_primary_entity",
         "SELECT order_id, status, channel, customer_id__region FROM orders WHERE ordered_at >= '2024-12-20'",
         mf("", "order_id order_id__status order_id__channel customer_id__region",
            (TD("order_id__ordered_at") + " >= '2024-12-20'",)),
         tags=("dimension_only", "listing", "join")),
    Case("listing_without_primary_entity",
         "SELECT status, customer_id__region FROM orders WHERE ordered_at >= '2024-12-20'",
         mf("", "order_id__status customer_id__region", (TD("order_id__ordered_at") + " >= '2024-12-20'",)),
         tags=("dimension_only", "listing", "join")),
    Case("listing_items_two_joins",
         "SELECT order_item_id, order_id__status, product__category FROM order_items "
         "WHERE added_at >= '2024-12-28'",
         mf("", "order_item_id order_id__status product__category",
            (TD("order_item_id__added_at") + " >= '2024-12-28'",)),
         tags=("dimension_only", "listing", "join")),
    Case("listing_expressions_with_primary_entity",
         "SELECT order_id, UPPER(status) AS s, DATE_TRUNC('month', ordered_at) AS m, customer_id__region "
         "FROM orders WHERE ordered_at >= '2024-12-20'",
         plain="SELECT o.order_id, upper(o.status), date_trunc('month', o.order_ts), c.region FROM main.orders o "
               "LEFT JOIN main.customers c ON o.customer_id = c.customer_id WHERE o.order_ts >= '2024-12-20'",
         tags=("dimension_only", "listing", "expression")),
    Case("listing_grouped_by_primary_entity_not_selected",
         "SELECT status FROM orders WHERE ordered_at >= '2024-12-20' GROUP BY order_id, status",
         plain="SELECT status FROM main.orders WHERE order_ts >= '2024-12-20'",
         tags=("dimension_only", "listing")),
    Case("listing_unique_entity_with_nulls",
         "SELECT customer_email, region FROM customers",
         plain="SELECT DISTINCT email, region FROM main.customers",
         tags=("dimension_only", "listing")),
    Case("sum_over_semantic_subquery", "SELECT SUM(revenue) FROM (SELECT status, revenue FROM orders) t",
         mf("revenue"), tags=("subquery",)),
    Case("cte_two_models_joined_on_month",
         "WITH o AS (SELECT ordered_at__month AS m, revenue FROM orders), "
         "e AS (SELECT occurred_at__month AS m, purchases FROM web_events) "
         "SELECT o.m, o.revenue, e.purchases FROM o JOIN e ON o.m = e.m",
         mf("revenue purchases", "metric_time__month"), tags=("cte", "join")),
    # ------------------------------------------------------------------ BI tool shapes
    Case("tableau_shape",
         'SELECT "orders"."status" AS "status", SUM("orders"."revenue") AS "sum:revenue:ok" '
         'FROM "public"."orders" "orders" GROUP BY 1',
         mf("revenue", "order_id__status"), tags=("bi", "tableau")),
    Case("powerbi_shape",
         'select "_"."channel", "_"."a0" from (select "rows"."channel" as "channel", sum("rows"."revenue") as "a0" '
         'from (select "_"."channel", "_"."revenue" from "public"."orders" "_") "rows" group by "channel") "_" '
         'where not "_"."a0" is null limit 1000001',
         mf("revenue", "order_id__channel"), tags=("bi", "powerbi")),
    Case("metabase_shape",
         'SELECT "public"."orders"."channel" AS "channel", SUM("public"."orders"."revenue") AS "sum" '
         'FROM "public"."orders" GROUP BY "public"."orders"."channel" ORDER BY "public"."orders"."channel" ASC',
         mf("revenue", "order_id__channel"), outer="SELECT * FROM mf ORDER BY 1 ASC NULLS LAST", ordered=True,
         tags=("bi", "metabase")),
    Case("tableau_month_shape",
         "SELECT CAST(DATE_TRUNC('MONTH', CAST(\"orders\".\"ordered_at\" AS DATE)) AS DATE) AS \"tmn:ordered_at:ok\", "
         'SUM("orders"."order_count") AS "sum:order_count:ok" FROM "public"."orders" "orders" GROUP BY 1',
         mf("order_count", "order_id__ordered_at__month"), tags=("bi", "tableau", "date_trunc")),
)

CASES_BY_NAME = {c.name: c for c in CASES}
assert len(CASES_BY_NAME) == len(CASES), "case names must be unique"
