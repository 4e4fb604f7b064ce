"""Micro-benchmark of the row encoder: 1 M rows x the 8-column mix of issue 6 (int8, short text, date,
timestamp, numeric(18,2), float8, int4, bool), text and binary result formats; prints rows/s.

    .venv/bin/python bench/encode_micro.py [--rows N] [--width 8|32] [--data bench|random]
        [--path compiled|numpy|both] [--batch-rows B] [--repeat K] [--profile] [--json F]

`--data bench` (default) generates the stream benchmark's own table in DuckDB (bench/common.py's column
expressions, the same values the gateway streams); `--data random` the older numpy data. `--path` picks
the compiled DataRow writer (gateway/protocol/rowkern.py, numba), the numpy assembler, or both.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this directory is first on sys.path and bench/profile.py would shadow the standard
# library's `profile` module that cProfile imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.protocol import rowenc  # noqa: E402
from gateway.protocol.rowenc import RowEncoder  # noqa: E402
from virtual_schema import pgtypes as t  # noqa: E402

TYPES = [t.PgColumnType(t.INT8), t.PgColumnType(t.TEXT), t.PgColumnType(t.DATE), t.PgColumnType(t.TIMESTAMP),
         t.PgColumnType(t.NUMERIC, t.numeric_typmod(18, 2)), t.PgColumnType(t.FLOAT8), t.PgColumnType(t.INT4),
         t.PgColumnType(t.BOOL)]


def decimals(unscaled: np.ndarray, precision: int, scale: int) -> pa.Array:
    """A decimal128 array from unscaled int64 values (two's complement words, little-endian)."""
    words = np.empty((len(unscaled), 2), np.int64)
    words[:, 0] = unscaled
    words[:, 1] = unscaled >> 63
    return pa.Array.from_buffers(pa.decimal128(precision, scale), len(unscaled), [None, pa.py_buffer(words)])


def make_batch(rows: int, seed: int = 7) -> pa.RecordBatch:
    """Data shaped like the streaming benchmark's table (ids, short names, 2 years of dates/times)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, rows + 1, dtype=np.int64)
    names = np.array([f"customer_{i}" for i in range(1000)], dtype=object)[rng.integers(0, 1000, rows)]
    days = rng.integers(19000, 19730, rows).astype(np.int32)
    ts = (days.astype(np.int64) * 86_400 + rng.integers(0, 86_400, rows)) * 1_000_000
    cents = rng.integers(-1_000_000, 100_000_000, rows)
    floats = np.round(rng.random(rows) * 1000, 3)
    ints = rng.integers(-100_000, 100_000, rows).astype(np.int32)
    bools = rng.random(rows) < 0.5
    return pa.record_batch([
        pa.array(ids), pa.array(names, pa.string()), pa.array(days, pa.date32()),
        pa.array(ts, pa.timestamp("us")), decimals(cents, 18, 2),
        pa.array(floats), pa.array(ints), pa.array(bools),
    ], names=["id", "name", "day", "ts", "amount", "ratio", "qty", "flag"])


def bench_table(rows: int, width: int) -> tuple[pa.Table, list[t.PgColumnType]]:
    """The stream benchmark's table (same expressions, same values), generated in an in-memory DuckDB."""
    import duckdb

    from bench.common import Dataset

    ds = Dataset("encode_micro", rows, width=width)
    cols = ", ".join(f"{expr} AS {name}" for name, _d, _p, expr in ds.columns())
    table = duckdb.connect().sql(f"SELECT {cols} FROM (SELECT range AS i FROM range({rows}))").to_arrow_table()
    return table, [t.pg_type_for_sql_name(ptype) for _n, _d, ptype, _e in ds.columns()]


def run(rows: int, repeat: int, profile: bool, batch_rows: int, *, data: str = "bench", width: int = 8,
        path: str = "compiled") -> dict[str, float]:
    if data == "bench":
        table, types = bench_table(rows, width)
        whole = table.combine_chunks().to_batches()[0]
    else:
        whole, types = make_batch(rows), TYPES
    batches = [whole.slice(i, batch_rows) for i in range(0, rows, batch_rows)]
    results: dict[str, float] = {}
    if path != "numpy" and rowenc._kernel(wait=True) is None:
        print("numba is not installed: the compiled path falls back to numpy")
    paths = ("compiled", "numpy") if path == "both" else (path,)
    for (label, fmt), which in [(f, p) for f in (("text", 0), ("binary", 1)) for p in paths]:
        rowenc.USE_KERNEL = which == "compiled"
        if len(paths) > 1:
            label = f"{label} {which}"
        enc = RowEncoder(types, [fmt])
        for b in batches[:2]:
            enc.encode(b)  # warm-up (lookup tables, allocator)
        times, cpu_times = [], []
        size = 0
        for _ in range(repeat):
            start, cpu = time.perf_counter(), time.process_time()
            size = sum(len(enc.encode_view(b)) for b in batches)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu)
        med, cpu_med = statistics.median(times), statistics.median(cpu_times)
        results[label] = rows / med
        results[label + "_cpu"] = rows / cpu_med
        # CPU time is the figure to compare on a shared machine: wall time includes other processes.
        print(f"{label:15s}: {rows / med / 1e6:6.2f} M rows/s wall, {rows / cpu_med / 1e6:6.2f} M rows/s CPU "
              f"({med * 1000:7.1f} ms wall per {rows} rows, {size / 1e6:.1f} MB)")
        if profile:
            prof = cProfile.Profile()
            prof.enable()
            for b in batches:
                enc.encode_view(b)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(12)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--batch-rows", type=int, default=16384, help="rows per Arrow batch, as the backend streams")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--data", choices=("bench", "random"), default="bench")
    ap.add_argument("--width", type=int, choices=(8, 32), default=8, help="columns (--data bench)")
    ap.add_argument("--path", choices=("compiled", "numpy", "both"), default="both")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results = run(args.rows, args.repeat, args.profile, args.batch_rows, data=args.data, width=args.width,
                  path=args.path)
    if args.json:
        args.json.write_text(json.dumps({"rows": args.rows, "batch_rows": args.batch_rows, "rows_per_s": results},
                                        indent=2))


if __name__ == "__main__":
    main()
