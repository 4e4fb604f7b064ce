"""concurrency: many sessions at once, each running small semantic queries back to back.

All connections are opened first (SCRAM, at most 50 handshakes in flight), then released together;
each runs `--queries` small queries (asyncpg: extended protocol, prepared statement cached per
connection). Two phases per server:
- paced: each session thinks a random 0..2 x `--think-ms` between queries (like dashboard users), so
  the offered load is sessions / think time; per-query p50 / p99 here is the latency users feel;
- saturated: no think time, every session back to back; throughput is the server's capacity (and
  latency there is just sessions / throughput, so it is not a latency figure).
Errors and connect time are reported too. The client is one asyncio process, so at high rates it is
part of what is measured, equally for both servers.

    .venv/bin/python -m bench.concurrency [--quick] [--connections 500] [--queries 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import time
from dataclasses import dataclass, field

from bench.common import (
    BUILD_DIR,
    BenchEnv,
    Dataset,
    Endpoint,
    Report,
    ResultRow,
    main_for,
    percentile,
    raise_fd_limit,
)
from bench.latency import QUERIES, SMALL
from bench.profile import py_spy

NAME = "concurrency"


class ConcurrencyBench:
    NAME = NAME

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--connections", type=int, help="concurrent sessions (default 500; --quick: 10)")
        p.add_argument("--queries", type=int, help="queries per session and phase (default 20; --quick: 3)")
        p.add_argument("--think-ms", type=float, help="mean think time in the paced phase (default 1000; --quick: 5)")
        p.add_argument("--pg-max-connections", type=int, default=600,
                       help="max_connections of the PostgreSQL started for the comparison (default 600)")
        p.add_argument("--profile-saturated", action="store_true",
                       help="py-spy the gateway during its saturated phase")

    def datasets(self, opts: argparse.Namespace) -> list[Dataset]:
        return [SMALL]

    def needs(self, opts: argparse.Namespace) -> set[str]:
        return {"postgres", "gateway"}

    def run(self, env: BenchEnv | None, opts: argparse.Namespace) -> Report:
        assert env is not None
        conns = opts.connections or (10 if opts.quick else 500)
        per = opts.queries or (3 if opts.quick else 20)
        think = (opts.think_ms if opts.think_ms is not None else (5.0 if opts.quick else 1000.0)) / 1e3
        raise_fd_limit(conns * 2 + 256)
        rows = {
            "p50": ResultRow(f"paced ({conns} sessions, think ~{think * 1e3:.0f} ms): per-query p50", "ms", "lower"),
            "p99": ResultRow(f"paced ({conns} sessions, think ~{think * 1e3:.0f} ms): per-query p99", "ms", "lower"),
            "paced_qps": ResultRow("paced: achieved queries/s", "queries/s", "higher"),
            "qps": ResultRow(f"saturated ({conns} sessions back to back): throughput", "queries/s", "higher"),
            "sat_p99": ResultRow("saturated: per-query p99 (≈ sessions / throughput)", "ms", "lower"),
            "errors": ResultRow("errors (connect + query, both phases)", "count", "lower"),
            "connect": ResultRow(f"time to open {conns} sessions", "ms", "lower"),
        }
        notes = ["one asyncpg client process drives all sessions; the machine has 2 cores shared with other work"]
        for ep in env.endpoints():
            spy: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
            if opts.profile_saturated and ep.name == "gateway":
                spy = py_spy(ep.pid, BUILD_DIR / "concurrency-profile.txt", notes,
                             f"the saturated phase ({conns} sessions back to back)")
            outcome = asyncio.run(hammer(ep, QUERIES["small semantic query"][ep.name], conns, per, think, spy))
            paced_ms = [x * 1e3 for x in outcome.paced]
            sat_ms = [x * 1e3 for x in outcome.saturated]
            values = {
                "p50": percentile(paced_ms, 50) if paced_ms else None,
                "p99": percentile(paced_ms, 99) if paced_ms else None,
                "paced_qps": len(paced_ms) / outcome.paced_seconds if outcome.paced_seconds else None,
                "qps": len(sat_ms) / outcome.saturated_seconds if outcome.saturated_seconds else None,
                "sat_p99": percentile(sat_ms, 99) if sat_ms else None,
                "errors": float(len(outcome.errors)),
                "connect": outcome.connect_seconds * 1e3,
            }
            for key, value in values.items():
                setattr(rows[key], ep.name, value)
            if outcome.errors:
                rows["errors"].extra[f"{ep.name}_examples"] = sorted(set(outcome.errors))[:5]
            print(f"[concurrency] {ep.name}: " + ", ".join(f"{k} {v:.1f}" for k, v in values.items() if v is not None),
                  flush=True)
        return Report(NAME, "concurrency: many sessions", list(rows.values()),
                      params={"connections": conns, "queries_per_connection_per_phase": per,
                              "think_ms_mean": think * 1e3},
                      notes=notes)


@dataclass
class Outcome:
    paced: list[float] = field(default_factory=list)
    saturated: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    connect_seconds: float = 0.0
    paced_seconds: float = 0.0
    saturated_seconds: float = 0.0


async def hammer(ep: Endpoint, sql: str, conns: int, per: int, think: float,
                 saturated_spy: contextlib.AbstractContextManager[None] | None = None) -> Outcome:
    import asyncpg  # type: ignore[import-untyped]

    out = Outcome()
    gate = asyncio.Semaphore(50)
    rng = random.Random(42)

    async def open_one() -> asyncpg.Connection | None:
        async with gate:
            try:
                return await asyncpg.connect(host=ep.host, port=ep.port, user=ep.user, password=ep.password,
                                             database=ep.dbname, ssl=False, timeout=60)
            except (TimeoutError, OSError, asyncpg.PostgresError) as e:
                out.errors.append(f"connect: {type(e).__name__}: {e}"[:200])
                return None

    async def session(conn: asyncpg.Connection, go: asyncio.Event, sink: list[float], pauses: list[float]) -> None:
        await go.wait()
        for pause in pauses:
            if pause:
                await asyncio.sleep(pause)
            t0 = time.perf_counter()
            try:
                await conn.fetch(sql, timeout=60)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                out.errors.append(f"query: {type(e).__name__}: {e}"[:200])
                continue
            sink.append(time.perf_counter() - t0)

    async def phase(live: list[asyncpg.Connection], sink: list[float], paced: bool) -> float:
        go = asyncio.Event()
        tasks = [asyncio.ensure_future(session(c, go, sink, [rng.uniform(0, 2 * think) if paced else 0.0
                                                             for _ in range(per)])) for c in live]
        await asyncio.sleep(0.2)  # every session is parked on the gate
        t1 = time.perf_counter()
        go.set()
        await asyncio.gather(*tasks)
        return time.perf_counter() - t1

    t0 = time.perf_counter()
    opened = await asyncio.gather(*(open_one() for _ in range(conns)))
    out.connect_seconds = time.perf_counter() - t0
    live = [c for c in opened if c is not None]
    for c in live[:1]:
        await c.fetch(sql)  # compile/plan caches warm before anything is timed
    out.paced_seconds = await phase(live, out.paced, paced=True)
    with saturated_spy or contextlib.nullcontext():
        out.saturated_seconds = await phase(live, out.saturated, paced=False)
    await asyncio.gather(*(c.close(timeout=10) for c in live), return_exceptions=True)
    return out


BENCH = ConcurrencyBench()

if __name__ == "__main__":
    sys.exit(main_for(BENCH))
