"""Loading both model formats, validation messages with file:line, and the virtual tables."""

from __future__ import annotations

from pathlib import Path

import metricflow_semantics
import pytest

from tests.golden import assert_golden
from virtual_schema.loader import ModelLoadError, load_models
from virtual_schema.schema import ColumnKind
from virtual_schema.semantic_layer import SemanticLayer

SIMPLE_MANIFEST = Path(metricflow_semantics.__file__).parent / "test_helpers/semantic_manifest_yamls/simple_manifest"


def test_our_format_loads(models) -> None:
    assert {m.name for m in models.models} == {"orders", "customers", "regions"}
    assert "order_count" in models.metric_by_name  # create_metric: true
    assert models.relations(None, "main") == {"main.orders", "main.customers", "main.regions"}


def test_simple_manifest_loads() -> None:
    s = load_models(SIMPLE_MANIFEST)
    assert len(s.models) >= 10 and len(s.metrics) >= 100
    assert s.metric_by_name["bookings"].measure == "bookings"
    assert any(m.filter and "booking__is_instant" in m.filter for m in s.metrics)


def test_dbt_format_and_errors_with_file_line(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "sm.yml").write_text(
        "semantic_models:\n"
        "  - name: sales\n"
        "    node_relation: {schema_name: main, alias: sales}\n"
        "    defaults: {agg_time_dimension: sold_at}\n"
        "    entities: [{name: sale, type: primary}]\n"
        "    dimensions:\n"
        "      - name: sold_at\n"
        "        type: time\n"
        "        type_params: {time_granularity: day}\n"
        "    measures:\n"
        "      - {name: amount, agg: sum}\n"
        "      - {name: bad, agg: summ}\n"
        "metrics:\n"
        "  - name: total\n"
        "    type: simple\n"
        "    type_params: {measure: nope}\n"
        "  - name: a\n"
        "    type: derived\n"
        "    type_params: {expr: b + 1, metrics: [b]}\n"
        "  - name: b\n"
        "    type: derived\n"
        "    type_params: {expr: a + 1, metrics: [a]}\n"
    )
    (tmp_path / "ours.yaml").write_text("name: Bad-Name\nmodel: ref('x')\nentities:\n  - {name: y, type: foreign}\n")
    with pytest.raises(ModelLoadError) as ei:
        load_models(tmp_path)
    problems = ei.value.problems
    text = "\n".join(problems)
    assert "sub/sm.yml:12: measures[1].agg:" in text
    assert any(p.startswith("sub/sm.yml:14: total.measure: unknown measure 'nope'") for p in problems)
    assert "cyclic metric definition" in text
    assert "ours.yaml:1: name:" in text


def test_virtual_tables(layer: SemanticLayer) -> None:
    orders = layer.schema.table("orders")
    assert orders is not None
    names = [c.name for c in orders.columns]
    for col in (
        "order_id",
        "status",
        "ordered_at",
        "ordered_at__month",
        "customer_id__segment",
        "customer_id__region_id__region_name",
        "revenue",
        "avg_order_value",
        "gross_revenue",
    ):
        assert col in names
    assert "order_count" in names and orders.primary_key == ("order_id",)
    assert orders.foreign_keys[0].ref_table == "customers"
    kinds = {c.name: c.kind for c in orders.columns}
    assert kinds["revenue"] is ColumnKind.METRIC and kinds["gross_revenue"] is ColumnKind.MEASURE
    types = {c.name: c.type.oid for c in orders.columns}
    assert types["order_count"] == 20 and types["avg_order_value"] == 701
    metrics = layer.schema.table("metrics")
    assert metrics is not None
    mnames = [c.name for c in metrics.columns]
    assert "metric_time__month" in mnames and "customer_count" in mnames and "customer_id__segment" in mnames


def test_golden_databricks(dbx_layer: SemanticLayer) -> None:
    queries = {
        "revenue_by_status": "select status, sum(revenue) from orders group by 1 order by 1",
        "metrics_by_month_segment": "select metric_time__month, customer_id__segment, revenue, buyers "
        "from metrics where customer_id__segment = $1",
        "cumulative_mtd": "select ordered_at__month, revenue_mtd from orders",
    }
    for name, sql in queries.items():
        assert_golden(f"compiler_{name}", "databricks", dbx_layer.compile(sql).sql)


def test_validation_rules_report_every_problem(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        "name: a\n"
        "model: ref('a')\n"
        "defaults: {agg_time_dimension: status}\n"
        "entities:\n"
        "  - {name: a_id, type: primary}\n"
        "  - {name: ghost_id, type: foreign}\n"
        "dimensions:\n"
        "  - {name: status, type: categorical}\n"
        "  - {name: a_id, type: categorical}\n"
        "measures:\n"
        "  - {name: total, agg: sum, expr: x}\n"
        "metrics:\n"
        "  - {name: r, type: ratio, numerator: total, denominator: nope}\n"
        "  - {name: status, type: simple, measure: total}\n"
    )
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yml").write_text(
        "name: b\nmodel: ref('b')\nentities: [{name: b_id, type: primary}]\nmeasures:\n  - {name: total, agg: count}\n"
    )
    (tmp_path / "sub" / "c.yml").write_text("name: b\nmodel: ref('c')\n")
    with pytest.raises(ModelLoadError) as ei:
        load_models(tmp_path)
    text = "\n".join(ei.value.problems)
    assert "a.yml:1: defaults.agg_time_dimension: 'status' is not a time dimension" in text
    assert "foreign entity 'ghost_id' is not the primary or unique entity of any model" in text
    assert "name 'a_id' is already an entity of a" in text
    assert "a.yml:13: r.metrics: unknown metric 'nope'" in text
    assert "a.yml:14: metrics.status: metric name 'status' collides with a column of model a" in text
    assert "sub/c.yml:1: name: duplicate semantic model 'b'" in text
    assert "duplicate measure 'total'" in text
    assert all(":" in p.split(" ", 1)[0] for p in ei.value.problems)


def test_jinja_filters_translate_to_column_names() -> None:
    from virtual_schema.loader import jinja_filter_to_sql

    assert jinja_filter_to_sql("{{ Dimension('booking__is_instant') }}") == "booking__is_instant"
    assert jinja_filter_to_sql("{{ TimeDimension('metric_time', 'month') }} >= '2024-01-01'") == (
        "metric_time__month >= '2024-01-01'"
    )
    assert jinja_filter_to_sql("{{ Entity('listing') }} IS NOT NULL") == "listing IS NOT NULL"


def test_other_yaml_beside_models_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "dbt_project.yml").write_text("name: shop\nversion: '1.0'\nprofile: shop\n")
    (tmp_path / "m.yml").write_text("name: m\nmodel: ref('m')\nentities: [{name: m_id, type: primary}]\n")
    assert [m.name for m in load_models(tmp_path).models] == ["m"]
