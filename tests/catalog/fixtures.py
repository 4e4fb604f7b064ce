"""A small VirtualSchema covering PKs, FKs, descriptions and every column type we emit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from virtual_schema.catalog.api import SessionInfo
from virtual_schema.catalog.engine import CatalogEngine, CatalogSession
from virtual_schema.pgtypes import PgColumnType, numeric_typmod, varchar_typmod
from virtual_schema.schema import ColumnKind, ForeignKey, VirtualColumn, VirtualSchema, VirtualTable

D, M, EN, T = ColumnKind.DIMENSION, ColumnKind.MEASURE, ColumnKind.ENTITY, ColumnKind.TIME_DIMENSION


def col(
    name: str, oid: int, kind: ColumnKind = D, typmod: int = -1, description: str | None = None, nullable: bool = True
) -> VirtualColumn:
    return VirtualColumn(name, PgColumnType(oid, typmod), kind, description, nullable)


def fixture_schema(version: int = 1, extra_table: bool = False) -> VirtualSchema:
    customers = VirtualTable(
        "customers",
        (
            col("customer_id", 20, EN, description="Customer key", nullable=False),
            col("name", 25, description="Full name"),
            col("email", 1043, typmod=varchar_typmod(255)),
            col("signed_up_at", 1184, T),
            col("balance", 1700, M, typmod=numeric_typmod(18, 2)),
        ),
        description="One row per customer",
        primary_key=("customer_id",),
        row_estimate=1000.0,
    )
    orders = VirtualTable(
        "orders",
        (
            col("order_id", 20, EN, nullable=False),
            col("customer_id", 20, EN),
            col("ordered_at", 1114, T, description="When the order was placed"),
            col("order_date", 1082, T),
            col("amount", 701, M),
            col("quantity", 23, M),
            col("small_qty", 21, M),
            col("is_gift", 16),
            col("token", 2950),
            col("payload", 3802),
            col("raw", 17),
            col("ship_time", 1083),
            col("lead_time", 1186),
            col("weight", 700),
            col("tags", 1009),
            col("total", 1700, M),
            col("code", 1042, typmod=varchar_typmod(3)),
            col("meta", 114),
        ),
        description="Orders placed by customers",
        primary_key=("order_id",),
        foreign_keys=(ForeignKey("orders_customer_id_fkey", ("customer_id",), "customers", ("customer_id",)),),
    )
    kibana = VirtualTable(
        "KibanaSampleDataEcommerce",
        (
            col("order_date", 1114, T),
            col("last_mod", 1114, T),
            col("customer_gender", 25),
            col("notes", 25),
            col("taxful_total_price", 1700),
            col("has_subscription", 16),
            col("count", 20, M),
            col("maxPrice", 1700, M),
            col("sumPrice", 1700, M),
            col("minPrice", 1700, M),
            col("avgPrice", 1700, M),
            col("countDistinct", 20, M),
            col("is_male", 16),
            col("is_female", 16),
            col("__user", 25),
            col("__cubeJoinField", 25),
        ),
        description="Kibana sample e-commerce data",
    )
    logs = VirtualTable(
        "Logs",
        (
            col("id", 701),
            col("read", 16),
            col("content", 25),
            col("agentCount", 20, M),
            col("agentCountApprox", 20, M),
            col("__cubeJoinField", 25),
        ),
    )
    tables = [customers, orders, kibana, logs]
    if extra_table:
        tables.append(VirtualTable("returns", (col("return_id", 20, EN, nullable=False),), primary_key=("return_id",)))
    return VirtualSchema(tuple(tables), version=version)


@contextlib.contextmanager
def catalog_session(settings: dict[str, str] | None = None) -> Iterator[CatalogSession]:
    """A catalog engine over the fixture schema and one session on it, as user postgres in database postgres."""
    eng = CatalogEngine(fixture_schema(), database="postgres", users=("postgres",))
    try:
        yield eng.open_session(SessionInfo(pid=1, user="postgres", database="postgres", settings=dict(settings or {})))
    finally:
        eng.close()
