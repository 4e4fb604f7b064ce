"""compile: the gateway's semantic compile time vs MetricFlow's `explain()`, for the same questions.

The queries are the differential suite's cases that carry a MetricFlow request
(tests/semantic/cases.py): each is one semantic question written twice, as the SQL a BI tool sends
the gateway and as MetricFlow's request. Both run in this process over the demo models, neither
touches data (explain() only renders SQL).

- warm: the statement was seen before. Gateway: `SemanticLayer.compile()` hitting its statement
  cache (what a server answers a repeated dashboard query with). MetricFlow: explain() again.
- uncached: the gateway's full bind → plan → SQL → render, through a layer built with cache_size=0,
  median of repeated runs (MetricFlow has no such split: its warm figure is its uncached figure).
- same shape, new literals: the statement with other filter values (strings get another last character,
  numbers another last digit: each variant a new text), after the original was compiled. Gateway: the
  shape cache fills the compiled shape's template (compiler/shape.py). Only the queries with literals in
  value positions; MetricFlow's figure is its warm explain() of the same queries (a new filter value is a
  new request for it).
- cold: the first compile / explain of that statement in an already-built layer / engine. The gateway's
  cold and uncached figures are also given as CPU time of the compiling thread (`time.thread_time`),
  which a machine shared with other work disturbs far less than wall time.
- build: loading the model files and building the layer, vs parsing the manifest and building the engine.

    .venv/bin/python -m bench.compile [--quick] [--cases N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, BenchEnv, Dataset, Report, ResultRow, main_for, percentile

NAME = "compile"
MODELS_DIR = ROOT / "semantic-models"


class CompileBench:
    NAME = NAME

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--cases", type=int, help="number of queries (default: all with a MetricFlow request; "
                                                 "--quick: 3)")
        p.add_argument("--no-metricflow", action="store_true", help="time the gateway compiler only")

    def datasets(self, opts: argparse.Namespace) -> list[Dataset]:
        return []

    def needs(self, opts: argparse.Namespace) -> set[str]:
        return set()

    def run(self, env: BenchEnv | None, opts: argparse.Namespace) -> Report:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from tests.semantic.cases import CASES

        cases = [c for c in CASES if c.mf is not None]
        limit = opts.cases or (3 if opts.quick else len(cases))
        cases = cases[:limit]
        warm_reps = 20 if opts.quick else 1000
        gw = _gateway_times(cases, opts.runs, warm_reps)
        mf = None if opts.no_metricflow else _metricflow_times(cases, opts.runs, opts.warmup)
        rows: list[ResultRow] = []

        def summary(label: str, key: str, pct: float, mf_key: str | None, only: list[int] | None = None) -> None:
            row = ResultRow(label, "ms", "lower")
            got = gw[key] if only is None else [gw[key][i] for i in only]
            if not got:
                return
            row.gateway = percentile(got, pct) * 1e3
            if mf is not None and mf_key is not None:
                row.postgres = percentile(mf[mf_key] if only is None else [mf[mf_key][i] for i in only], pct) * 1e3
            rows.append(row)

        summary("warm (repeated statement): p50 over queries", "warm", 50, "warm")
        summary("warm: p95 over queries", "warm", 95, "warm")
        summary("warm: max over queries", "warm", 100, "warm")
        shaped = [i for i, v in enumerate(gw["shape"]) if v >= 0]
        summary(f"same shape, new literals ({len(shaped)} queries): p50 over queries", "shape", 50, "warm", shaped)
        summary("same shape, new literals: p95 over queries", "shape", 95, "warm", shaped)
        summary("uncached compile (bind+plan+render): p50 over queries", "uncached", 50, "warm")
        summary("uncached compile: p95 over queries", "uncached", 95, "warm")
        summary("cold (first time the statement is seen): p50 over queries", "cold", 50, "cold")
        summary("cold: max over queries", "cold", 100, "cold")
        # CPU time of the compiling thread: what the compiler costs, without the wait for a core on a busy machine
        summary("cold, CPU time: p50 over queries", "cold_cpu", 50, "cold_cpu")
        summary("uncached compile, CPU time: p50 over queries", "uncached_cpu", 50, "warm_cpu")
        summary("build layer / engine from the model files", "build", 50, "build")
        summary("first query after build", "first", 50, "first")
        per_query: dict[str, Any] = {}
        for i, c in enumerate(cases):
            per_query[c.name] = {"gateway_warm_us": gw["warm"][i] * 1e6, "gateway_uncached_ms": gw["uncached"][i] * 1e3,
                                 "gateway_cold_ms": gw["cold"][i] * 1e3}
            if gw["shape"][i] >= 0:
                per_query[c.name]["gateway_same_shape_us"] = gw["shape"][i] * 1e6
            if mf is not None:
                per_query[c.name].update({"metricflow_warm_ms": mf["warm"][i] * 1e3,
                                          "metricflow_cold_ms": mf["cold"][i] * 1e3})
        rows[0].extra["per_query"] = per_query
        notes = ["warm speed-up (MetricFlow warm / gateway warm, p50): "
                 + (f"{rows[0].postgres / rows[0].gateway:.0f}x" if rows[0].postgres and rows[0].gateway else "—"),
                 "both run in this one Python process on a 2-core machine shared with other work"]
        return Report(NAME, "compile: semantic query to SQL", rows,
                      params={"queries": len(cases), "runs": opts.runs, "gateway_warm_repetitions": warm_reps,
                              "models": str(MODELS_DIR.relative_to(ROOT))},
                      notes=notes, columns=("MetricFlow explain()", "gateway compile"))


def _physical() -> dict[str, Any]:
    from virtual_schema.demo_warehouse import demo_physical_schemas

    out: dict[str, Any] = {}
    for name, schema in demo_physical_schemas().items():
        out[name] = schema
        out[f"main.{name}"] = schema
    return out


def _gateway_times(cases: list[Any], runs: int, warm_reps: int) -> dict[str, list[float]]:
    from virtual_schema.compiler.shape import literal_variants
    from virtual_schema.loader import load_models
    from virtual_schema.semantic_layer import build_semantic_layer

    physical = _physical()
    t0 = time.perf_counter()
    layer = build_semantic_layer(load_models(MODELS_DIR), physical, "duckdb")
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    layer.compile(cases[0].sql)
    first = time.perf_counter() - t0
    uncached_layer = build_semantic_layer(load_models(MODELS_DIR), physical, "duckdb", cache_size=0)
    out: dict[str, list[float]] = {"build": [build], "first": [first], "cold": [], "uncached": [], "warm": [],
                                   "shape": []}
    out["cold_cpu"], out["uncached_cpu"] = [], []
    for c in cases:
        t0, c0 = time.perf_counter(), time.thread_time()
        uncached_layer.compile(c.sql)
        out["cold"].append(time.perf_counter() - t0)
        out["cold_cpu"].append(time.thread_time() - c0)
        reps, cpu = [], []
        for _ in range(max(runs, 3)):
            t0, c0 = time.perf_counter(), time.thread_time()
            uncached_layer.compile(c.sql)
            reps.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
        out["uncached"].append(statistics.median(reps))
        out["uncached_cpu"].append(statistics.median(cpu))
        layer.compile(c.sql)
        reps = []
        for _ in range(warm_reps):
            t0 = time.perf_counter()
            layer.compile(c.sql)
            reps.append(time.perf_counter() - t0)
        out["warm"].append(statistics.median(reps))
        variants = literal_variants(c.sql, min(warm_reps, 200))
        reps = []
        for v in variants:
            t0 = time.perf_counter()
            layer.compile(v)
            reps.append(time.perf_counter() - t0)
        out["shape"].append(statistics.median(reps) if reps else -1.0)
    return out


def _metricflow_times(cases: list[Any], runs: int, warmup: int) -> dict[str, list[float]]:
    import duckdb

    from tests.semantic.oracle import MetricFlowOracle

    con = duckdb.connect()
    try:
        t0 = time.perf_counter()
        oracle = MetricFlowOracle.from_models_dir(con, Path(MODELS_DIR), schema="main")
        build = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.thread_time()
        oracle.explain(cases[0].mf)
        first, first_cpu = time.perf_counter() - t0, time.thread_time() - c0
        out: dict[str, list[float]] = {"build": [build], "first": [first], "cold": [], "warm": [], "cold_cpu": [],
                                       "warm_cpu": []}
        for i, c in enumerate(cases):
            if i == 0:
                out["cold"].append(first)  # its first explain() was the "first query after build"
                out["cold_cpu"].append(first_cpu)
            else:
                t0, c0 = time.perf_counter(), time.thread_time()
                oracle.explain(c.mf)
                out["cold"].append(time.perf_counter() - t0)
                out["cold_cpu"].append(time.thread_time() - c0)
            for _ in range(warmup):
                oracle.explain(c.mf)
            reps, cpu = [], []
            for _ in range(runs):
                t0, c0 = time.perf_counter(), time.thread_time()
                oracle.explain(c.mf)
                reps.append(time.perf_counter() - t0)
                cpu.append(time.thread_time() - c0)
            out["warm"].append(statistics.median(reps))
            out["warm_cpu"].append(statistics.median(cpu))
        return out
    finally:
        con.close()


BENCH = CompileBench()

if __name__ == "__main__":
    sys.exit(main_for(BENCH))
