"""Non-PostgreSQL functions and PostgreSQL idioms BI tools send, compared with plain DuckDB SQL on the fixture."""

from __future__ import annotations

import pytest

from tests.compiler.test_compile import check
from virtual_schema.errors import PgError


def test_redshift_datediff_and_dateadd(con, layer) -> None:
    check(con, layer,
          "select datediff(day, date '2024-01-01', ordered_at) d, revenue from orders group by 1",
          "select date_diff('day', timestamp '2024-01-01', order_ts::date::timestamp) d, sum(amount) "
          "from orders group by 1")
    check(con, layer,
          "select dateadd(month, 1, ordered_at) d, revenue from orders group by 1",
          "select order_ts::date::timestamp + interval 1 month d, sum(amount) from orders group by 1")
    check(con, layer,
          "select DATEADD(day, CAST(-3 AS int), CAST(ordered_at AS date)) d, revenue from orders group by 1",
          "select order_ts::date::timestamp - interval 3 day d, sum(amount) from orders group by 1")


def test_str_to_date_with_postgresql_format_as_fixed_now(con, layer) -> None:
    check(con, layer,
          "select revenue from orders where ordered_at >= CAST((str_to_date('2024-03-01 00:00:00.000000', "
          "'YYYY-MM-DD HH24:MI:SS.US') + (INTERVAL '-30 day')) AS date)",
          "select sum(amount) from orders where order_ts::date >= date '2024-03-01' - 30")


def test_charindex_is_strpos(con, layer) -> None:
    check(con, layer, "select charindex('e', status) p, revenue from orders group by 1",
          "select strpos(status, 'e') p, sum(amount) from orders group by 1")


@pytest.mark.parametrize("unit,duck", [("qtr", "quarter"), ("mon", "month"), ("yr", "year"), ("d", "day")])
def test_unit_abbreviations(con, layer, unit: str, duck: str) -> None:
    check(con, layer, f"select extract({unit} from ordered_at) u, revenue from orders group by 1",
          f"select extract({duck} from order_ts::date) u, sum(amount) from orders group by 1")
    check(con, layer, f"select date_trunc('{unit}', ordered_at) u, revenue from orders group by 1",
          f"select date_trunc('{duck}', order_ts::date)::timestamp u, sum(amount) from orders group by 1")


def test_yyyymmdd_number_cast_to_date(con, layer) -> None:
    check(con, layer,
          "select CAST(CAST(((EXTRACT(YEAR FROM ordered_at) * 100 + 1) * 100 + 1) AS varchar) AS date) y, "
          "revenue from orders group by 1",
          "select make_date(year(order_ts)::int, 1, 1) y, sum(amount) from orders group by 1")


@pytest.mark.parametrize("sql", [
    "select datediff(day, date '2024-01-01', ordered_at), dateadd(week, 1, ordered_at), revenue from orders "
    "group by 1, 2",
    "select charindex('e', status), extract(qtr from ordered_at), revenue from orders group by 1, 2",
    "select revenue from orders where ordered_at > str_to_date('2024-01-01', 'YYYY-MM-DD')",
    "select ordered_at__month, measure(avg_amount) from orders join (select status as s, revenue from orders "
    "group by 1 order by 2 desc limit 2) t on (status = t.s and status = s) group by 1",
    "select date_trunc('day', cast(ordered_at as timestamp)), revenue from orders group by date_trunc('day', "
    "ordered_at)",
])
def test_databricks_renders_bi_idioms(dbx_layer, sql: str) -> None:
    assert "__sem" in dbx_layer.compile(sql).sql


def test_yyyymmdd_number_cast_to_timestamp(con, layer) -> None:
    check(con, layer,
          "select date_trunc('month', CAST(CAST(((EXTRACT(YEAR FROM ordered_at) * 100 + 1) * 100 + 1) "
          "AS CHARACTER VARYING) AS timestamp)) y, revenue from orders group by 1",
          "select make_timestamp(year(order_ts)::int, 1, 1, 0, 0, 0) y, sum(amount) from orders group by 1")


def test_date_arithmetic_is_typed_as_postgresql(con, layer) -> None:
    # date - date is an integer; date - n * interval is a timestamp (check() compares announced types too)
    check(con, layer,
          "select CAST(ordered_at AS date) - CAST(date_trunc('month', ordered_at) AS date) + 1 d, revenue "
          "from orders group by 1",
          "select (order_ts::date - date_trunc('month', order_ts)::date + 1)::int d, sum(amount) "
          "from orders group by 1")
    check(con, layer,
          "select CAST(ordered_at AS date) - ((CAST(EXTRACT(DOW FROM ordered_at) AS BIGINT) % 7) "
          "* INTERVAL '1 DAY') w, "
          "revenue from orders group by 1",
          "select order_ts::date - (dayofweek(order_ts) * interval 1 day) w, sum(amount) from orders group by 1")


def test_date_arithmetic_type_flows_through_aggregates_and_division(con, layer) -> None:
    check(con, layer,
          "select status, min(floor((CAST(ordered_at AS date) - CAST(date_trunc('month', ordered_at) AS date) + 7) "
          "/ NULLIF(7, 0))) w, revenue from orders group by 1",
          "select status, min(floor((order_ts::date - date_trunc('month', order_ts)::date + 7) / 7)) w, sum(amount) "
          "from orders group by 1")


def test_parenthesised_union_branch_is_unified(con, layer) -> None:
    # (SELECT …) as a UNION branch: bigint with numeric gives numeric, announced as what the warehouse returns
    check(con, layer,
          "select order_count c, status from orders group by 2 "
          "union all (select cast(null as numeric) c, 'total' from orders)",
          "select count(order_id)::decimal(38, 6), status from orders group by 2 "
          "union all select null::decimal(38, 6), 'total'")


def test_star_over_a_semantic_subquery_announces_every_column(con, layer) -> None:
    cq = layer.compile("select l1.* from (select status, 1 as error from orders) as l1")
    assert [c.name for c in cq.columns] == ["status", "error"]
    check(con, layer, "select l1.* from (select status, 1 as error from orders) as l1",
          "select distinct status, 1 from orders")


def test_count_distinct_of_a_parenthesised_metric_plus_max_of_case_on_it(con, layer) -> None:
    # Power BI: COUNT(DISTINCT (m)) is the metric m; MAX(CASE on m) over one row per group is that CASE
    check(con, layer,
          'select "rows".status, count(distinct("rows".buyers)) + max(case when "rows".buyers is null then 1 '
          'else 0 end) a0 from orders "rows" group by status',
          "select status, count(distinct customer_id) + 0 from orders group by 1")
    # the CASE reads the metric's value in each result row, NULL included (an absent filtered bucket)
    check(con, layer,
          "select status, revenue, max(case when completed_revenue is null then 1 else 0 end) e "
          "from orders group by 1",
          "select status, sum(amount), max(case when status = 'completed' then 0 else 1 end) from orders group by 1")


@pytest.mark.parametrize("sql", [
    "select status, count(buyers + 1) from orders group by 1",  # COUNT(m) is m: COUNT(expression) has no meaning
    "select status, count(distinct (revenue * 2)) from orders group by 1",
    "select status, max(case when buyers is null then order_id end) from orders group by 1",  # m with a dimension
])
def test_aggregates_over_expressions_of_metrics_without_one_meaning_are_refused(layer, sql: str) -> None:
    with pytest.raises(PgError) as ei:
        layer.compile(sql)
    assert ei.value.sqlstate == "0A000", ei.value.message


_TOP2 = ("(select status as status__, measure(avg_amount) as inner__ from orders where order_id > 5 group by status "
         "order by inner__ desc limit 2)")
_PLAIN_TOP2 = "(select status s, avg(amount) a from orders where order_id > 5 group by 1 order by a desc limit 2)"


def test_superset_top_k_join_filters_base_rows(con, layer) -> None:
    # Superset's top-k series: the inner join with a semantic subquery (one row per status) only keeps base rows
    # of the top statuses, so AVG aggregates over those rows (not re-averaged per-grain averages)
    check(con, layer,
          "select date_trunc('month', ordered_at) m, measure(orders.avg_amount) as avg_amount from orders "
          f"join {_TOP2} as anon_1 on status = status__ where order_id < 70 group by date_trunc('month', ordered_at) "
          "order by avg_amount desc limit 1000",
          "select date_trunc('month', o.order_ts::date)::timestamp, avg(o.amount) from orders o "
          f"join {_PLAIN_TOP2} t on o.status = t.s where o.order_id < 70 group by 1")
    # the derived table first, qualified keys, a distinct count
    check(con, layer,
          f"select o.status, count(distinct o.buyers) from {_TOP2} t join orders o on t.status__ = o.status "
          "group by 1",
          f"select o.status, count(distinct o.customer_id) from orders o join {_PLAIN_TOP2} t on o.status = t.s "
          "group by 1")


def test_join_whose_derived_columns_are_read_is_not_a_filter(con, layer) -> None:
    # the subquery's column is selected: the general join of semantic subqueries answers it
    check(con, layer,
          f"select o.status, t.inner__ from orders o join {_TOP2} t on o.status = t.status__",
          f"select distinct o.status, t.a from orders o join {_PLAIN_TOP2} t on o.status = t.s")


def test_measure_over_a_join_that_is_not_a_filter_is_refused(layer) -> None:
    # the derived table may repeat a key: the join is no filter, and MEASURE is no warehouse function
    with pytest.raises(PgError) as ei:
        layer.compile("select status, measure(avg_amount) from orders join (select s from (values ('completed'), "
                      "('completed')) v(s)) t on status = t.s group by 1")
    assert ei.value.sqlstate == "0A000", ei.value.message


def test_cast_of_a_column_to_its_own_type_is_the_column(con, layer) -> None:
    # PostgreSQL's parser drops CAST(ts AS timestamp) of a timestamp column, so either spelling matches the
    # other in GROUP BY (Sigma selects DATE_TRUNC over the cast and may group by another spelling)
    plain = "select date_trunc('day', order_ts::date)::timestamp d, count(order_id) from orders group by 1"
    check(con, layer,
          "select date_trunc('day', cast(ordered_at as timestamp)) d, order_count from orders "
          "group by date_trunc('day', ordered_at)", plain)
    check(con, layer,
          "select date_trunc('day', ordered_at) d, order_count from orders "
          "group by date_trunc('day', ordered_at::timestamp without time zone)", plain)
    check(con, layer, "select upper(cast(status as text)) s, order_count from orders group by upper(status)",
          "select upper(status), count(order_id) from orders group by 1")


@pytest.mark.parametrize("sql", [
    # Sigma's visitor chart: timestamp → timestamptz is a real conversion, so the two differ (PostgreSQL: 42803)
    "select date_trunc('day', cast(ordered_at as timestamp)) d, sum(order_count) from orders "
    "group by date_trunc('day', cast(ordered_at as timestamptz))",
    "select date_trunc('day', cast(ordered_at as timestamp(3))) d, order_count from orders "
    "group by date_trunc('day', ordered_at)",  # a typmod is a coercion too
    "select upper(cast(status as varchar)) s, order_count from orders group by upper(status)",  # text → varchar
])
def test_casts_postgresql_keeps_do_not_match_in_group_by(layer, sql: str) -> None:
    with pytest.raises(PgError) as ei:
        layer.compile(sql)
    assert ei.value.sqlstate == "42803", ei.value.message


_SMB_REGIONS = "(select region_id__region_name as r from customers where segment = 'smb' group by 1)"  # north and NULL
_PLAIN_CUSTOMERS = "customers c left join regions g on c.region_id = g.region_id"


@pytest.mark.parametrize(("on", "plain_on"), [
    ("c.region_id__region_name = t.r", "g.name = t.rn"),
    ("c.region_id__region_name is not distinct from t.r", "g.name is not distinct from t.rn"),  # Tableau
    ('(c.region_id__region_name = t.r or c.region_id__region_name is null and t.r is null)',  # Power BI
     "g.name is not distinct from t.rn"),
])
def test_filtering_join_compares_keys_as_written(con, layer, on: str, plain_on: str) -> None:
    # a NULL key is kept only when the comparison is null-safe and the derived table has a NULL key
    check(con, layer,
          f"select c.segment, measure(c.customer_count) n from customers c join {_SMB_REGIONS} t on {on} group by 1",
          f"select c.segment, count(c.customer_id) from {_PLAIN_CUSTOMERS} join (select distinct g.name rn from "
          f"{_PLAIN_CUSTOMERS} where c.segment = 'smb') t on {plain_on} group by 1")


def test_tableau_top_n_at_another_grain_averages_base_rows(con, layer) -> None:
    check(con, layer,
          'SELECT "orders"."ordered_at__month" AS m, AVG("orders"."avg_amount") AS a FROM "public"."orders" "orders" '
          'INNER JOIN (SELECT "orders"."status" AS "s", SUM("orders"."revenue") AS "x" FROM "public"."orders" '
          '"orders" GROUP BY 1 ORDER BY 2 DESC LIMIT 2) "t0" ON ("orders"."status" IS NOT DISTINCT FROM "t0"."s") '
          "GROUP BY 1",
          "select date_trunc('month', o.order_ts), avg(o.amount) from orders o join (select status s from orders "
          "group by 1 order by sum(amount) desc limit 2) t on o.status is not distinct from t.s group by 1")


def test_sum_of_an_additive_metric_over_a_join_adds_up(con, layer) -> None:
    # orders becomes a semantic subquery per (customer_id, status): summing its revenue again is the revenue
    check(con, layer,
          "select c.segment, sum(o.revenue), sum(o.order_count), max(o.max_amount), sum(sum(o.revenue)) over () "
          "from orders o join customers c on o.customer_id = c.customer_id where o.status is not null group by 1",
          "select c.segment, sum(o.amount), count(o.order_id)::numeric, max(o.amount), sum(sum(o.amount)) over () "
          "from orders o "
          "join customers c using (customer_id) where o.status is not null group by 1")


@pytest.mark.parametrize("agg", [
    "avg(o.avg_amount)",  # an average of per-customer averages
    "sum(o.avg_amount)",
    "count(distinct o.buyers)",  # distinct counts do not add up
    "sum(o.buyers)",
    "sum(o.avg_order_value)",  # a ratio
    "sum(o.net_revenue)",  # a derived metric
    "min(o.revenue)",  # a sum re-aggregated by another function
    "sum(o.revenue * 2)",  # only the bare metric
    "avg(o.avg_amount) over ()",
])
def test_metric_aggregated_again_over_a_join_is_refused(layer, agg: str) -> None:
    """The general join reads each table as a semantic subquery at the grain of the columns used through it;
    an aggregate over its metric that is not a sum of sums (or counts), min of mins or max of maxes would give
    a wrong number without an error, so it is refused."""
    with pytest.raises(PgError) as ei:
        layer.compile(f"select c.segment, {agg} from orders o join customers c on o.customer_id = c.customer_id "
                      "group by 1")
    assert ei.value.sqlstate == "0A000", ei.value.message
    assert "again" in ei.value.message
