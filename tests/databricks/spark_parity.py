"""Spark-side harness for dialect parity: the demo warehouse in Spark, and the differential cases run on it.

The demo DuckDB warehouse is exported table by table to Parquet and registered in Spark's default
database with `CREATE TABLE … USING parquet LOCATION …` (issued through the Databricks backend, so
the same connector path is exercised). Each case of tests/semantic/cases.py is compiled twice — for
"duckdb" (run on the DuckDB file) and for "databricks" (run on Spark) — and the two results compared
with the differential suite's comparison (sorted multisets, float tolerance; decimals of any width
compare as numbers, dates as midnight datetimes). Day-of-week numbering is not normalized: the
Databricks rendering itself answers PostgreSQL's 0-6 (see extract_fields.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb

from gateway.backends.databricks import DatabricksSession

MODELS_DIR = Path(__file__).resolve().parents[2] / "semantic-models"


def export_parquet(duckdb_path: Path, outdir: Path) -> dict[str, Path]:
    """One Parquet directory per demo table (Spark tables take a directory as LOCATION)."""
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
        ).fetchall()]
        out: dict[str, Path] = {}
        for t in tables:
            d = outdir / t
            d.mkdir(parents=True, exist_ok=True)
            con.execute(f"COPY {t} TO '{d / 'part-0.parquet'}' (FORMAT parquet)")
            out[t] = d
        return out
    finally:
        con.close()


async def load_into_spark(session: DatabricksSession, tables: dict[str, Path]) -> None:
    for name, location in tables.items():
        async for _ in session.execute(f"DROP TABLE IF EXISTS {name}"):
            pass
        async for _ in session.execute(f"CREATE TABLE {name} USING parquet LOCATION '{location}'"):
            pass


def _layers() -> tuple[Any, Any]:
    from virtual_schema.demo_warehouse import demo_physical_schemas
    from virtual_schema.loader import load_models
    from virtual_schema.semantic_layer import build_semantic_layer

    models = load_models(MODELS_DIR)
    schemas = demo_physical_schemas()
    return build_semantic_layer(models, schemas, "duckdb"), build_semantic_layer(models, schemas, "databricks")


def spark_rows(spark: Any, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one statement on the local SparkSession, read as Arrow (as the connector hands them over)."""
    return [tuple(r.values()) for r in spark.sql(sql).toArrow().to_pylist()]


def run_parity(spark: Any, duckdb_path: Path) -> dict[str, Any]:
    """Per case: whether Spark's rows equal DuckDB's, and why not.

    The cases run directly on the SparkSession that hosts the Thrift Server: the connector path is
    proven by the other sections (and by a few of these cases through the gateway), and going
    around Thrift saves its per-statement polling and row-by-row result conversion.
    """
    from tests.semantic.cases import CASES
    from tests.semantic.oracle import rows_equal

    duck_layer, dbx_layer = _layers()
    con = duckdb.connect(str(duckdb_path), read_only=True)
    results: dict[str, Any] = {}
    try:
        for case in CASES:
            t0 = time.monotonic()
            entry: dict[str, Any] = {}
            try:
                expected = [tuple(r) for r in con.execute(duck_layer.compile(case.sql).sql).fetchall()]
                sql = dbx_layer.compile(case.sql).sql
                entry["sql"] = sql
                got = spark_rows(spark, sql)
                ok, why = rows_equal(got, expected)
                if ok and case.ordered:
                    for i, (a, b) in enumerate(zip(got, expected, strict=True)):
                        same, _ = rows_equal([a], [b])
                        if not same:
                            ok, why = False, f"row {i} out of order: {a} vs {b}"
                            break
                entry.update(ok=ok, why=why, rows=len(got))
                if not ok:
                    entry["spark_head"] = [repr(r) for r in got[:5]]
                    entry["duckdb_head"] = [repr(r) for r in expected[:5]]
            except Exception as e:  # reported per case
                entry.update(ok=False, why=f"{type(e).__name__}: {str(e)[:2000]}")
            entry["seconds"] = round(time.monotonic() - t0, 2)
            results[case.name] = entry
    finally:
        con.close()
    return results


def run_extract_fields(spark: Any) -> dict[str, Any]:
    """Each EXTRACT/date_part statement rendered for Databricks, answered by Spark: name → rows or error."""
    from tests.databricks.extract_fields import databricks_sql, statements

    out: dict[str, Any] = {}
    for name, pg_sql in statements().items():
        sql = databricks_sql(pg_sql)
        try:
            out[name] = {"sql": sql, "rows": [[i, str(v) if v is not None else None]
                                              for i, v in sorted(spark_rows(spark, sql), key=lambda r: r[0])]}
        except Exception as e:  # reported per statement
            out[name] = {"sql": sql, "error": f"{type(e).__name__}: {str(e)[:500]}"}
    return out
