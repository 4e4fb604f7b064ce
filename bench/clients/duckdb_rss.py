"""What DuckDB alone holds for a statement: RSS growth of a fresh process that compiles the listing
with the gateway's own compiler and reads the warehouse SQL's record batches as fast as it can.

    python -m bench.clients.duckdb_rss DUCKDB_FILE MODELS_DIR SQL BATCH_ROWS

Prints "<rows> <rss_before_bytes> <peak_rss_bytes> <second_growth_bytes>": the statement runs twice,
the second growth is with DuckDB's block cache of the table already warm. Separates the warehouse's own
memory (its block cache, per-thread execution state, a hash table for DISTINCT / GROUP BY) from what the
gateway's pipeline buffers.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import duckdb


def _rss() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str]) -> int:
    from virtual_schema.loader import load_models
    from virtual_schema.semantic_layer import build_semantic_layer

    path, models_dir, sql, batch_rows = argv[0], Path(argv[1]), argv[2], int(argv[3])
    con = duckdb.connect(path, read_only=True)
    models = load_models(models_dir)
    physical = {rel: con.sql(f"SELECT * FROM {rel} LIMIT 0").to_arrow_table().schema for rel in models.relations()}
    compiled = build_semantic_layer(models, physical, "duckdb").compile(sql)
    before = _rss()
    rows = _read(con, compiled.sql, batch_rows)
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, before)
    again = _rss()
    peak2 = again
    reader = con.cursor().sql(compiled.sql).to_arrow_reader(batch_rows)
    for i, _batch in enumerate(reader):
        if i % 8 == 0:
            peak2 = max(peak2, _rss())
    print(f"{rows} {before} {peak} {peak2 - again}")
    return 0


def _read(con: duckdb.DuckDBPyConnection, sql: str, batch_rows: int) -> int:
    rows = 0
    for batch in con.cursor().sql(sql).to_arrow_reader(batch_rows):
        rows += batch.num_rows
    return rows


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
