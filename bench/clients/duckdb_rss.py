"""What DuckDB alone holds for a statement: RSS growth of a fresh process that compiles the listing
with the gateway's own compiler and reads the warehouse SQL's record batches as fast as it can.

    python -m bench.clients.duckdb_rss DUCKDB_FILE MODELS_DIR SQL BATCH_ROWS

Prints "<rows> <rss_before_bytes> <peak_rss_bytes>". Separates the warehouse's own memory (e.g. a
hash table for DISTINCT / GROUP BY) from what the gateway's pipeline buffers.
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
    rows = 0
    reader = con.cursor().sql(compiled.sql).to_arrow_reader(batch_rows)
    for batch in reader:
        rows += batch.num_rows
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"{rows} {before} {max(peak, before)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
