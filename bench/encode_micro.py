"""Micro-benchmark of the row encoder: 1 M rows x the 8-column mix of issue 6 (int8, short text, date,
timestamp, numeric(18,2), float8, int4, bool), text and binary result formats; prints rows/s.

    .venv/bin/python bench/encode_micro.py [--rows N] [--batch-rows B] [--repeat K] [--profile] [--json F]
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


def run(rows: int, repeat: int, profile: bool, batch_rows: int) -> dict[str, float]:
    whole = make_batch(rows)
    batches = [whole.slice(i, batch_rows) for i in range(0, rows, batch_rows)]
    results: dict[str, float] = {}
    for label, fmt in (("text", 0), ("binary", 1)):
        enc = RowEncoder(TYPES, [fmt])
        for b in batches[:2]:
            enc.encode(b)  # warm-up (lookup tables, allocator)
        times, cpu_times = [], []
        size = 0
        for _ in range(repeat):
            start, cpu = time.perf_counter(), time.process_time()
            size = sum(len(enc.encode(b)) for b in batches)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu)
        med, cpu_med = statistics.median(times), statistics.median(cpu_times)
        results[label] = rows / med
        results[label + "_cpu"] = rows / cpu_med
        # CPU time is the figure to compare on a shared machine: wall time includes other processes.
        print(f"{label:6s}: {rows / med / 1e6:6.2f} M rows/s wall, {rows / cpu_med / 1e6:6.2f} M rows/s CPU "
              f"({med * 1000:7.1f} ms wall per {rows} rows, {size / 1e6:.1f} MB)")
        if profile:
            prof = cProfile.Profile()
            prof.enable()
            for b in batches:
                enc.encode(b)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(12)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--batch-rows", type=int, default=65536, help="rows per Arrow batch, as the backend streams")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results = run(args.rows, args.repeat, args.profile, args.batch_rows)
    if args.json:
        args.json.write_text(json.dumps({"rows": args.rows, "batch_rows": args.batch_rows, "rows_per_s": results},
                                        indent=2))


if __name__ == "__main__":
    main()
