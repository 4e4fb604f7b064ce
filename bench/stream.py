"""stream: rows per second a client receives for a full listing, PostgreSQL 15 vs the gateway.

Each client is its own process (raw libpq in C, pgjdbc, psql, node-postgres, psycopg, asyncpg) that
connects once, then runs the listing warm-up + runs times and reports each run's seconds; connecting
is never timed. On the gateway the same listing is a semantic query: every dimension of a model whose
primary entity is in the select list, i.e. one row per stored row.

    .venv/bin/python -m bench.stream [--quick] [--rows N] [--rows32 N] [--clients a,b] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import (
    BUILD_DIR,
    NODE_MODULES,
    PG_JAR,
    ROOT,
    BenchEnv,
    Dataset,
    Endpoint,
    Report,
    ResultRow,
    compile_c_client,
    compile_java_client,
    main_for,
    median,
    parse_run_lines,
)
from bench.profile import py_spy

NAME = "stream"
CLIENTS = ("libpq", "pgjdbc", "psycopg-text", "psycopg-named", "psycopg-binary", "asyncpg", "psql", "node-pg",
           "libpq-copy")
QUICK_32 = ("libpq", "psycopg-binary")
CLIENT_LABELS = {
    "libpq": "raw libpq C client (PQexec)",
    "pgjdbc": "pgjdbc, fetchSize 10000, autocommit off",
    "psycopg-text": "psycopg 3 text, fetchall",
    "psycopg-named": "psycopg 3 named cursor, fetchmany(10000)",
    "psycopg-binary": "psycopg 3 binary, fetchall",
    "asyncpg": "asyncpg fetch (binary)",
    "psql": "psql -c … > /dev/null",
    "node-pg": "node-postgres",
    "libpq-copy": "raw libpq C client, COPY (listing) TO STDOUT",
}


class StreamBench:
    NAME = NAME

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--rows", type=int, help="rows of the 8-column table (default 1,000,000; --quick: 2,000)")
        p.add_argument("--rows32", type=int,
                       help="rows of the 32-column table (default 250,000: the same bytes as the 8-column run)")
        p.add_argument("--clients", help=f"comma-separated subset of {','.join(CLIENTS)}")
        p.add_argument("--rounds", type=int,
                       help="rounds per client, alternating which server goes first (default 3; --quick: 1); "
                            "--runs is split across them")
        p.add_argument("--profile", action="store_true",
                       help="py-spy the gateway during its raw-libpq 8-column runs; hot spots go into the report")

    def _rows(self, opts: argparse.Namespace) -> tuple[int, int]:
        rows = opts.rows or (2_000 if opts.quick else 1_000_000)
        rows32 = opts.rows32 or (500 if opts.quick else max(1, rows // 4))
        return rows, rows32

    def datasets(self, opts: argparse.Namespace) -> list[Dataset]:
        rows, rows32 = self._rows(opts)
        return [Dataset("bench_rows", rows), Dataset("bench_rows32", rows32, width=32)]

    def needs(self, opts: argparse.Namespace) -> set[str]:
        return {"postgres", "gateway"}

    def run(self, env: BenchEnv | None, opts: argparse.Namespace) -> Report:
        assert env is not None
        clients = [c for c in (opts.clients.split(",") if opts.clients else CLIENTS) if available(c)]
        rows: list[ResultRow] = []
        notes: list[str] = []
        profile_text: list[str] = []
        cpu_rows: list[ResultRow] = []
        if env.gw is not None and not opts.quick:
            notes.append(prime_gateway(env.gw.pid, env.gw.conninfo(), self.datasets(opts)[0].select_sql()))
        rounds = max(1, opts.rounds if opts.rounds is not None else (1 if opts.quick else 3))
        per_round = max(1, -(-opts.runs // rounds))
        for ds in self.datasets(opts):
            for client in clients:
                if opts.quick and ds.width == 32 and client not in QUICK_32:
                    continue  # --quick proves every client on 8 columns and the wide path on two
                label = f"{CLIENT_LABELS[client]}, {ds.width} cols"
                extra = {"rows": ds.rows, "client": client, "columns": ds.width}
                row = ResultRow(label, "rows/s", "higher", extra=dict(extra))
                cpu_row = ResultRow(f"{label}: server CPU per row", "µs", "lower", extra=dict(extra))
                client_row = ResultRow(f"{label}: client CPU per row", "µs", "lower", extra=dict(extra))
                used = {ep.name: [0.0, 0.0, 0] for ep in env.endpoints()}  # server s, client s, rows
                failed: set[str] = set()
                for rnd in range(rounds):
                    # ABBA: PostgreSQL first in even rounds, the gateway first in odd ones, so a drift in
                    # the machine's speed during a client's rounds weighs on both servers alike.
                    order = env.endpoints() if rnd % 2 == 0 else list(reversed(env.endpoints()))
                    for ep in order:
                        if ep.name in failed:
                            continue
                        profiling = (opts.profile and rnd == 0 and ep.name == "gateway" and client == "libpq"
                                     and ds.width == 8)
                        try:
                            spy = py_spy(ep.pid, BUILD_DIR / "stream-profile.txt", profile_text,
                                         "the raw-libpq 8-column runs")
                            cpu0, child0 = server_cpu_seconds(ep), _children_cpu_seconds()
                            with spy if profiling else contextlib.nullcontext():
                                secs = run_client(client, ep, ds.select_sql(), per_round + opts.warmup, ds.rows)
                            time.sleep(0.2)  # the PostgreSQL backend exits after its client: let it be reaped
                            spent = used[ep.name]
                            spent[0] += server_cpu_seconds(ep) - cpu0
                            spent[1] += _children_cpu_seconds() - child0
                            spent[2] += ds.rows * (per_round + opts.warmup)
                        except ClientFailed as e:
                            failed.add(ep.name)
                            row.error = f"{ep.name}: {e}"[:300]
                            print(f"[stream] {label} on {ep.name} failed: {e}", file=sys.stderr)
                            continue
                        row.samples.setdefault(ep.name, []).extend(secs[opts.warmup:])
                for ep in env.endpoints():
                    measured = row.samples.get(ep.name)
                    if ep.name in failed or not measured:
                        continue
                    side = "postgres" if ep.name == "postgres" else "gateway"
                    server_s, client_s, received = used[ep.name]
                    setattr(row, side, ds.rows / median(measured))
                    setattr(cpu_row, side, server_s / received * 1e6)
                    setattr(client_row, side, client_s / received * 1e6)
                    cpu_row.samples[ep.name] = [server_s / received * 1e6]
                    client_row.samples[ep.name] = [client_s / received * 1e6]
                    print(f"[stream] {label} {ep.name}: {ds.rows / median(measured) / 1e6:.3f} M rows/s "
                          f"(runs {[round(s, 3) for s in measured]})", flush=True)
                rows.append(row)
                cpu_rows += [cpu_row, client_row]
        rows += cpu_rows
        missing = [c for c in (opts.clients.split(",") if opts.clients else CLIENTS) if not available(c)]
        if missing:
            notes.append(f"skipped (not installed here): {', '.join(missing)}")
        notes.append("client and server share the machine's cores: every figure is a pair from this run; "
                     "the machine is shared with other work, so figures are noisy")
        notes.append("server CPU per row: user+system CPU of the whole gateway process (event loop, DuckDB's "
                     "threads) or of PostgreSQL's backends (the postmaster's children, live and reaped) over a "
                     "client's runs, per row received; it hardly depends on the machine's load, unlike rows/s")
        notes.append(f"each client runs {rounds} round(s), PostgreSQL and the gateway alternating first (ABBA); in "
                     f"each round one client process connects, runs {opts.warmup} warm-up and {per_round} measured "
                     "listing(s); rows/s is the median over all measured runs")
        notes.append("client CPU per row: user+system CPU of the client process(es) over all rounds, start-up and "
                     "warm-up included, per row received; where it is the larger of the two CPU figures the client, "
                     "not the server, bounds rows/s")
        notes += profile_text
        r8, r32 = self._rows(opts)
        return Report(NAME, "stream: rows/s received, full listing", rows,
                      params={"rows_8_cols": r8, "rows_32_cols": r32, "runs_per_round": per_round,
                              "rounds": rounds, "warmup": opts.warmup},
                      notes=notes)


class ClientFailed(Exception):
    pass


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds() -> float:
    """User+system CPU of this process's finished children: the client processes (one runs at a time)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def server_cpu_seconds(ep: Endpoint) -> float:
    """CPU the server spent so far: the gateway process, or PostgreSQL's postmaster children (a backend's
    CPU moves into the postmaster's reaped-children counters when it exits)."""
    if ep.name != "postgres":
        return _cpu_seconds(ep.pid)
    tick = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{ep.pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(fields[13]) + int(fields[14])) / tick
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == ep.pid:
            total += (int(stat[11]) + int(stat[12])) / tick
    return total


def prime_gateway(pid: int, conninfo: str, sql: str, timeout: float = 60) -> str:
    """One large result first, then wait until the gateway is idle: the first large result loads the
    compiled row writer (numba) in a background thread, seconds of CPU once per process that a gateway
    which has been serving for a while no longer pays, and which should not land in the first client's
    measured runs."""
    t0 = time.monotonic()
    subprocess.run([str(compile_c_client()), conninfo, sql + " LIMIT 100000", "1", "exec"],
                   capture_output=True, check=False)
    wait_idle(pid, timeout)
    return f"gateway primed with one 100,000-row result, idle after {time.monotonic() - t0:.1f} s"


def wait_idle(pid: int, timeout: float = 60) -> None:
    """Until the process used under 5% of a core over a second (or the timeout passed)."""
    t0 = time.monotonic()
    last = _cpu_seconds(pid)
    while time.monotonic() - t0 < timeout:
        time.sleep(1.0)
        now = _cpu_seconds(pid)
        if now - last < 0.05:
            return
        last = now


def available(client: str) -> bool:
    if client == "pgjdbc":
        return PG_JAR.exists() and shutil.which("javac") is not None and shutil.which("java") is not None
    if client == "node-pg":
        return shutil.which("node") is not None and (NODE_MODULES / "pg").exists()
    if client == "psql":
        return shutil.which("psql") is not None
    if client in ("libpq", "libpq-copy"):
        return shutil.which("gcc") is not None and shutil.which("pg_config") is not None
    return True


def client_command(client: str, ep: Endpoint, sql: str, runs: int) -> list[str]:
    if client == "libpq":
        return [str(compile_c_client()), ep.conninfo(), sql, str(runs), "exec"]
    if client == "libpq-copy":
        return [str(compile_c_client()), ep.conninfo(), f"COPY ({sql}) TO STDOUT", str(runs), "copy"]
    if client == "pgjdbc":
        cp = f"{PG_JAR}:{compile_java_client()}"
        return ["java", "-Xmx2g", "-cp", cp, "JdbcCount", ep.jdbc_url(), ep.user, ep.password, sql, str(runs),
                "10000"]
    if client == "node-pg":
        return ["node", str(ROOT / "bench" / "clients" / "pg_count.js"), ep.url(), sql, str(runs)]
    return [sys.executable, "-m", "bench.clients.pyclient", client, ep.conninfo(), sql, str(runs)]


def run_client(client: str, ep: Endpoint, sql: str, runs: int, expect_rows: int, timeout: float = 1800) -> list[float]:
    """Seconds of each run (first ones are the warm-up); raises ClientFailed on any error or wrong count."""
    if client == "psql":
        return [_psql_once(ep, sql, expect_rows, timeout) for _ in range(runs)]
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    try:
        done = subprocess.run(client_command(client, ep, sql, runs), capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT, env=env, check=False)
    except subprocess.TimeoutExpired as e:
        raise ClientFailed(f"timed out after {timeout} s") from e
    results = parse_run_lines(done.stdout)
    if done.returncode != 0 or len(results) != runs:
        raise ClientFailed((done.stderr or done.stdout).strip()[-400:] or f"exit {done.returncode}")
    for n, _s in results:
        if n != expect_rows:
            raise ClientFailed(f"received {n} rows, expected {expect_rows}")
    return [s for _n, s in results]


def _psql_once(ep: Endpoint, sql: str, expect_rows: int, timeout: float) -> float:
    t0 = time.perf_counter()
    try:
        done = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-c", sql], env=ep.env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as e:
        raise ClientFailed(f"timed out after {timeout} s") from e
    secs = time.perf_counter() - t0
    if done.returncode != 0:
        raise ClientFailed(done.stderr.strip()[-400:])
    return secs


BENCH = StreamBench()

if __name__ == "__main__":
    sys.exit(main_for(BENCH))
