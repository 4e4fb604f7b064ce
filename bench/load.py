"""load: rows/s a client loads into a temporary table with COPY … FROM STDIN, PostgreSQL 15 vs the gateway.

psycopg writes the same rows (int4, text, numeric, date, bool) to both servers: text COPY data in 64 kB writes,
and binary COPY through write_row (psycopg's own binary dumpers, what asyncpg's copy_records_to_table sends too).
Each round creates a fresh temp table on a fresh connection, PostgreSQL and the gateway alternating first (ABBA);
the figure is rows / median seconds from the COPY statement to its `COPY n`, and the loaded rows are checked
(count and sum) against what was sent.

    .venv/bin/python -m bench.load [--quick] [--load-rows N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from decimal import Decimal

import psycopg

from bench.common import BenchEnv, Dataset, Endpoint, Report, ResultRow, main_for, median

NAME = "load"
TABLE = "CREATE TEMP TABLE bench_load (a int, b text, c numeric, d date, e bool)"


class LoadBench:
    NAME = NAME

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--load-rows", type=int, help="rows per load (default 1,000,000; --quick: 2,000)")

    def datasets(self, opts: argparse.Namespace) -> list[Dataset]:
        return []

    def needs(self, opts: argparse.Namespace) -> set[str]:
        return {"postgres", "gateway"}

    def run(self, env: BenchEnv | None, opts: argparse.Namespace) -> Report:
        assert env is not None
        n = opts.load_rows or (2_000 if opts.quick else 1_000_000)
        rounds = 1 if opts.quick else 3
        runs = max(1, -(-opts.runs // rounds))
        text = "".join(f"{i}\tname {i}\t{i * 0.25}\t2024-01-{i % 28 + 1:02d}\t{'t' if i % 3 else 'f'}\n"
                       for i in range(n)).encode()
        records = [(i, f"name {i}", Decimal(i) / 4, dt.date(2024, 1, i % 28 + 1), bool(i % 3)) for i in range(n)]
        want = (n, Decimal(n * (n - 1)) / 8)
        rows: list[ResultRow] = []
        for fmt in ("text", "binary"):
            row = ResultRow(f"COPY FROM STDIN, {fmt}, {n:,} rows, 5 cols", "rows/s", "higher",
                            extra={"rows": n, "format": fmt})
            samples: dict[str, list[float]] = {ep.name: [] for ep in env.endpoints()}
            for rnd in range(rounds):
                order = env.endpoints() if rnd % 2 == 0 else list(reversed(env.endpoints()))
                for ep in order:
                    for k in range(runs + (0 if opts.quick else opts.warmup)):
                        secs = load_once(ep, fmt, text, records, want)
                        if opts.quick or k >= opts.warmup:
                            samples[ep.name].append(secs)
            for name, secs in samples.items():
                setattr(row, name, n / median(secs))
                runs_s = [round(s, 3) for s in secs]
                print(f"[load] {fmt} {name}: {n / median(secs) / 1e6:.3f} M rows/s (runs {runs_s})", file=sys.stderr,
                      flush=True)
            row.samples = samples
            rows.append(row)
        notes = ["one psycopg connection per load, a new temp table each time; the client and server share the "
                 "machine's cores, so figures are pairs from this run",
                 "the gateway's temporary tables live in its in-process catalog engine (DuckDB); PostgreSQL's in "
                 "its temp buffers"]
        return Report(NAME, "load: COPY … FROM STDIN into a temp table", rows,
                      params={"rows": n, "rounds": rounds, "runs_per_round": runs}, notes=notes)


def load_once(ep: Endpoint, fmt: str, text: bytes, records: list[tuple[object, ...]],
              want: tuple[int, Decimal]) -> float:
    """Seconds of one COPY … FROM STDIN of every row; raises if the table does not hold what was sent."""
    with psycopg.connect(ep.conninfo(), autocommit=True) as conn:
        conn.execute(TABLE)
        cur = conn.cursor()
        t0 = time.perf_counter()
        if fmt == "text":
            with cur.copy("COPY bench_load FROM STDIN") as cp:
                for i in range(0, len(text), 65536):
                    cp.write(text[i : i + 65536])
        else:
            with cur.copy("COPY bench_load FROM STDIN WITH (FORMAT binary)") as cp:
                cp.set_types(["int4", "text", "numeric", "date", "bool"])
                for r in records:
                    cp.write_row(r)
        secs = time.perf_counter() - t0
        got = conn.execute("SELECT count(*), sum(c) FROM bench_load").fetchone()
        if got is None or (got[0], Decimal(got[1])) != want:
            raise RuntimeError(f"{ep.name} holds {got}, expected {want}")
    return secs


BENCH = LoadBench()

if __name__ == "__main__":
    sys.exit(main_for(BENCH))
