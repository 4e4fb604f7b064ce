"""Shapes over the SQL BI tools really send (../shared/bi-corpus, semantic statements over tests/bi_models): each
statement with other literal values, answered from the original's cached shape, equals a full compile of its
text, in both dialects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.corpus.corpus import manifest
from virtual_schema.compiler.api import CompiledQuery
from virtual_schema.compiler.shape import literal_variants
from virtual_schema.errors import PgError
from virtual_schema.loader import load_models
from virtual_schema.semantic_layer import SemanticLayer, build_semantic_layer

BI_MODELS = Path(__file__).resolve().parents[1] / "bi_models"
ENTRIES = [e for e in manifest() if e.kind == "semantic"]


@pytest.fixture(scope="module")
def layers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SemanticLayer]]:
    from tests.bi_models.data import generate_bi_dataset

    path = tmp_path_factory.mktemp("bi_shapes") / "bi.duckdb"
    generate_bi_dataset(path)
    con = duckdb.connect(str(path), read_only=True)
    models = load_models(BI_MODELS)
    phys = {r: con.sql(f"SELECT * FROM {r} LIMIT 0").to_arrow_table().schema for r in models.relations()}
    con.close()
    yield {d: build_semantic_layer(models, phys, d, cache_size=0) for d in ("duckdb", "databricks")}


def _outcome(layer: SemanticLayer, sql: str) -> CompiledQuery | tuple[str, str]:
    try:
        return layer.compile(sql)
    except PgError as e:
        return (e.sqlstate, e.message)


@pytest.mark.skipif(not ENTRIES, reason="BI corpus not present")
@pytest.mark.parametrize("dialect", ["duckdb", "databricks"])
def test_corpus_variants_fill_like_full_compiles(dialect: str, layers: dict[str, SemanticLayer]) -> None:
    fresh = layers[dialect]
    compared: list[Any] = []
    hits = 0
    for entry in ENTRIES:
        sql = entry.sql
        for variant in literal_variants(sql, 1):
            cached = fresh.with_empty_cache(8)
            _outcome(cached, sql)
            got = _outcome(cached, variant)
            hits += cached.stats.shape_hits
            assert got == _outcome(fresh, variant), (entry.file, variant)
            compared.append(entry.file)
    assert len(compared) > 50 and hits > 50  # the corpus does exercise shapes
