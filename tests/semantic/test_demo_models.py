"""The demo models use every feature of the model format (issue 3 promises it) and load cleanly."""

from __future__ import annotations

from pathlib import Path

from tests.semantic.oracle import read_model_docs
from virtual_schema.loader import load_models

MODELS_DIR = Path(__file__).resolve().parents[2] / "semantic-models"


def test_demo_models_use_every_feature() -> None:
    docs = read_model_docs(MODELS_DIR)
    assert {d["name"] for d in docs} == {"customers", "products", "orders", "order_items", "web_events"}
    entities = [e for d in docs for e in d["entities"]]
    dims = [x for d in docs for x in d["dimensions"]]
    measures = [m for d in docs for m in d["measures"]]
    metrics = [m for d in docs for m in d.get("metrics") or ()]
    assert {e["type"] for e in entities} == {"primary", "foreign", "unique"}
    assert any("expr" in e for e in entities)
    assert {x["type"] for x in dims} == {"categorical", "time", "boolean"}
    for kind in ("categorical", "time", "boolean"):
        assert any(x["type"] == kind and "expr" in x for x in dims), kind
    assert any(x["type"] == "time" and x.get("time_granularity") for x in dims)
    assert {m["agg"] for m in measures} == {"sum", "count", "avg", "min", "max", "count_distinct"}
    assert any(m.get("create_metric") for m in measures)
    assert {m["type"] for m in metrics} == {"simple", "ratio", "derived", "cumulative"}
    assert any(m["type"] == "simple" and m.get("filter") for m in metrics)
    cumulative = [m for m in metrics if m["type"] == "cumulative"]
    assert any(not m.get("window") and not m.get("grain_to_date") for m in cumulative)
    assert any(m.get("window") == "7 days" for m in cumulative)
    assert any(m.get("grain_to_date") == "month" for m in cumulative)
    assert any(m.get("period_agg") for m in cumulative)
    assert all(d.get("description") for d in docs)
    assert any(d.get("label") for d in docs) and any(x.get("label") for x in dims)


def test_demo_models_load_with_two_hop_joins() -> None:
    from virtual_schema.demo_warehouse import demo_physical_schemas
    from virtual_schema.semantic_layer import build_semantic_layer

    layer = build_semantic_layer(load_models(MODELS_DIR), demo_physical_schemas(), "duckdb")
    items = layer.schema.table("order_items")
    assert items is not None
    names = {c.name for c in items.columns}
    assert {"order_id__status", "order_id__customer_id__region", "product__category", "added_at__month"} <= names
    assert layer.schema.table("metrics") is not None
