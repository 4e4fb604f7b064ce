from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from virtual_schema.loader import SemanticModelSet, load_models
from virtual_schema.semantic_layer import SemanticLayer, build_semantic_layer

MODELS = Path(__file__).parent / "models"

FIXTURE_SQL = """
create table regions as select * from (values (1, 'north'), (2, 'south')) t(region_id, name);
create table customers as
  select i as customer_id, 'c' || i as name, case when i % 2 = 0 then 'smb' else 'ent' end as segment,
         (date '2024-01-01' + (i * 3)::int)::date as signup_date,
         case when i % 3 = 0 then null else 1 + i % 2 end as region_id
  from range(1, 11) t(i);
create table orders as
  select i as order_id, 1 + (i * 7) % 10 as customer_id,
         case when i % 3 = 0 then 'completed' when i % 3 = 1 then 'returned' else 'placed' end as status,
         timestamp '2024-01-01 10:00' + to_days((i * 2)::int) as order_ts,
         (i * 37 % 200)::decimal(10, 2) as amount, (i % 5)::int as discount
  from range(1, 81) t(i);
"""


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    c.execute(FIXTURE_SQL)
    yield c
    c.close()


@pytest.fixture(scope="module")
def models() -> SemanticModelSet:
    return load_models(MODELS)


def _layer(con: duckdb.DuckDBPyConnection, models: SemanticModelSet, dialect: str) -> SemanticLayer:
    phys = {r: con.sql(f"select * from {r} limit 0").arrow().schema for r in models.relations()}
    return build_semantic_layer(models, phys, dialect)


@pytest.fixture(scope="module")
def layer(con: duckdb.DuckDBPyConnection, models: SemanticModelSet) -> SemanticLayer:
    return _layer(con, models, "duckdb")


@pytest.fixture(scope="module")
def dbx_layer(con: duckdb.DuckDBPyConnection, models: SemanticModelSet) -> SemanticLayer:
    return _layer(con, models, "databricks")
