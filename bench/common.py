"""Shared benchmark machinery: a throwaway PostgreSQL 15, the gateway as a subprocess, identical data
in both, statistics, result files and the printed comparison table.

Both servers run on 127.0.0.1 on this machine in the same run, because a figure from another run or
another machine says nothing about the ratio (client and server share the cores, so every figure is a
pair). Data is generated inside DuckDB from `range()` with integer arithmetic (deterministic, no
hashing whose output could change between versions); PostgreSQL receives the very same rows through
a CSV export and COPY, and a checksum query run on both proves the values match.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
BUILD_DIR = ROOT / "build" / "bench"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_JAR = Path("/usr/share/java/postgresql.jar")
NODE_MODULES = ROOT / "tests" / "clients" / "node" / "node_modules"
USER = "demo"
PASSWORD = "demo"
DBNAME = "semantic"

# --------------------------------------------------------------------------------------------------
# Data: the columns of the stream tables and how each value is derived from the row number i.

# (name, DuckDB type, PostgreSQL type, DuckDB expression over i and the group salt g)
_BASE_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("id", "BIGINT", "int8", "(i + {g}::BIGINT * 1000000007)::BIGINT"),
    ("label", "VARCHAR", "text", "'item-' || ((i * 7919 + {g} * 31 + 17) % 100003)::VARCHAR"),
    ("day", "DATE", "date", "DATE '2015-01-01' + ((i * 31 + {g} * 7 + 7) % 3650)::INTEGER"),
    ("ts", "TIMESTAMP", "timestamp",
     "TIMESTAMP '2015-01-01 00:00:00' + to_seconds(((i * 2654435761 + {g} * 97) % 315360000)::BIGINT)"),
    ("amount", "DECIMAL(18,2)", "numeric(18,2)",
     "(((i * 104729 + {g} * 13 + 3) % 10000000000)::DECIMAL(18,0) / 100)::DECIMAL(18,2)"),
    ("score", "DOUBLE", "float8", "((i * 48271 + {g} * 11) % 2147483647)::DOUBLE / 64"),
    ("qty", "INTEGER", "int4", "(((i * 69621 + {g} * 5) % 2000003) - 1000001)::INTEGER"),
    ("flag", "BOOLEAN", "bool", "((i * 37 + {g}) % 3 = 0)"),
)

_SMALL_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("id", "BIGINT", "int8", "i::BIGINT"),
    ("category", "VARCHAR", "text", "'cat-' || (i * 7 % 20)::VARCHAR"),
    ("region", "VARCHAR", "text", "'region-' || (i * 3 % 5)::VARCHAR"),
    ("amount", "DECIMAL(18,2)", "numeric(18,2)", "((i * 104729 % 100000)::DECIMAL(18,0) / 100)::DECIMAL(18,2)"),
    ("qty", "INTEGER", "int4", "(i * 13 % 50)::INTEGER"),
)

Kind = Literal["wide", "small"]


@dataclass(frozen=True)
class Dataset:
    """One table, generated identically into DuckDB (for the gateway) and, if `in_postgres`, PostgreSQL."""

    table: str
    rows: int
    kind: Kind = "wide"
    width: int = 8  # wide tables: 8 or 32 columns (the 8 base types repeated)
    in_postgres: bool = True

    def columns(self) -> list[tuple[str, str, str, str]]:
        if self.kind == "small":
            return list(_SMALL_COLUMNS)
        out: list[tuple[str, str, str, str]] = []
        for g in range(self.width // len(_BASE_COLUMNS)):
            for name, dtype, ptype, expr in _BASE_COLUMNS:
                out.append((name if g == 0 else f"{name}_{g}", dtype, ptype, expr.format(g=g)))
        return out

    def column_names(self) -> list[str]:
        return [c[0] for c in self.columns()]

    def select_sql(self) -> str:
        """The listing both servers answer: every column, every row (no ORDER BY: pure streaming)."""
        return f"SELECT {', '.join(self.column_names())} FROM {self.table}"

    def model_yaml(self) -> str:
        """A semantic model exposing the table; `id` is the primary entity, so listing it sets a unique grain.

        Every other column is a categorical (or boolean) dimension: a time dimension would be served at
        a truncated default grain, and the listing must return the stored values unchanged.
        """
        lines = [f"name: {self.table}", f"description: Benchmark table ({self.rows} rows).",
                 f"model: ref('{self.table}')", "entities:", "  - {name: id, type: primary}", "dimensions:"]
        for name, dtype, _p, _e in self.columns():
            if name == "id":
                continue
            kind = "boolean" if dtype == "BOOLEAN" else "categorical"
            lines.append(f"  - {{name: {name}, type: {kind}}}")
        lines.append("measures:")  # measure names are global across models: prefix them with the table's
        if self.kind == "small":
            lines += ["  - {name: total_amount, agg: sum, expr: amount}",
                      "  - {name: total_qty, agg: sum, expr: qty}"]
        lines.append(f"  - {{name: {self.table}_count, agg: count, expr: id}}")
        return "\n".join(lines) + "\n"

    def checksum_sql(self) -> str:
        """Aggregates that differ if any value differs between the two engines (same text in both dialects)."""
        parts = ["count(*)"]
        for name, dtype, _p, _e in self.columns():
            if dtype in ("BIGINT", "INTEGER", "DECIMAL(18,2)"):
                parts.append(f"sum({name})")
            elif dtype == "DOUBLE":
                parts.append(f"sum({name}::numeric(38,6))")
            elif dtype == "BOOLEAN":
                parts.append(f"sum(CASE WHEN {name} THEN 1 ELSE 0 END)")
            elif dtype == "VARCHAR":
                parts.append(f"sum(length({name}))")
                parts.append(f"count(DISTINCT {name})")
            elif dtype in ("DATE", "TIMESTAMP"):
                parts.append(f"min({name})::varchar")
                parts.append(f"max({name})::varchar")
                parts.append(f"count(DISTINCT {name})")
        return f"SELECT {', '.join(parts)} FROM {self.table}"


def generate_duckdb(path: Path, datasets: Sequence[Dataset], csv_dir: Path) -> dict[str, Path]:
    """Build every dataset in one DuckDB file; export the PostgreSQL-bound ones as CSV. Returns table → CSV."""
    import duckdb

    csvs: dict[str, Path] = {}
    con = duckdb.connect(str(path))
    try:
        for ds in datasets:
            select = ", ".join(f"{expr} AS {name}" for name, _d, _p, expr in ds.columns())
            ddl = ", ".join(f"{name} {dtype}" for name, dtype, _p, _e in ds.columns())
            con.execute(f"CREATE TABLE {ds.table} ({ddl})")
            con.execute(f"INSERT INTO {ds.table} SELECT {select} FROM range({ds.rows}) t(i)")
            if ds.in_postgres:
                out = csv_dir / f"{ds.table}.csv"
                con.execute(f"COPY {ds.table} TO '{out}' (FORMAT csv, HEADER false)")
                csvs[ds.table] = out
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return csvs


def duckdb_checksums(path: Path, datasets: Sequence[Dataset]) -> dict[str, tuple[Any, ...]]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return {ds.table: tuple(con.execute(ds.checksum_sql()).fetchone() or ()) for ds in datasets}
    finally:
        con.close()


def write_models(models_dir: Path, datasets: Sequence[Dataset]) -> None:
    models_dir.mkdir(parents=True, exist_ok=True)
    for ds in datasets:
        (models_dir / f"{ds.table}.yml").write_text(ds.model_yaml(), encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# Servers.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"server on port {port} exited before accepting connections")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing accepted connections on {host}:{port} within {timeout} s")


@dataclass
class Endpoint:
    """Where a client connects: the same user, password and database name on both servers."""

    name: str  # "postgres" | "gateway"
    host: str
    port: int
    pid: int
    user: str = USER
    password: str = PASSWORD
    dbname: str = DBNAME

    def conninfo(self, **extra: str) -> str:
        params = {"host": self.host, "port": str(self.port), "user": self.user, "password": self.password,
                  "dbname": self.dbname, "sslmode": "disable", **extra}
        return " ".join(f"{k}={v}" for k, v in params.items())

    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.dbname}?sslmode=disable"

    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.dbname}"

    def env(self) -> dict[str, str]:
        """libpq environment (psql) for this endpoint."""
        return {**os.environ, "PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user,
                "PGPASSWORD": self.password, "PGDATABASE": self.dbname, "PGSSLMODE": "disable"}

    def rss_bytes(self) -> int:
        return process_rss(self.pid)


def process_rss(pid: int) -> int:
    """Resident set size from /proc (no psutil needed)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def _as_postgres_user(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root; the Debian package created the postgres account.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class PostgresServer:
    """A PostgreSQL 15 cluster in a temp dir: 127.0.0.1, random port, SCRAM for demo/demo, fsync off."""

    def __init__(self, root: Path, *, max_connections: int = 100) -> None:
        self.root = root
        self.data = root / "pgdata"
        self.port = free_port()
        self.max_connections = max_connections
        self.endpoint: Endpoint | None = None

    def start(self) -> Endpoint:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o777)
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n", encoding="ascii")
        os.chmod(pwfile, 0o644)
        _run(_as_postgres_user([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", USER,
                                          f"--pwfile={pwfile}", "--auth-local=trust",
                                          "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8",
                                          "--locale=C.UTF-8"]))
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                f"-c synchronous_commit=off -c full_page_writes=off -c max_connections={self.max_connections} "
                "-c shared_buffers=512MB")
        _run(_as_postgres_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                                          str(self.root / "log"), "-w", "-t", "60", "start"]))
        wait_for_port("127.0.0.1", self.port, 30)
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        ep = Endpoint("postgres", "127.0.0.1", self.port, pid, dbname="postgres")
        import psycopg

        with psycopg.connect(ep.conninfo(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DBNAME}")
        self.endpoint = Endpoint("postgres", "127.0.0.1", self.port, pid)
        return self.endpoint

    def load(self, datasets: Sequence[Dataset], csvs: dict[str, Path]) -> None:
        import psycopg

        assert self.endpoint is not None
        with psycopg.connect(self.endpoint.conninfo(), autocommit=True) as conn:
            for ds in datasets:
                if not ds.in_postgres:
                    continue
                ddl = ", ".join(f"{name} {ptype}" for name, _d, ptype, _e in ds.columns())
                conn.execute(f"CREATE TABLE {ds.table} ({ddl})")
                with conn.cursor().copy(f"COPY {ds.table} FROM STDIN (FORMAT csv)") as copy,  \
                        open(csvs[ds.table], "rb") as f:
                    while chunk := f.read(1 << 20):
                        copy.write(chunk)
                conn.execute(f"VACUUM (FREEZE, ANALYZE) {ds.table}")

    def checksums(self, datasets: Sequence[Dataset]) -> dict[str, tuple[Any, ...]]:
        import psycopg

        assert self.endpoint is not None
        with psycopg.connect(self.endpoint.conninfo(), autocommit=True) as conn:
            return {ds.table: tuple(conn.execute(ds.checksum_sql()).fetchone() or ())
                    for ds in datasets if ds.in_postgres}

    def version(self) -> str:
        out = subprocess.run([str(PG_BIN / "postgres"), "--version"], capture_output=True, text=True, check=False)
        return out.stdout.strip()

    def stop(self) -> None:
        subprocess.run(_as_postgres_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                                          "stop"]), capture_output=True, check=False)


_LISTENING = re.compile(r"listening on ([\d.]+):(\d+)")


class GatewayServer:
    """The gateway as a subprocess (`start_sql_server.py`) on 127.0.0.1, the OS picking the port."""

    def __init__(self, root: Path, models: Path, duckdb_path: Path, *, log_level: str = "warning",
                 extra_args: Sequence[str] = (), env: dict[str, str] | None = None) -> None:
        self.root = root
        self.env = dict(env or {})
        self.models = models
        self.duckdb_path = duckdb_path
        self.log_level = log_level
        self.extra_args = list(extra_args)
        self.log_path = root / "gateway.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.endpoint: Endpoint | None = None

    def start(self, timeout: float = 120) -> Endpoint:
        self.launch()
        return self.wait(timeout)

    def launch(self) -> None:
        """Spawn the process; `wait()` returns once it accepts connections (start other work in between)."""
        self.root.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, str(ROOT / "start_sql_server.py"), "--host", "127.0.0.1", "--port", "0",
               "--models", str(self.models), "--duckdb", str(self.duckdb_path), "--log-level", self.log_level,
               *self.extra_args]
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child owns it for its lifetime
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env})
        log.close()

    def wait(self, timeout: float = 120) -> Endpoint:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        port = 0
        while time.monotonic() < deadline and not port:
            if self.proc.poll() is not None:
                raise RuntimeError("gateway exited:\n" + self.log_tail())
            m = _LISTENING.search(self.log_path.read_text(errors="replace"))
            if m:
                port = int(m.group(2))
            else:
                time.sleep(0.1)
        if not port:
            self.stop()
            raise RuntimeError("gateway did not start:\n" + self.log_tail())
        proc = self.proc
        wait_for_port("127.0.0.1", port, 30, alive=lambda: proc.poll() is None)
        self.endpoint = Endpoint("gateway", "127.0.0.1", port, self.proc.pid)
        return self.endpoint

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class BenchEnv:
    """Everything a set of benchmarks runs against, built once: data, PostgreSQL, the gateway."""

    datasets: list[Dataset]
    postgres: bool = True
    gateway: bool = True
    pg_max_connections: int = 100
    gateway_log_level: str = "warning"
    keep: bool = False
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ssg-bench-")))
    pg: Endpoint | None = None
    gw: Endpoint | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    _pg_server: PostgresServer | None = None
    _gw_server: GatewayServer | None = None

    @property
    def models_dir(self) -> Path:
        return self.workdir / "models"

    @property
    def duckdb_path(self) -> Path:
        return self.workdir / "bench.duckdb"

    def endpoints(self) -> list[Endpoint]:
        return [ep for ep in (self.pg, self.gw) if ep is not None]

    def gateway_server(self) -> GatewayServer:
        assert self._gw_server is not None
        return self._gw_server

    def __enter__(self) -> BenchEnv:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        t0 = time.monotonic()
        raise_fd_limit(8192)  # the servers inherit it: hundreds of sessions need sockets
        os.chmod(self.workdir, 0o755)  # the postgres account must reach the cluster directory inside
        csv_dir = self.workdir / "csv"
        csv_dir.mkdir(parents=True, exist_ok=True)
        pg_sets = [d for d in self.datasets if d.in_postgres] if self.postgres else []
        csvs = generate_duckdb(self.duckdb_path, [replace_in_pg(d, self.postgres) for d in self.datasets],
                               csv_dir)
        write_models(self.models_dir, self.datasets)
        self.meta["data_seconds"] = round(time.monotonic() - t0, 1)
        self.meta["duckdb_checksums"] = {k: list(map(str, v))
                                         for k, v in duckdb_checksums(self.duckdb_path, self.datasets).items()}
        if self.gateway:  # boots (imports, model load) while PostgreSQL is initialised and loaded
            self._gw_server = GatewayServer(self.workdir / "gw", self.models_dir, self.duckdb_path,
                                            log_level=self.gateway_log_level)
            self._gw_server.launch()
        if self.postgres:
            self._pg_server = PostgresServer(self.workdir / "pg", max_connections=self.pg_max_connections)
            self.pg = self._pg_server.start()
            self._pg_server.load(pg_sets, csvs)
            pg_sums = self._pg_server.checksums(pg_sets)
            for table, sums in pg_sums.items():
                duck = self.meta["duckdb_checksums"][table]
                if _normalise(sums) != _normalise(duck):
                    raise RuntimeError(f"{table}: PostgreSQL and DuckDB hold different data:\n{sums}\n{duck}")
            self.meta["postgres_version"] = self._pg_server.version()
            self.meta["postgres_ready_seconds"] = round(time.monotonic() - t0, 1)
        for f in csvs.values():
            f.unlink(missing_ok=True)
        if self._gw_server is not None:
            self.gw = self._gw_server.wait()
            self.meta["gateway_ready_seconds"] = round(time.monotonic() - t0, 1)
        self.meta["setup_seconds"] = round(time.monotonic() - t0, 1)

    def close(self) -> None:
        if self._gw_server is not None:
            self._gw_server.stop()
        if self._pg_server is not None:
            self._pg_server.stop()
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def replace_in_pg(ds: Dataset, postgres: bool) -> Dataset:
    return ds if postgres or not ds.in_postgres else Dataset(ds.table, ds.rows, ds.kind, ds.width, False)


def _normalise(values: Sequence[Any]) -> list[str]:
    return [str(v) for v in values]


# --------------------------------------------------------------------------------------------------
# Statistics, results, tables.


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def percentile(xs: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100), what a latency SLO means."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return float(s[k])


def measure(fn: Callable[[], float], runs: int, warmup: int) -> list[float]:
    """Call `fn` (which returns its own measured seconds) warm-up + runs times; keep the measured runs."""
    for _ in range(warmup):
        fn()
    return [fn() for _ in range(runs)]


@dataclass
class ResultRow:
    """One compared figure. `ratio` is gateway / PostgreSQL of `value`; `better` says which way is good."""

    label: str
    unit: str
    better: Literal["higher", "lower"]
    postgres: float | None = None
    gateway: float | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.postgres is None or self.gateway is None or self.postgres == 0:
            return None
        return self.gateway / self.postgres


@dataclass
class Report:
    name: str
    title: str
    rows: list[ResultRow]
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    columns: tuple[str, str] = ("PostgreSQL 15", "gateway")


def machine_info() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="ascii") as f:
        mem = int(f.readline().split()[1]) // 1024
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_mb": mem, "kernel": platform.release(),
            "python": platform.python_version(), "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "rows/s":
        return f"{v / 1e6:.3f} M"
    if unit in ("ms", "µs", "MB"):
        return f"{v:.4g}" if v < 10 else f"{v:.1f}"
    if unit == "queries/s":
        return f"{v:,.0f}"
    return f"{v:.4g}"


def format_table(report: Report) -> str:
    a, b = report.columns
    head = f"| {report.title} | unit | {a} | {b} | ratio {b}/{a} |"
    lines = [head, "|---|---|---:|---:|---:|"]
    for r in report.rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.3g} ({r.better} is better)"
        label = r.label + (f" (error: {r.error})" if r.error else "")
        lines.append(f"| {label} | {r.unit} | {_fmt(r.postgres, r.unit)} | {_fmt(r.gateway, r.unit)} | {ratio} |")
    return "\n".join(lines)


def write_report(report: Report, out_dir: Path, meta: dict[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {
        "name": report.name,
        "title": report.title,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "params": report.params,
        "meta": meta,
        "notes": report.notes,
        "columns": list(report.columns),
        "rows": [{**asdict(r), "ratio": r.ratio} for r in report.rows],
        "table": format_table(report),
    }
    path = out_dir / f"{report.name}.json"
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def print_report(report: Report) -> None:
    m = machine_info()
    print(f"\n## {report.title} — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {m['cores']} cores ({m['cpu']}), "
          f"load {m['load_avg_at_start']}")
    if report.params:
        print("params: " + ", ".join(f"{k}={v}" for k, v in report.params.items()))
    print(format_table(report))
    for note in report.notes:
        print(f"- {note}")
    sys.stdout.flush()


# --------------------------------------------------------------------------------------------------
# Scripts: every benchmark module exposes the same four things so it runs alone or under run_all.


class Bench(Protocol):
    NAME: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...
    def datasets(self, opts: argparse.Namespace) -> list[Dataset]: ...
    def needs(self, opts: argparse.Namespace) -> set[str]: ...
    def run(self, env: BenchEnv | None, opts: argparse.Namespace) -> Report: ...


def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny variant (small row counts, one run, no warm-up)")
    p.add_argument("--runs", type=int, help="measured runs per figure (default 5; --quick: 1)")
    p.add_argument("--warmup", type=int, help="warm-up runs before measuring (default 1; --quick: 0)")
    p.add_argument("--out", type=Path,
                   help="directory for <name>.json (default bench/results; --quick: build/bench/quick)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (data, logs) for inspection")
    p.add_argument("--gateway-log-level", default="warning",
                   help="gateway --log-level (default warning: PostgreSQL does not log every statement either)")
    p.add_argument("--no-gateway", action="store_true", help="measure PostgreSQL only")
    return p


def finish_options(opts: argparse.Namespace) -> argparse.Namespace:
    if opts.runs is None:
        opts.runs = 1 if opts.quick else 5
    if opts.warmup is None:
        opts.warmup = 0 if opts.quick else 1
    if opts.out is None:
        opts.out = BUILD_DIR / "quick" if opts.quick else RESULTS_DIR
    return opts


def raise_fd_limit(want: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, want), hard) if hard != resource.RLIM_INFINITY else max(soft, want)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def unique_datasets(sets: Sequence[Dataset]) -> list[Dataset]:
    by_table: dict[str, Dataset] = {}
    for ds in sets:
        prev = by_table.get(ds.table)
        if prev is not None and prev != ds:
            raise ValueError(f"two benchmarks want table {ds.table} with different shapes: {prev} / {ds}")
        by_table[ds.table] = ds
    return list(by_table.values())


def run_benches(benches: Sequence[Bench], opts: argparse.Namespace) -> list[Report]:
    """Start one environment for every bench given, run them in order, print and write each report."""
    needs: set[str] = set()
    for b in benches:
        needs |= b.needs(opts)
    if opts.no_gateway:
        needs.discard("gateway")
    reports: list[Report] = []
    env_cm: contextlib.AbstractContextManager[BenchEnv | None]
    if needs & {"postgres", "gateway"}:
        env_cm = BenchEnv(unique_datasets([d for b in benches for d in b.datasets(opts)]),
                          postgres="postgres" in needs, gateway="gateway" in needs,
                          pg_max_connections=getattr(opts, "pg_max_connections", None) or 100,
                          gateway_log_level=opts.gateway_log_level, keep=opts.keep)
    else:
        env_cm = contextlib.nullcontext()
    with env_cm as env:
        for b in benches:
            t0 = time.monotonic()
            report = b.run(env, opts)
            meta = dict(env.meta) if env is not None else {}
            meta["elapsed_seconds"] = round(time.monotonic() - t0, 1)
            path = write_report(report, opts.out, meta)
            print_report(report)
            print(f"(written to {path})")
            reports.append(report)
    return reports


def main_for(bench: Bench, argv: Sequence[str] | None = None) -> int:
    p = base_parser(f"benchmark: {bench.NAME}")
    bench.add_arguments(p)
    opts = finish_options(p.parse_args(argv))
    run_benches([bench], opts)
    return 0


# --------------------------------------------------------------------------------------------------
# Helpers for client programs.


def compile_c_client() -> Path:
    """Build bench/clients/pqcount.c against libpq (cached by mtime under build/bench)."""
    src = ROOT / "bench" / "clients" / "pqcount.c"
    out = BUILD_DIR / "pqcount"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        out.parent.mkdir(parents=True, exist_ok=True)
        inc = subprocess.run(["pg_config", "--includedir"], capture_output=True, text=True,
                             check=True).stdout.strip()
        subprocess.run(["gcc", "-O2", "-o", str(out), str(src), f"-I{inc}", "-lpq"], check=True)
    return out


def compile_java_client() -> Path:
    """Compile bench/clients/JdbcCount.java with javac against Debian's pgjdbc; returns the class dir."""
    src = ROOT / "bench" / "clients" / "JdbcCount.java"
    out_dir = BUILD_DIR / "java"
    cls = out_dir / "JdbcCount.class"
    if not cls.exists() or cls.stat().st_mtime < src.stat().st_mtime:
        out_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["javac", "-d", str(out_dir), "-cp", str(PG_JAR), str(src)], check=True)
    return out_dir


def parse_run_lines(text: str) -> list[tuple[int, float]]:
    """Lines of "<rows> <seconds>" printed by the client programs."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit():
            out.append((int(parts[0]), float(parts[1])))
    return out


@contextlib.contextmanager
def sampling_rss(pid: int, interval: float = 0.05) -> Iterator[list[tuple[float, int]]]:
    """Sample a process's RSS in a background thread while the block runs."""
    import threading

    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def loop() -> None:
        t0 = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(OSError, RuntimeError):
                samples.append((time.monotonic() - t0, process_rss(pid)))
            stop.wait(interval)

    th = threading.Thread(target=loop, daemon=True)
    th.start()
    try:
        yield samples
    finally:
        stop.set()
        th.join()
