"""The demo warehouse: a deterministic DuckDB database the demo models and the tests run on.

Everything is generated inside DuckDB from `range()` and `hash()` of (row number, column salt), so a
build takes about a second, needs no Python loops and yields the same data on every run (given the
same DuckDB version). The data has what makes semantic queries interesting: NULLs in dimensions and
measures, skewed categorical values, guest orders without a customer, anonymous web events and more
than two years of timestamps.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

# Physical columns per table: (name, DuckDB type). The DDL and the Arrow schemas both come from here.
DEMO_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (
        ("customer_id", "BIGINT"),
        ("customer_name", "VARCHAR"),
        ("email", "VARCHAR"),
        ("region", "VARCHAR"),
        ("country", "VARCHAR"),
        ("segment", "VARCHAR"),
        ("signup_date", "DATE"),
        ("is_active", "BOOLEAN"),
    ),
    "products": (
        ("product_id", "BIGINT"),
        ("sku", "VARCHAR"),
        ("product_name", "VARCHAR"),
        ("category", "VARCHAR"),
        ("brand", "VARCHAR"),
        ("price", "DECIMAL(18,2)"),
        ("is_discontinued", "BOOLEAN"),
        ("launched_on", "DATE"),
    ),
    "orders": (
        ("order_id", "BIGINT"),
        ("customer_id", "BIGINT"),
        ("order_ts", "TIMESTAMP"),
        ("status", "VARCHAR"),
        ("channel", "VARCHAR"),
        ("amount", "DECIMAL(18,2)"),
        ("discount", "DECIMAL(18,2)"),
        ("shipping_cost", "DECIMAL(18,2)"),
        ("is_gift", "BOOLEAN"),
    ),
    "order_items": (
        ("order_item_id", "BIGINT"),
        ("order_id", "BIGINT"),
        ("product_id", "BIGINT"),
        ("quantity", "INTEGER"),
        ("unit_price", "DECIMAL(18,2)"),
        ("added_at", "TIMESTAMP"),
    ),
    "web_events": (
        ("event_id", "BIGINT"),
        ("session_id", "VARCHAR"),
        ("customer_id", "BIGINT"),
        ("event_type", "VARCHAR"),
        ("event_ts", "TIMESTAMP"),
        ("page", "VARCHAR"),
        ("device", "VARCHAR"),
        ("duration_ms", "INTEGER"),
    ),
}

_ARROW_TYPES: dict[str, pa.DataType] = {
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    "BOOLEAN": pa.bool_(),
    "DECIMAL(18,2)": pa.decimal128(18, 2),
}

# Base row counts at scale 1.0.
_CUSTOMERS = 5_000
_PRODUCTS = 200
_ORDERS = 100_000
_WEB_EVENTS = 150_000

# u(i, salt): a uniform double in [0, 1) from the row number and a per-column salt.
_MACROS = """
CREATE OR REPLACE TEMP MACRO u(i, salt) AS (hash(i::BIGINT * 7919 + salt) % 1000000)::DOUBLE / 1000000.0;
CREATE OR REPLACE TEMP MACRO pick(i, salt, n) AS (hash(i::BIGINT * 7919 + salt) % n)::BIGINT;
"""

_CUSTOMERS_SQL = """
CREATE TABLE customers AS
SELECT
    id AS customer_id,
    'Customer ' || lpad(id::VARCHAR, 5, '0') AS customer_name,
    CASE WHEN u(id, 11) < 0.05 THEN NULL ELSE 'customer' || id::VARCHAR || '@example.com' END AS email,
    CASE WHEN u(id, 12) < 0.03 THEN NULL
         WHEN u(id, 13) < 0.45 THEN 'North America'
         WHEN u(id, 13) < 0.75 THEN 'Europe'
         WHEN u(id, 13) < 0.92 THEN 'Asia Pacific'
         ELSE 'Latin America' END AS region,
    ['US', 'CA', 'DE', 'FR', 'GB', 'JP', 'AU', 'BR', 'MX', 'IN'][pick(id, 14, 10) + 1] AS country,
    CASE WHEN u(id, 15) < 0.6 THEN 'consumer' WHEN u(id, 15) < 0.85 THEN 'corporate' ELSE 'home_office' END
        AS segment,
    DATE '2022-01-01' + pick(id, 16, 1095)::INTEGER AS signup_date,
    u(id, 17) >= 0.2 AS is_active
FROM range(1, {n} + 1) t(id)
ORDER BY id
"""

_PRODUCTS_SQL = """
CREATE TABLE products AS
SELECT
    id AS product_id,
    'SKU-' || lpad(id::VARCHAR, 4, '0') AS sku,
    ['Classic', 'Pro', 'Lite', 'Max', 'Eco'][pick(id, 21, 5) + 1] || ' '
        || ['Widget', 'Gadget', 'Lamp', 'Shirt', 'Novel', 'Ball', 'Kettle', 'Puzzle'][pick(id, 22, 8) + 1]
        || ' ' || id::VARCHAR AS product_name,
    ['Electronics', 'Home', 'Apparel', 'Books', 'Sports', 'Toys'][pick(id, 23, 6) + 1] AS category,
    CASE WHEN u(id, 24) < 0.05 THEN NULL
         ELSE ['Acme', 'Globex', 'Initech', 'Umbrella', 'Stark', 'Wayne', 'Hooli', 'Vandelay'][pick(id, 25, 8) + 1]
    END AS brand,
    round(4.99 + u(id, 26) * u(id, 27) * 495, 2)::DECIMAL(18,2) AS price,
    u(id, 28) < 0.1 AS is_discontinued,
    DATE '2020-06-01' + pick(id, 29, 1400)::INTEGER AS launched_on
FROM range(1, {n} + 1) t(id)
ORDER BY id
"""

# Orders are generated first without money columns; amounts come from their items.
_ORDER_HEADERS_SQL = """
CREATE TEMP TABLE order_headers AS
SELECT
    id AS order_id,
    CASE WHEN u(id, 31) < 0.015 THEN NULL
         -- skew: a fifth of the customers place about half of the orders
         WHEN u(id, 32) < 0.5 THEN 1 + pick(id, 33, greatest({customers} // 5, 1))
         ELSE 1 + pick(id, 34, {customers}) END AS customer_id,
    TIMESTAMP '2023-01-01 00:00:00'
        -- volume grows over time: the offset is sqrt-distributed over 730 days
        + to_microseconds(floor(730 * 86400 * sqrt((pick(id, 35, 1000000) * 1000000 + pick(id, 36, 1000000))
                                                   / 1e12))::BIGINT * 1000000) AS order_ts,
    CASE WHEN u(id, 37) < 0.70 THEN 'completed'
         WHEN u(id, 37) < 0.82 THEN 'shipped'
         WHEN u(id, 37) < 0.90 THEN 'pending'
         WHEN u(id, 37) < 0.96 THEN 'cancelled'
         ELSE 'returned' END AS status,
    CASE WHEN u(id, 38) < 0.02 THEN NULL
         WHEN u(id, 39) < 0.50 THEN 'web'
         WHEN u(id, 39) < 0.80 THEN 'mobile'
         WHEN u(id, 39) < 0.95 THEN 'store'
         ELSE 'partner' END AS channel,
    1 + pick(id, 40, 4) AS n_items,
    u(id, 41) AS discount_draw,
    CASE WHEN u(id, 42) < 0.04 THEN NULL ELSE round(u(id, 43) * 15, 2)::DECIMAL(18,2) END AS shipping_cost,
    u(id, 44) < 0.08 AS is_gift
FROM range(1, {n} + 1) t(id)
"""

_ORDER_ITEMS_SQL = """
CREATE TABLE order_items AS
SELECT
    row_number() OVER (ORDER BY h.order_id, k) AS order_item_id,
    h.order_id,
    p.product_id,
    q.quantity,
    p.price AS unit_price,
    -- items go into the cart in the minutes before checkout
    h.order_ts - to_microseconds((k * 60 + pick(h.order_id * 8 + k, 54, 60) * 60)::BIGINT * 1000000) AS added_at
FROM order_headers h
CROSS JOIN LATERAL range(h.n_items) r(k)
CROSS JOIN LATERAL (SELECT 1 + pick(h.order_id * 8 + k, 51, {products}) AS product_id,
                           (1 + CASE WHEN u(h.order_id * 8 + k, 52) < 0.7 THEN 0
                                     ELSE pick(h.order_id * 8 + k, 53, 5) END)::INTEGER AS quantity) q
JOIN products p ON p.product_id = q.product_id
ORDER BY h.order_id, k
"""

_ORDERS_SQL = """
CREATE TABLE orders AS
SELECT
    h.order_id,
    h.customer_id,
    h.order_ts,
    h.status,
    h.channel,
    i.gross::DECIMAL(18,2) AS amount,
    CASE WHEN h.discount_draw < 0.55 THEN NULL
         ELSE round(i.gross * (0.05 + 0.25 * (h.discount_draw - 0.55)), 2)::DECIMAL(18,2) END AS discount,
    h.shipping_cost,
    h.is_gift
FROM order_headers h
JOIN (SELECT order_id, sum(quantity * unit_price) AS gross FROM order_items GROUP BY order_id) i
  ON i.order_id = h.order_id
ORDER BY h.order_id
"""

_WEB_EVENTS_SQL = """
CREATE TABLE web_events AS
SELECT
    id AS event_id,
    's' || lpad((1 + id // 4)::VARCHAR, 7, '0') AS session_id,
    CASE WHEN u(1 + id // 4, 61) < 0.3 THEN NULL ELSE 1 + pick(1 + id // 4, 62, {customers}) END AS customer_id,
    CASE WHEN u(id, 63) < 0.60 THEN 'page_view'
         WHEN u(id, 63) < 0.75 THEN 'search'
         WHEN u(id, 63) < 0.88 THEN 'add_to_cart'
         WHEN u(id, 63) < 0.95 THEN 'checkout'
         ELSE 'purchase' END AS event_type,
    TIMESTAMP '2023-01-01 00:00:00'
        + to_microseconds((pick(1 + id // 4, 64, 730 * 86400 - 3600) + (id % 4) * pick(id, 65, 300))::BIGINT
                          * 1000000)
        AS event_ts,
    CASE WHEN u(id, 66) < 0.02 THEN NULL
         ELSE ['/', '/search', '/product', '/cart', '/checkout', '/account', '/help'][pick(id, 67, 7) + 1] END
        AS page,
    CASE WHEN u(1 + id // 4, 68) < 0.55 THEN 'desktop' WHEN u(1 + id // 4, 68) < 0.9 THEN 'mobile'
         ELSE 'tablet' END AS device,
    CASE WHEN u(id, 69) < 0.1 THEN NULL ELSE (100 + pick(id, 70, 60000))::INTEGER END AS duration_ms
FROM range(0, {n}) t(id)
ORDER BY id
"""


def demo_table_counts(scale: float = 1.0) -> dict[str, int]:
    """Row counts the generator targets at `scale` (order_items is derived: 1-4 items per order)."""
    return {
        "customers": max(int(_CUSTOMERS * scale), 10),
        "products": max(int(_PRODUCTS * scale), 10),
        "orders": max(int(_ORDERS * scale), 10),
        "web_events": max(int(_WEB_EVENTS * scale), 10),
    }


def populate_demo_warehouse(con: duckdb.DuckDBPyConnection, *, scale: float = 1.0) -> None:
    """Create the demo tables in `con`'s current schema (used for files and for in-memory test databases)."""
    n = demo_table_counts(scale)
    con.execute(_MACROS)
    con.execute(_CUSTOMERS_SQL.format(n=n["customers"]))
    con.execute(_PRODUCTS_SQL.format(n=n["products"]))
    con.execute(_ORDER_HEADERS_SQL.format(n=n["orders"], customers=n["customers"]))
    con.execute(_ORDER_ITEMS_SQL.format(products=n["products"]))
    con.execute(_ORDERS_SQL)
    con.execute(_WEB_EVENTS_SQL.format(n=n["web_events"], customers=n["customers"]))
    con.execute("DROP TABLE order_headers")
    for table, cols in DEMO_TABLES.items():
        casts = ", ".join(f"{name}::{typ} AS {name}" for name, typ in cols)
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {casts} FROM {table}")
        for name, _ in cols:
            comment = _COLUMN_COMMENTS.get((table, name))
            if comment:
                con.execute(f"COMMENT ON COLUMN {table}.{name} IS '{comment}'")


_COLUMN_COMMENTS: dict[tuple[str, str], str] = {
    ("orders", "customer_id"): "NULL for guest checkouts",
    ("orders", "amount"): "Gross order amount: sum of quantity x unit price of its items",
    ("orders", "discount"): "NULL when no discount was given",
    ("web_events", "customer_id"): "NULL for anonymous sessions",
}


def generate_demo_warehouse(path: Path, *, scale: float = 1.0) -> None:
    """Write the demo warehouse to `path` (a DuckDB file), replacing what is there.

    The database is built under a temporary name and renamed into place, so a crash never leaves a
    half-written warehouse where the gateway would pick it up.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        populate_demo_warehouse(con, scale=scale)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    tmp.replace(path)


def demo_physical_schemas() -> dict[str, pa.Schema]:
    """The Arrow schema of each demo table, keyed by table name (what `table_schema()` reports)."""
    return {
        table: pa.schema([pa.field(name, _ARROW_TYPES[typ]) for name, typ in cols])
        for table, cols in DEMO_TABLES.items()
    }
