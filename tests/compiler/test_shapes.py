"""Plan once per statement shape: a statement whose shape was compiled before is answered by filling the shape's
template with its own literals, and that must be exactly what compiling its text gives (SQL, columns, parameter
types), for both dialects. Constants the compiler inspects stay part of the shape.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from virtual_schema.compiler.api import CompiledQuery
from virtual_schema.compiler.shape import lift
from virtual_schema.errors import PgError
from virtual_schema.loader import SemanticModelSet
from virtual_schema.semantic_layer import SemanticLayer, build_semantic_layer

DIALECTS = ("duckdb", "databricks")


def _build(con: duckdb.DuckDBPyConnection, models: SemanticModelSet, dialect: str, size: int) -> SemanticLayer:
    phys = {r: con.sql(f"select * from {r} limit 0").arrow().schema for r in models.relations()}
    return build_semantic_layer(models, phys, dialect, cache_size=size)


@pytest.fixture(scope="module")
def fresh(con: duckdb.DuckDBPyConnection, models: SemanticModelSet) -> dict[str, SemanticLayer]:
    """Layers without caches: every compile is a full compile of the text."""
    return {d: _build(con, models, d, 0) for d in DIALECTS}


@pytest.fixture
def cached(fresh: dict[str, SemanticLayer]) -> dict[str, SemanticLayer]:
    return {d: layer.with_empty_cache(4096) for d, layer in fresh.items()}


@pytest.fixture(scope="module")
def shared(fresh: dict[str, SemanticLayer]) -> dict[str, SemanticLayer]:
    return {d: layer.with_empty_cache(4096) for d, layer in fresh.items()}


def _outcome(layer: SemanticLayer, sql: str, params: tuple[int, ...] = ()) -> CompiledQuery | tuple[str, str, Any]:
    try:
        return layer.compile(sql, params)
    except PgError as e:
        return (e.sqlstate, e.message, e.position)


# Each family: statements of one shape (same constant kinds and equality pattern), written as they would be sent.
SAME_SHAPE: dict[str, list[str]] = {
    "string_eq": [
        "select status, revenue from orders where status = 'completed'",
        "select status, revenue from orders where status = 'returned'",
        "select status, revenue from orders where status = 'it''s'",
        "select status, revenue from orders where status = 'é→☃ 日本'",
        "select status, revenue from orders where status = 'a\\b'",
        "select status, revenue from orders where status = ''",
        "select status, revenue from orders where status = '%_'",
        "select status, revenue from orders where status = '$1'",
    ],
    "constant_on_the_left": [
        "select revenue from orders where 'placed' = status",
        "select revenue from orders where 'returned' = status",
    ],
    "negative_and_positive_int": [
        "select status, revenue from orders group by 1 having revenue > -5",
        "select status, revenue from orders group by 1 having revenue > -1000",
    ],
    "int": [
        "select status, revenue from orders group by 1 having revenue > 5",
        "select status, revenue from orders group by 1 having revenue > 1500",
        "select status, revenue from orders group by 1 having revenue > 0",
        "select status, revenue from orders group by 1 having revenue > 00012345",
    ],
    "case_decimal_same_scale": [
        "select case when status = 'a' then 1.5 else 2.5 end as x, revenue from orders group by 1",
        "select case when status = 'b' then 7.5 else 0.1 end as x, revenue from orders group by 1",
    ],
    "decimal": [
        "select status, revenue from orders group by 1 having revenue >= 1500.5",
        "select status, revenue from orders group by 1 having revenue >= 0.25",
        "select status, revenue from orders group by 1 having revenue >= 0001.50",
    ],
    "long_int": [
        "select order_count from orders where order_id <> 1234567890",
        "select order_count from orders where order_id <> 9999999999",
    ],
    "date_typed": [
        "select ordered_at__month, revenue from orders where ordered_at >= date '2024-01-05' group by 1",
        "select ordered_at__month, revenue from orders where ordered_at >= date '2024-03-01' group by 1",
    ],
    "date_cast": [
        "select revenue from orders where ordered_at < cast('2024-02-01' as timestamp)",
        "select revenue from orders where ordered_at < cast('2024-03-15 12:30:00' as timestamp)",
    ],
    "timestamp_typed": [
        "select revenue from orders where ordered_at >= timestamp '2024-01-05 00:00:00' "
        "and date_trunc('month', ordered_at) = '2024-01-01'",
        "select revenue from orders where ordered_at >= timestamp '2024-02-10 06:30:00' "
        "and date_trunc('month', ordered_at) = '2024-02-01'",
    ],
    "date_pg_cast": [
        "select revenue from orders where ordered_at::date = '2024-01-03'::date",
        "select revenue from orders where ordered_at::date = '2024-01-05'::date",
    ],
    "between": [
        "select status, order_count from orders where ordered_at between '2024-01-01' and '2024-02-01' group by 1",
        "select status, order_count from orders where ordered_at between '2024-02-01' and '2024-04-01' group by 1",
    ],
    "in_list": [
        "select status, revenue from orders where status in ('completed', 'placed')",
        "select status, revenue from orders where status in ('returned', 'x''y')",
    ],
    "not_in_list": [
        "select status, revenue from orders where status not in ('returned', 'placed')",
        "select status, revenue from orders where status not in ('returned', 'completed')",
    ],
    "like": [
        "select customer_id__segment, revenue from orders where status like 'comp%'",
        "select customer_id__segment, revenue from orders where status like '%e_'",
    ],
    "ilike": [
        "select customer_id__segment, revenue from orders where status ilike 'RET%'",
        "select customer_id__segment, revenue from orders where status ilike '%D'",
    ],
    "case_labels": [
        "select case when status = 'completed' then 'done' else 'open' end as state, revenue from orders group by 1",
        "select case when status = 'returned' then 'back' else 'kept' end as state, revenue from orders group by 1",
    ],
    "case_operand": [
        "select case status when 'placed' then 'new' else 'old' end as state, revenue from orders group by 1",
        "select case status when 'returned' then 'r' else 'o' end as state, revenue from orders group by 1",
    ],
    "case_in_select_and_group_by": [
        "select case when status = 'placed' then 'n' else 'o' end, order_count from orders "
        "group by case when status = 'placed' then 'n' else 'o' end",
        "select case when status = 'returned' then 'r' else 'k' end, order_count from orders "
        "group by case when status = 'returned' then 'r' else 'k' end",
    ],
    "count_case_in_derived_table": [
        "select status, count(case when amount_band = 'big' then 1 end) from (select status, "
        "case when is_large then 'big' else 'small' end as amount_band from orders) t group by 1",
        "select status, count(case when amount_band = 'L' then 1 end) from (select status, "
        "case when is_large then 'L' else 'S' end as amount_band from orders) t group by 1",
    ],
    "joined_dimension_and_metric_filter_and_param": [
        "select customer_id__segment, completed_revenue from orders where customer_id__segment = 'smb' "
        "and status <> $1 group by 1",
        "select customer_id__segment, completed_revenue from orders where customer_id__segment = 'ent' "
        "and status <> $1 group by 1",
    ],
    "subquery_union_cte": [
        "with a as (select status, revenue from orders where status = 'completed') select * from a "
        "union all select status, revenue from orders where status = 'placed'",
        "with a as (select status, revenue from orders where status = 'returned') select * from a "
        "union all select status, revenue from orders where status = 'x'",
    ],
    "join_of_virtual_tables": [
        "select o.status, c.segment from orders o join customers c on o.customer_id = c.customer_id "
        "where c.segment = 'smb' and o.status = 'placed'",
        "select o.status, c.segment from orders o join customers c on o.customer_id = c.customer_id "
        "where c.segment = 'ent' and o.status = 'returned'",
    ],
    "metrics_table_and_cumulative": [
        "select metric_time__month, revenue, revenue_to_date from metrics where metric_time >= '2024-02-01' "
        "group by 1",
        "select metric_time__month, revenue, revenue_to_date from metrics where metric_time >= '2024-03-01' "
        "group by 1",
    ],
    "coalesce_argument_in_key_comparison_lifted": [
        "select revenue from orders where coalesce(status, 'none') = 'completed'",
        "select revenue from orders where coalesce(status, 'none') = 'placed'",
    ],
}

# Pairs that differ in a constant the compiler inspects: different shapes, each compiled on its own.
DIFFERENT_SHAPES: list[tuple[str, str]] = [
    ("select date_trunc('month', ordered_at), revenue from orders group by 1",
     "select date_trunc('year', ordered_at), revenue from orders group by 1"),
    ("select extract(year from ordered_at), revenue from orders where status = 'a' group by 1",
     "select extract(month from ordered_at), revenue from orders where status = 'a' group by 1"),
    ("select status, ordered_at__month, revenue from orders where status = 'a' group by 1, 2",
     "select status, ordered_at__month, revenue from orders where status = 'a' group by 2, 1"),
    ("select status, revenue from orders where status = 'a' order by 1 limit 0",
     "select status, revenue from orders where status = 'a' order by 2 limit 5"),
    ("select status, revenue from orders where 1 = 0 and status = 'a'",
     "select status, revenue from orders where 1 = 1 and status = 'a'"),
    ("select revenue from orders where ordered_at > timestamp '2024-01-01' + interval '1 day'",
     "select revenue from orders where ordered_at > timestamp '2024-01-01' + interval '2 months'"),
    ("select cast(revenue as numeric(10, 2)) from orders where status = 'a'",
     "select cast(revenue as numeric(12, 4)) from orders where status = 'a'"),
    ("select status, revenue from orders where status in ('a', 'b')",
     "select status, revenue from orders where status in ('a', 'b', 'c')"),
    ("select status, revenue from orders where is_large = true and status = 'a'",
     "select status, revenue from orders where is_large = false and status = 'a'"),
    ("select status, revenue from orders where status = 'a' or status = null",
     "select status, revenue from orders where status = 'a' or status = 'b'"),
    ("select status, revenue from orders group by 1 having revenue > 5",
     "select status, revenue from orders group by 1 having revenue > 5.5"),
    # a CASE result's type is the column's: numeric at the constant's scale, int4 or int8 by the integer's size
    ("select case when status = 'a' then 1.5 else 2.5 end as x, revenue from orders group by 1",
     "select case when status = 'a' then 1.25 else 2.5 end as x, revenue from orders group by 1"),
    ("select case when status = 'a' then 2147483647 else 0 end as x, revenue from orders group by 1",
     "select case when status = 'a' then 2147483648 else 0 end as x, revenue from orders group by 1"),
    ("select status, revenue from orders group by 1 having revenue > 5",
     "select status, revenue from orders group by 1 having revenue > 123456789"),
    ("select status, revenue from orders group by 1 having revenue > 5",
     "select status, revenue from orders group by 1 having revenue > -5"),
    ("select status, revenue from orders group by 1 having revenue > 5.25",
     "select status, revenue from orders group by 1 having revenue > .25"),
    ("select status, revenue from orders where status = E'a\\tb'",
     "select status, revenue from orders where status = E'a\\nb'"),
    ("select status, revenue from orders where status in ('a', 'a')",
     "select status, revenue from orders where status in ('a', 'b')"),
    ("select status, revenue from orders where order_id = 3 and customer_id = 3",
     "select status, revenue from orders where order_id = 3 and customer_id = 4"),
    ("select case when status = 'placed' then 'n' else 'o' end, order_count from orders "
     "group by case when status = 'placed' then 'n' else 'o' end",
     "select case when status = 'placed' then 'n' else 'o' end, order_count from orders "
     "group by case when status = 'placed' then 'x' else 'o' end"),
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("family", sorted(SAME_SHAPE))
def test_same_shape_new_literals_equal_a_full_compile(
    family: str, dialect: str, cached: dict[str, SemanticLayer], fresh: dict[str, SemanticLayer]
) -> None:
    statements = SAME_SHAPE[family]
    params = (25,) if "$1" in statements[0] else ()
    shapes = {lift(s).key if lift(s) else None for s in statements}  # type: ignore[union-attr]
    assert len(shapes) == 1 and None not in shapes, family
    layer = cached[dialect]
    for i, sql in enumerate(statements):
        got = _outcome(layer, sql, params)
        want = _outcome(fresh[dialect], sql, params)
        assert got == want, sql
        assert isinstance(got, CompiledQuery), got
        assert layer.stats.shape_hits == i, (family, sql)
    # the other way round: any statement of the shape can be the one that plans it
    layer = fresh[dialect].with_empty_cache(4096)
    for sql in reversed(statements):
        assert _outcome(layer, sql, params) == _outcome(fresh[dialect], sql, params), sql
    assert layer.stats.shape_hits == len(statements) - 1


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("pair", DIFFERENT_SHAPES, ids=[str(i) for i in range(len(DIFFERENT_SHAPES))])
def test_plan_changing_constants_stay_in_the_shape(
    pair: tuple[str, str], dialect: str, cached: dict[str, SemanticLayer], fresh: dict[str, SemanticLayer]
) -> None:
    a, b = pair
    sa, sb = lift(a), lift(b)
    assert sa is None or sb is None or sa.key != sb.key
    layer = cached[dialect]
    assert _outcome(layer, a) == _outcome(fresh[dialect], a)
    assert _outcome(layer, b) == _outcome(fresh[dialect], b)
    assert layer.stats.shape_hits == 0


def test_errors_keep_the_position_of_their_own_text(cached: dict[str, SemanticLayer]) -> None:
    layer = cached["duckdb"]
    a = "select revenue from orders where status = 'x' and nope = 1"
    b = "select revenue from orders where status = 'longer value' and nope = 1"
    ea, eb = _outcome(layer, a), _outcome(layer, b)
    assert isinstance(ea, tuple) and isinstance(eb, tuple)
    assert ea[0] == eb[0] == "42703"
    assert eb[2] == b.index("nope") + 1 and ea[2] == a.index("nope") + 1


def _plain(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    return sorted(con.execute(sql, params or []).fetchall(), key=repr)


def test_one_cached_shape_answers_each_literal_correctly(
    con: duckdb.DuckDBPyConnection, cached: dict[str, SemanticLayer]
) -> None:
    layer = cached["duckdb"]
    seen = []
    for status, since in [("completed", "2024-01-01"), ("returned", "2024-02-10"), ("placed", "2024-03-01"),
                          ("it's", "2024-01-01")]:
        cq = layer.compile(
            f"select status, revenue, order_count from orders where status = '{status.replace(chr(39), chr(39) * 2)}' "
            f"and ordered_at >= date '{since}' group by 1"
        )
        got = _plain(con, cq.sql)
        want = _plain(
            con,
            "select status, sum(amount), count(order_id) from orders where status = ? and order_ts >= ?::date "
            "group by 1",
            [status, since],
        )
        assert got == want
        seen.append(got)
    assert layer.stats.shape_hits == 3 and layer.stats.compiles == 1
    assert len({repr(s) for s in seen}) == len(seen)  # each literal gave its own answer


def test_in_lists_and_numbers_through_one_shape(
    con: duckdb.DuckDBPyConnection, cached: dict[str, SemanticLayer]
) -> None:
    layer = cached["duckdb"]
    for statuses, low, high in [(("completed", "placed"), 10, 40), (("returned", "placed"), 3, 15),
                                (("returned", "completed"), 60, 80)]:
        cq = layer.compile(
            f"select count(*), revenue from orders where status in ('{statuses[0]}', '{statuses[1]}') "
            f"and order_id between {low} and {high}"
        )
        want = _plain(
            con,
            "select count(*), sum(amount) from orders where status in (?, ?) and order_id between ? and ?",
            [*statuses, low, high],
        )
        assert _plain(con, cq.sql) == want
    assert layer.stats.shape_hits == 2


_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_text, number=st.integers(min_value=0, max_value=99_999_999),
       whole=st.integers(min_value=0, max_value=10**6), frac=st.integers(min_value=0, max_value=999))
def test_any_literal_values_fill_like_a_full_compile(
    value: str, number: int, whole: int, frac: int, shared: dict[str, SemanticLayer],
    fresh: dict[str, SemanticLayer],
) -> None:
    template = ("select status, revenue from orders where status = '{s}' and customer_id__segment <> '{s2}' "
                "group by 1 having revenue > {n} or revenue < -{f}")
    quoted = value.replace("'", "''")
    sql = template.format(s=quoted, s2=quoted + "x", n=number, f=f"{whole}.{frac:03d}")
    for dialect in DIALECTS:
        layer = shared[dialect]
        layer.compile(template.format(s="seed", s2="seed2", n=1, f="0.5"))
        before = layer.stats
        assert _outcome(layer, sql) == _outcome(fresh[dialect], sql)
        after = layer.stats
        assert after.compiles == before.compiles  # answered from the shape (or the text seen in an earlier example)
