"""The demo warehouse is deterministic, has the promised shape and matches its declared Arrow schemas."""

from __future__ import annotations

from pathlib import Path

import duckdb

from virtual_schema.demo_warehouse import DEMO_TABLES, demo_physical_schemas, generate_demo_warehouse


def _fingerprint(path: Path) -> dict[str, tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for table in DEMO_TABLES:
            row = con.execute(f"SELECT count(*), sum(hash(t)) FROM {table} t").fetchone()
            assert row is not None
            out[table] = tuple(row)
        return out
    finally:
        con.close()


def test_deterministic_and_shaped(tmp_path: Path) -> None:
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    generate_demo_warehouse(a, scale=0.2)
    generate_demo_warehouse(b, scale=0.2)
    assert _fingerprint(a) == _fingerprint(b)
    con = duckdb.connect(str(a), read_only=True)
    try:
        schemas = demo_physical_schemas()
        for table in DEMO_TABLES:
            assert con.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow_table().schema == schemas[table]
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in DEMO_TABLES}  # type: ignore[index]
        assert counts["customers"] == 1000 and counts["orders"] == 20000 and counts["products"] == 40
        assert 2 * counts["orders"] <= counts["order_items"] <= 3 * counts["orders"]
        # NULLs where the models expect them, two years of orders, amounts consistent with items
        nulls = con.execute(
            "SELECT count(*) FILTER (customer_id IS NULL), count(*) FILTER (discount IS NULL),"
            " count(*) FILTER (channel IS NULL), min(order_ts), max(order_ts) FROM orders"
        ).fetchone()
        assert nulls is not None and all(n > 0 for n in nulls[:3])
        assert (nulls[4] - nulls[3]).days > 700
        mismatch = con.execute(
            "SELECT count(*) FROM orders o JOIN (SELECT order_id, sum(quantity * unit_price) s FROM order_items"
            " GROUP BY 1) i USING (order_id) WHERE o.amount <> i.s"
        ).fetchone()
        assert mismatch == (0,)
        fk = con.execute(
            "SELECT count(*) FROM orders o LEFT JOIN customers c USING (customer_id)"
            " WHERE o.customer_id IS NOT NULL AND c.customer_id IS NULL"
        ).fetchone()
        assert fk == (0,)
    finally:
        con.close()
