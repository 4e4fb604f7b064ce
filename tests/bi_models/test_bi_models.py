"""The BI-corpus test models load, match the BI dataset's physical tables, and expose Cube's names."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from tests.bi_models.data import generate_bi_dataset
from virtual_schema.loader import load_models

HERE = Path(__file__).parent
CUBE_TABLES = {"KibanaSampleDataEcommerce", "Logs", "NumberCube", "WideCube", "MultiTypeCube", "Orders"}


@pytest.fixture(scope="module")
def bi_con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    path = tmp_path_factory.mktemp("bi") / "bi.duckdb"
    generate_bi_dataset(path)
    return duckdb.connect(str(path), read_only=True)


def _without_sql_names(dst: Path) -> Path:
    for f in HERE.glob("*.yaml"):
        text = re.sub(r", ?sql_name: [A-Za-z_]+", "", f.read_text())
        (dst / f.name).write_text(re.sub(r"(?m)^sql_name: .*$", "", text))
    return dst


def test_models_match_dataset(bi_con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    from virtual_schema.semantic_layer import build_semantic_layer

    models = load_models(_without_sql_names(tmp_path))
    tables = {r[0] for r in bi_con.execute("SHOW TABLES").fetchall()}
    physical = {t: bi_con.sql(f"SELECT * FROM {t} LIMIT 0").to_arrow_table().schema for t in tables}
    assert models.relations() <= tables
    layer = build_semantic_layer(models, physical, "duckdb")
    compiled = layer.compile("SELECT customer_gender, maxprice, count FROM kibanasampledataecommerce GROUP BY 1")
    got = sorted(bi_con.execute(compiled.sql).fetchall(), key=str)
    want = sorted(bi_con.execute(
        "SELECT customer_gender, MAX(taxful_total_price), COUNT(id) FROM kibana_sample_data_ecommerce GROUP BY 1"
    ).fetchall(), key=str)
    assert got == want


def test_dataset_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    generate_bi_dataset(a)
    generate_bi_dataset(b)
    sums = []
    for p in (a, b):
        con = duckdb.connect(str(p), read_only=True)
        sums.append(con.execute("SELECT sum(hash(t)) FROM kibana_sample_data_ecommerce t").fetchall())
        con.close()
    assert sums[0] == sums[1]


def test_cube_names_are_exposed(bi_con: duckdb.DuckDBPyConnection) -> None:
    from virtual_schema.semantic_layer import build_semantic_layer

    models = load_models(HERE)
    tables = {r[0] for r in bi_con.execute("SHOW TABLES").fetchall()}
    physical = {t: bi_con.sql(f"SELECT * FROM {t} LIMIT 0").to_arrow_table().schema for t in tables}
    layer = build_semantic_layer(models, physical, "duckdb")
    assert {t.name for t in layer.schema.tables} >= CUBE_TABLES
    kibana = layer.schema.table("KibanaSampleDataEcommerce")
    assert kibana is not None
    assert {"maxPrice", "countDistinct", "__user", "__cubeJoinField", "is_male"} <= {c.name for c in kibana.columns}
