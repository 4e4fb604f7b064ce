"""Synthetic DuckDB tables for MetricFlow's own `simple_manifest` (shipped in the metricflow wheel).

MetricFlow's table snapshots for this manifest live in its repository's test tree, not in the wheel, so
the tables are derived from the manifest itself: every column a model's entities, dimensions and measures
read gets a type from how it is used (entity keys BIGINT, time dimensions TIMESTAMP, `is_*` BOOLEAN,
measure inputs DOUBLE, other dimensions VARCHAR) and deterministic pseudo-random values over a small key
range so that joins between models match. Both MetricFlow and the compiler then answer over the same rows.
Also creates the time spine tables the manifest's project configuration names.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import metricflow_semantics
import sqlglot
from sqlglot import exp

from virtual_schema.loader import SemanticModelSet, load_models
from virtual_schema.spec import DimensionType

SIMPLE_MANIFEST = (
    Path(metricflow_semantics.__file__).parent / "test_helpers" / "semantic_manifest_yamls" / "simple_manifest"
)
ROWS = 400
KEYS = 25  # entity values 1..KEYS so that foreign keys find their primary rows
DAYS = 80
# The spine ends on the last day that has data (row 0 of every table sits there), as the compiler's spine does.
SPINE_START, SPINE_END = "2019-12-01", "2020-02-18"


def _columns(sql: str) -> list[str]:
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError:
        return []
    return [c.name for c in tree.find_all(exp.Column)]


def column_types(models: SemanticModelSet) -> dict[str, dict[str, str]]:
    """Physical columns and DuckDB types per relation (`KEY`: a unique key column, 1..KEYS)."""
    out: dict[str, dict[str, str]] = {}
    for m in models.models:
        cols: dict[str, str] = {}
        for e in m.entities:
            for c in _columns(e.sql):
                cols[c] = "KEY" if e.type.value in ("primary", "unique") else "BIGINT"
        for d in m.dimensions:
            for c in _columns(d.sql):
                if d.type is DimensionType.TIME:
                    cols.setdefault(c, "TIMESTAMP")
                elif c.startswith("is_"):
                    cols.setdefault(c, "BOOLEAN")
                else:
                    cols.setdefault(c, "VARCHAR")
        for ms in m.measures:
            for c in _columns(ms.sql):
                if c.startswith("is_"):
                    cols[c] = "BOOLEAN"
                elif cols.get(c) not in ("BIGINT", "TIMESTAMP"):
                    cols[c] = "DOUBLE"
        out[m.relation.name] = cols
    return out


def _value(col: str, typ: str, salt: int) -> str:
    h = f"hash(i * 7919 + {salt})"
    if typ == "KEY":
        return "i + 1"
    if typ == "BIGINT":
        return f"CASE WHEN {h} % 20 = 0 THEN NULL ELSE (1 + {h} % {KEYS})::BIGINT END"
    if typ == "TIMESTAMP":
        offset = f"CASE WHEN i = 0 THEN {DAYS} * 86400 - 1 ELSE {h} % ({DAYS} * 86400) END"
        return f"TIMESTAMP '{SPINE_START}' + to_microseconds(({offset})::BIGINT * 1000000)"
    if typ == "BOOLEAN":
        return f"{h} % 3 = 0"
    if typ == "DOUBLE":
        return f"round(({h} % 100000) / 100.0, 2)"
    return f"CASE WHEN {h} % 15 = 0 THEN NULL ELSE ['us', 'ca', 'mx', 'fr'][(1 + {h} % 4)::BIGINT] END"


def populate(con: duckdb.DuckDBPyConnection, schema: str = "main") -> SemanticModelSet:
    models = load_models(SIMPLE_MANIFEST)
    for table, cols in column_types(models).items():
        select = ", ".join(
            f"({_value(c, t, 1000 * len(table) + k)})::{'BIGINT' if t == 'KEY' else t} AS {c}"
            for k, (c, t) in enumerate(cols.items())
        )
        rows = KEYS if "KEY" in cols.values() else ROWS
        con.execute(f"CREATE OR REPLACE TABLE {schema}.{table} AS SELECT {select} FROM range({rows}) t(i)")
    # Time spines named by the manifest's project configuration.
    con.execute(
        f"CREATE OR REPLACE TABLE {schema}.mf_time_spine AS SELECT d::DATE AS ds, d::DATE AS alien_day "
        f"FROM range(DATE '{SPINE_START}', DATE '{SPINE_END}' + 1, INTERVAL 1 DAY) t(d)"
    )
    for grain in ("nanosecond", "microsecond", "millisecond", "second", "minute", "hour"):
        con.execute(
            f"CREATE OR REPLACE TABLE {schema}.mf_time_spine_{grain} AS SELECT d AS ts "
            f"FROM range(TIMESTAMP '{SPINE_START}', TIMESTAMP '{SPINE_START}' + INTERVAL 2 DAY, INTERVAL 1 HOUR) t(d)"
        )
    return models
