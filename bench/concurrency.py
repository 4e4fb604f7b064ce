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
from typing import Literal

from bench.common import (
    BUILD_DIR,
    BenchEnv,
    Dataset,
    Endpoint,
    GatewayServer,
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
        notes = ["one asyncpg client process drives all sessions; the machine has 2 cores shared with other work",
                 "gateway: identical statements running at the same time run once on the read-only DuckDB "
                 "warehouse (coalesce_identical, the default); 'every statement run' is a second gateway "
                 "process over the same files with coalesce_identical: false, so each query runs in DuckDB"]
        measured: dict[str, dict[str, float | None]] = {}
        errors: dict[str, list[str]] = {}
        for ep in env.endpoints():
            spy: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
            if opts.profile_saturated and ep.name == "gateway":
                spy = py_spy(ep.pid, BUILD_DIR / "concurrency-profile.txt", notes,
                             f"the saturated phase ({conns} sessions back to back)")
            measured[ep.name], errors[ep.name] = self._measure(ep, ep.name, conns, per, think, spy)
        if env.gw is not None:
            each = _every_statement_gateway(env)
            try:
                ep = each.start()
                measured["each"], errors["each"] = self._measure(ep, "gateway", conns, per, think,
                                                                 contextlib.nullcontext())
            finally:
                each.stop()
        rows: list[ResultRow] = []
        for variant, suffix in (("gateway", ""), ("each", ", every statement run")):
            if variant not in measured:
                continue
            for key, (label, unit, better) in _FIGURES.items():
                row = ResultRow(label.format(conns=conns, think=think * 1e3) + suffix, unit, better)
                row.postgres = measured.get("postgres", {}).get(key)
                row.gateway = measured[variant].get(key)
                if key == "errors":
                    for name in ("postgres", variant):
                        if errors.get(name):
                            row.extra[f"{name}_examples"] = sorted(set(errors[name]))[:5]
                rows.append(row)
        return Report(NAME, "concurrency: many sessions", rows,
                      params={"connections": conns, "queries_per_connection_per_phase": per,
                              "think_ms_mean": think * 1e3},
                      notes=notes)

    @staticmethod
    def _measure(ep: Endpoint, dialect: str, conns: int, per: int, think: float,
                 spy: contextlib.AbstractContextManager[None]) -> tuple[dict[str, float | None], list[str]]:
        outcome = asyncio.run(hammer(ep, QUERIES["small semantic query"][dialect], conns, per, think, spy))
        paced_ms = [x * 1e3 for x in outcome.paced]
        sat_ms = [x * 1e3 for x in outcome.saturated]
        values: dict[str, float | None] = {
            "p50": percentile(paced_ms, 50) if paced_ms else None,
            "p99": percentile(paced_ms, 99) if paced_ms else None,
            "paced_qps": len(paced_ms) / outcome.paced_seconds if outcome.paced_seconds else None,
            "qps": len(sat_ms) / outcome.saturated_seconds if outcome.saturated_seconds else None,
            "sat_p99": percentile(sat_ms, 99) if sat_ms else None,
            "errors": float(len(outcome.errors)),
            "connect": outcome.connect_seconds * 1e3,
        }
        print(f"[concurrency] {ep.name} ({ep.port}): "
              + ", ".join(f"{k} {v:.1f}" for k, v in values.items() if v is not None), flush=True)
        return values, outcome.errors


_FIGURES: dict[str, tuple[str, str, Literal["higher", "lower"]]] = {
    "p50": ("paced ({conns} sessions, think ~{think:.0f} ms): per-query p50", "ms", "lower"),
    "p99": ("paced ({conns} sessions, think ~{think:.0f} ms): per-query p99", "ms", "lower"),
    "paced_qps": ("paced: achieved queries/s", "queries/s", "higher"),
    "qps": ("saturated ({conns} sessions back to back): throughput", "queries/s", "higher"),
    "sat_p99": ("saturated: per-query p99 (≈ sessions / throughput)", "ms", "lower"),
    "errors": ("errors (connect + query, both phases)", "count", "lower"),
    "connect": ("time to open {conns} sessions", "ms", "lower"),
}


def _every_statement_gateway(env: BenchEnv) -> GatewayServer:
    """A second gateway over the same read-only files that runs every statement (coalescing off)."""
    root = env.workdir / "gw-each"
    root.mkdir(parents=True, exist_ok=True)
    config = root / "settings.yml"
    config.write_text("coalesce_identical: false\n", encoding="utf-8")
    return GatewayServer(root, env.models_dir, env.duckdb_path, log_level=env.gateway_log_level,
                         extra_args=["--config", str(config)])


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
