"""The oracle itself: our models translated to MetricFlow give the numbers plain SQL gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.semantic.cases import D, MfRequest
from tests.semantic.oracle import MetricFlowOracle, mf_documents, read_model_docs, rows_equal
from virtual_schema.demo_warehouse import populate_demo_warehouse

MODELS_DIR = Path(__file__).resolve().parents[2] / "semantic-models"


@pytest.fixture(scope="module")
def small() -> Iterator[MetricFlowOracle]:
    con = duckdb.connect()
    populate_demo_warehouse(con, scale=0.05)
    yield MetricFlowOracle.from_models_dir(con, MODELS_DIR)
    con.close()


@pytest.mark.parametrize(
    ("request_", "plain"),
    [
        (MfRequest(("revenue", "order_count"), ("order_id__status",)),
         "SELECT status, SUM(amount), COUNT(order_id) FROM orders GROUP BY 1"),
        (MfRequest(("completed_revenue",), ("order_id__channel",)),
         "SELECT channel, SUM(amount) FROM orders WHERE status = 'completed' GROUP BY 1"),
        (MfRequest(("avg_order_value",), ("customer_id__region",)),
         "SELECT c.region, SUM(o.amount) / COUNT(o.order_id) FROM orders o LEFT JOIN customers c USING (customer_id)"
         " GROUP BY 1"),
        (MfRequest(("units_sold",), ("order_id__customer_id__segment",)),
         "SELECT c.segment, SUM(i.quantity) FROM order_items i LEFT JOIN orders o USING (order_id)"
         " LEFT JOIN customers c ON c.customer_id = o.customer_id GROUP BY 1"),
        (MfRequest(("bulk_units",), ("product__category",)),
         "SELECT p.category, SUM(i.quantity) FROM order_items i JOIN products p USING (product_id)"
         " WHERE i.quantity >= 3 GROUP BY 1"),
        (MfRequest(("revenue",), ("order_id__ordered_at__month",), (D("order_id__is_gift"),)),
         "SELECT date_trunc('month', order_ts), SUM(amount) FROM orders WHERE is_gift GROUP BY 1"),
    ],
)
def test_metricflow_agrees_with_plain_sql(small: MetricFlowOracle, request_: MfRequest, plain: str) -> None:
    got = small.query(request_)
    want = small.con.execute(plain).fetchall()
    ok, why = rows_equal(got.rows, want)
    assert ok, why


def test_translation_keeps_every_metric() -> None:
    docs = read_model_docs(MODELS_DIR)
    ours = {m["name"] for d in docs for m in d.get("metrics") or ()}
    translated = {x["metric"]["name"] for d in docs for x in mf_documents(d, schema="main") if "metric" in x}
    assert ours == translated
    filters = [x["metric"].get("filter") for d in docs for x in mf_documents(d, schema="main") if "metric" in x]
    assert "{{ Dimension('order_id__status') }} = 'completed'" in filters
