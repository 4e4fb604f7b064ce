"""memory: gateway RSS while it streams a large result to a deliberately slow reader.

The reader is the raw libpq client in single-row mode sleeping after every 1,000 rows, so it drains
far slower than DuckDB produces: a server without backpressure would buffer the whole result
(≈ 1.1 GB of DataRows for 10 M rows x 8 columns). RSS is sampled from /proc every 50 ms; the figure
is peak RSS during the stream minus RSS just before it (after a warm-up query on the same table). The
stream then runs a second time: DuckDB's block cache of the table is warm by then, so that growth is
what the statement and the result pipeline hold, apart from the cache (which DuckDB bounds by its
memory_limit, not by the result).

    .venv/bin/python -m bench.memory [--quick] [--rows 10000000] [--sleep-us 2000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.common import (
    ROOT,
    BenchEnv,
    Dataset,
    GatewayServer,
    Report,
    ResultRow,
    compile_c_client,
    main_for,
    parse_run_lines,
    process_rss,
    sampling_rss,
)
from bench.stream import wait_idle

NAME = "memory"
MB = 1024 * 1024


class MemoryBench:
    NAME = NAME

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--big-rows", type=int, help="rows streamed (default 10,000,000; --quick: 20,000)")
        p.add_argument("--sleep-us", type=int,
                       help="reader sleep after every 1,000 rows, µs (default 2000: ≤ 0.5 M rows/s; --quick: 100)")
        p.add_argument("--memory-limit", default="64MB",
                       help="DuckDB memory_limit of a second gateway whose first stream is measured too (default 64MB)")
        p.add_argument("--batch-rows", type=int, default=16384,
                       help="Arrow batch size of the DuckDB-alone run (the gateway's default batch_rows)")

    def _rows(self, opts: argparse.Namespace) -> int:
        return int(opts.big_rows or (20_000 if opts.quick else 10_000_000))

    def datasets(self, opts: argparse.Namespace) -> list[Dataset]:
        return [Dataset("bench_big", self._rows(opts), in_postgres=False)]

    def needs(self, opts: argparse.Namespace) -> set[str]:
        return {"gateway"}

    def run(self, env: BenchEnv | None, opts: argparse.Namespace) -> Report:
        assert env is not None and env.gw is not None
        ds = self.datasets(opts)[0]
        sleep_us = opts.sleep_us if opts.sleep_us is not None else (100 if opts.quick else 2000)
        client = str(compile_c_client())
        sql = ds.select_sql()
        _warm_up(client, env.gw.conninfo(), sql, env.gw.pid)
        before = process_rss(env.gw.pid)
        done, peak, secs, n_samples = _slow_stream(client, env.gw.conninfo(), env.gw.pid, sql, sleep_us, before)
        time.sleep(0.5)
        after = process_rss(env.gw.pid)
        again, peak2, _secs, n_samples2 = _slow_stream(client, env.gw.conninfo(), env.gw.pid, sql, sleep_us, after)
        alone = subprocess.run([sys.executable, "-m", "bench.clients.duckdb_rss", str(env.duckdb_path),
                                str(env.models_dir), sql, str(opts.batch_rows)], capture_output=True, text=True,
                               check=False, cwd=ROOT)
        duck_growth: float | None = None
        duck_growth2: float | None = None
        parts = alone.stdout.split()
        if alone.returncode == 0 and len(parts) == 4:
            duck_growth = (int(parts[2]) - int(parts[1])) / MB
            duck_growth2 = int(parts[3]) / MB
        limited = _first_stream_growth(env, client, sql, sleep_us, opts.memory_limit)
        got = parse_run_lines(done.stdout)
        received = got[0][0] if got else 0
        rows = [
            ResultRow("gateway RSS before the stream", "MB", "lower", gateway=before / MB),
            ResultRow("gateway RSS peak while streaming", "MB", "lower", gateway=peak / MB),
            ResultRow("RSS growth (peak - before)", "MB", "lower", gateway=(peak - before) / MB,
                      postgres=duck_growth,
                      error=None if duck_growth is not None else f"DuckDB-alone run failed: {alone.stderr[-200:]}"),
            ResultRow("gateway RSS after the stream", "MB", "lower", gateway=after / MB),
            ResultRow("RSS growth, second stream (block cache warm)", "MB", "lower", gateway=(peak2 - after) / MB,
                      postgres=duck_growth2,
                      error=None if again.returncode == 0 else again.stderr.strip()[-200:]),
            ResultRow(f"RSS growth, first stream, gateway with duckdb_memory_limit {opts.memory_limit}", "MB", "lower",
                      gateway=limited[0], error=limited[1]),
            ResultRow("rows received by the slow reader", "rows", "higher", gateway=float(received)),
            ResultRow("slow reader rate", "rows/s", "higher", gateway=received / secs if secs else None),
        ]
        if done.returncode != 0 or received != ds.rows:
            rows[6].error = (done.stderr.strip() or f"received {received} of {ds.rows}")[:300]
        print(f"[memory] before {before / MB:.1f} MB, peak {peak / MB:.1f} MB, growth {(peak - before) / MB:.1f} MB, "
              f"{received} rows in {secs:.1f} s; second stream growth {(peak2 - after) / MB:.1f} MB", flush=True)
        return Report(NAME, "memory: gateway RSS, slow reader", rows,
                      params={"rows": ds.rows, "columns": ds.width, "reader_sleep_us_per_1000_rows": sleep_us,
                              "samples": n_samples + n_samples2},
                      notes=["first column: a fresh process running the same warehouse SQL (compiled by the "
                             "gateway's compiler) straight in DuckDB and reading every batch, i.e. the warehouse's "
                             "own memory for this statement (a DISTINCT/GROUP BY hash table, buffers); the gateway's "
                             "pipeline adds the difference",
                             "PostgreSQL is not involved: its backend streams from a heap scan and holds no result",
                             "duckdb_memory_limit row: a second gateway process on the same warehouse whose DuckDB "
                             "memory_limit bounds the buffer pool, so the block cache cannot grow with the table: what "
                             "is left is the statement and the result pipeline"],
                      columns=("DuckDB alone", "gateway"))


def _warm_up(client: str, conninfo: str, sql: str, pid: int) -> None:
    """The same query once, stopped early by LIMIT, so caches and pools exist before the baseline; then wait
    until the server is idle (the first large result loads the compiled row writer, once per process)."""
    warm = subprocess.run([client, conninfo, sql + " LIMIT 100000", "1", "exec"], capture_output=True, text=True,
                          check=False)
    if warm.returncode != 0:
        raise RuntimeError(f"warm-up query failed: {warm.stderr}")
    wait_idle(pid)
    time.sleep(0.5)


def _slow_stream(client: str, conninfo: str, pid: int, sql: str, sleep_us: int,
                 baseline: int) -> tuple[subprocess.CompletedProcess[str], int, float, int]:
    """The slow reader's stream with the server's RSS sampled: its run, the peak RSS (at least `baseline`), the
    seconds it took and the number of samples."""
    t0 = time.perf_counter()
    with sampling_rss(pid) as samples:
        done = subprocess.run([client, conninfo, sql, "1", "single", str(sleep_us)], capture_output=True, text=True,
                              check=False)
    return done, max([rss for _t, rss in samples] + [baseline]), time.perf_counter() - t0, len(samples)


def _first_stream_growth(env: BenchEnv, client: str, sql: str, sleep_us: int,
                         memory_limit: str) -> tuple[float | None, str | None]:
    """Peak RSS growth of a fresh gateway, DuckDB's memory_limit set, over its first stream of the table
    (after the same warm-up as the main run); the error text instead when the stream fails."""
    gw = GatewayServer(env.workdir / "gateway-memory-limit", env.models_dir, env.duckdb_path,
                       env={"SSG_DUCKDB_MEMORY_LIMIT": memory_limit})
    ep = gw.start()
    try:
        _warm_up(client, ep.conninfo(), sql, ep.pid)
        before = process_rss(ep.pid)
        done, peak, _secs, _n = _slow_stream(client, ep.conninfo(), ep.pid, sql, sleep_us, before)
        if done.returncode != 0:
            return None, (done.stderr.strip() or gw.log_tail())[-300:]
        return (peak - before) / MB, None
    except RuntimeError as e:
        return None, str(e)[-300:]
    finally:
        gw.stop()


BENCH = MemoryBench()

if __name__ == "__main__":
    sys.exit(main_for(BENCH))
