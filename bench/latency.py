"""latency: round-trip time of `SELECT 1` and of a small semantic query, p50 / p99, by protocol flavour.

One connection per (server, query, flavour); a warm-up, then ≥ 2000 timed round trips, each timed by
the client from sending to having the whole result:
- simple: psycopg `execute()` without parameters (Query message);
- extended unnamed: libpq PQexecParams through psycopg's pq layer (Parse/Bind/Describe/Execute/Sync);
- extended prepared: psycopg `prepare=True` (Parse once, then Bind/Execute/Sync);
- asyncpg: its cached prepared statement (extended, binary results).

The small semantic query is the same question on both servers: total amount per category of a
1,000-row table (20 groups); the gateway receives it in its semantic form.

    .venv/bin/python -m bench.latency [--quick] [--round-trips N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Callable

from bench.common import BUILD_DIR, BenchEnv, Dataset, Endpoint, Report, ResultRow, main_for, percentile
from bench.profile import py_spy

NAME = "latency"
SMALL = Dataset("bench_small", 1000, kind="small")
QUERIES: dict[str, dict[str, str]] = {
    "SELECT 1": {"postgres": "SELECT 1", "gateway": "SELECT 1"},
    "small semantic query": {
        "postgres": "SELECT category, sum(amount) AS total_amount FROM bench_small GROUP BY category",
        "gateway": "SELECT category, total_amount FROM bench_small",
    },
}
FLAVOURS = ("simple", "extended unnamed", "extended prepared", "asyncpg")


class LatencyBench:
    NAME = NAME

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--round-trips", type=int, help="timed round trips per figure (default 2000; --quick: 20)")
        p.add_argument("--profile-latency", action="store_true",
                       help="py-spy the gateway during its small-semantic-query simple-protocol round trips")

    def datasets(self, opts: argparse.Namespace) -> list[Dataset]:
        return [SMALL]

    def needs(self, opts: argparse.Namespace) -> set[str]:
        return {"postgres", "gateway"}

    def run(self, env: BenchEnv | None, opts: argparse.Namespace) -> Report:
        assert env is not None
        n = opts.round_trips or (20 if opts.quick else 2000)
        warm = 0 if opts.quick else max(100, n // 10)
        rows: list[ResultRow] = []
        notes = ["client (this Python process) and server share the cores; the machine is shared "
                 "with other work, so tails are noisy"]
        for qname, sqls in QUERIES.items():
            for flavour in FLAVOURS:
                p50 = ResultRow(f"{qname}, {flavour}, p50", "µs", "lower")
                p99 = ResultRow(f"{qname}, {flavour}, p99", "µs", "lower")
                for ep in env.endpoints():
                    profiling = (getattr(opts, "profile_latency", False) and ep.name == "gateway"
                                 and qname != "SELECT 1" and flavour == "simple")
                    spy = py_spy(ep.pid, BUILD_DIR / "latency-profile.txt", notes,
                                 "small-semantic-query round trips (simple protocol)")
                    try:
                        with spy if profiling else contextlib.nullcontext():
                            lat = round_trips(ep, sqls[ep.name], flavour, n, warm)
                    except Exception as e:  # a failing server/flavour is reported, the others still run
                        p50.error = p99.error = f"{ep.name}: {type(e).__name__}: {e}"[:300]
                        print(f"[latency] {qname} {flavour} on {ep.name} failed: {e}", file=sys.stderr)
                        continue
                    us = [x * 1e6 for x in lat]
                    for row, pct in ((p50, 50.0), (p99, 99.0)):
                        setattr(row, ep.name, percentile(us, pct))
                    p50.extra[f"{ep.name}_mean_us"] = sum(us) / len(us)
                    print(f"[latency] {qname}, {flavour}, {ep.name}: p50 {percentile(us, 50):.0f} µs, "
                          f"p99 {percentile(us, 99):.0f} µs", flush=True)
                rows += [p50, p99]
        return Report(NAME, "latency: round trip", rows, params={"round_trips": n, "warmup_round_trips": warm},
                      notes=notes)


def round_trips(ep: Endpoint, sql: str, flavour: str, n: int, warm: int) -> list[float]:
    if flavour == "asyncpg":
        return asyncio.run(_asyncpg_round_trips(ep, sql, n, warm))
    import psycopg

    with psycopg.connect(ep.conninfo(), autocommit=True) as conn:
        one: Callable[[], object]
        if flavour == "simple":
            def one() -> object:
                return conn.execute(sql).fetchall()
        elif flavour == "extended prepared":
            def one() -> object:
                return conn.execute(sql, prepare=True).fetchall()
        elif flavour == "extended unnamed":
            pgconn = conn.pgconn
            query = sql.encode()

            def one() -> object:
                res = pgconn.exec_params(query, [])
                if res.status != psycopg.pq.ExecStatus.TUPLES_OK:
                    raise RuntimeError((res.error_message or b"").decode(errors="replace"))
                return res.ntuples
        else:
            raise ValueError(flavour)
        for _ in range(warm):
            one()
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            one()
            out.append(time.perf_counter() - t0)
        return out


async def _asyncpg_round_trips(ep: Endpoint, sql: str, n: int, warm: int) -> list[float]:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(host=ep.host, port=ep.port, user=ep.user, password=ep.password,
                                 database=ep.dbname, ssl=False)
    try:
        for _ in range(warm):
            await conn.fetch(sql)
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            await conn.fetch(sql)
            out.append(time.perf_counter() - t0)
        return out
    finally:
        await conn.close()


BENCH = LatencyBench()

if __name__ == "__main__":
    sys.exit(main_for(BENCH))
