"""Runs inside a private network namespace: Spark + Thrift Server + adapter proxy + DatabricksBackend checks.

`python -m tests.databricks.spark_driver OUT.json [SECTION ...]` starts HiveThriftServer2 (HTTP
transport) and the test-only ThriftProxy, drives the real DatabricksBackend (real
databricks-sql-connector) through them, runs the dialect-parity cases on a local SparkSession over
the same Parquet files, and writes what it observed to OUT.json. It records observations, not verdicts: the
pytest side (test_spark_thrift.py) makes the assertions. Each section reports its own error so one
failure does not hide the others. SPARK_PARITY=0 leaves out the parity cases (deliberately only).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gateway.backends.base import Credentials
from gateway.backends.databricks import DatabricksBackend, DatabricksSettings
from tests.databricks.spark_server import SparkThriftServer, start_local_session, start_thrift_server
from tests.databricks.thrift_proxy import ThriftProxy
from virtual_schema.errors import PgError

REJECTED_TOKEN = "dapi-revoked-token"
STREAM_ROWS = 120_000  # more than one 100k page of the Thrift server and several batches
BATCH_ROWS = 25_000


def settings(proxy: ThriftProxy, **overrides: Any) -> DatabricksSettings:
    base: dict[str, Any] = {
        "server_hostname": "127.0.0.1",
        "http_path": "cliservice",
        "batch_rows": BATCH_ROWS,
        "max_workers": 8,
        "retry": {"attempts": 4, "initial_backoff_seconds": 0.2, "max_backoff_seconds": 1.0},
        "connect_kwargs": {"_connection_uri": proxy.uri, "enable_telemetry": False},
    }
    base.update(overrides)
    return DatabricksSettings(**base)


def pg_error(e: PgError) -> dict[str, Any]:
    return {"sqlstate": e.sqlstate, "message": e.message, "detail": e.detail}


async def collect(session: Any, sql: str) -> list[Any]:
    batches = []
    async for batch in session.execute(sql):
        batches.append(batch)
    return batches


async def section_stream(backend: DatabricksBackend, proxy: ThriftProxy) -> dict[str, Any]:
    s = await backend.open_session(Credentials("alice", "tok-alice"))
    try:
        sizes: list[int] = []
        total = 0
        first_schema = None
        async for batch in s.execute(f"SELECT id, CAST(id % 7 AS STRING) AS s FROM range({STREAM_ROWS})"):
            sizes.append(batch.num_rows)
            total += sum(v for v in batch.column(0).to_pylist() if v is not None)
            first_schema = first_schema or [(f.name, str(f.type)) for f in batch.schema]
        empty = await collect(s, "SELECT id FROM range(0)")
        return {"batch_sizes": sizes, "id_sum": total, "schema": first_schema, "batch_rows": BATCH_ROWS,
                "rows_requested": STREAM_ROWS,
                "empty": {"batches": len(empty), "rows": sum(b.num_rows for b in empty),
                          "columns": [f.name for f in empty[0].schema] if empty else None}}
    finally:
        await s.close()


async def section_errors(backend: DatabricksBackend, proxy: ThriftProxy) -> dict[str, Any]:
    s = await backend.open_session(Credentials("alice", "tok-alice"))
    out: dict[str, Any] = {}
    try:
        for name, sql in [("missing_table", "SELECT * FROM no_such_table_xyz"),
                          ("missing_column", "SELECT no_such_col FROM range(3)"),
                          ("syntax", "SELEC 1"),
                          ("bad_cast", "SELECT CAST('abc' AS INT)"),
                          ("divide", "SELECT 1 / 0")]:
            try:
                await collect(s, sql)
                out[name] = None
            except PgError as e:
                out[name] = pg_error(e)
        out["after"] = [b.to_pylist() for b in await collect(s, "SELECT 42 AS answer")]
    finally:
        await s.close()
    return out


async def section_cancel(backend: DatabricksBackend, proxy: ThriftProxy) -> dict[str, Any]:
    """Both ways the session layer stops a statement: CancelRequest/statement_timeout call cancel()
    while the task still waits, and the task itself is cancelled (the generator is abandoned)."""
    s = await backend.open_session(Credentials("alice", "tok-alice"))
    slow = "SELECT reflect('java.lang.Thread', 'sleep', bigint(120000)) AS slept"
    out: dict[str, Any] = {}
    try:
        t0 = time.monotonic()
        task = asyncio.ensure_future(collect(s, slow))
        await asyncio.sleep(2.0)
        await s.cancel()
        try:
            await task
            out["explicit"] = None
        except PgError as e:
            out["explicit"] = pg_error(e)
        out["explicit_seconds"] = time.monotonic() - t0
        out["after_explicit"] = [b.to_pylist() for b in await collect(s, "SELECT 7 AS seven")]

        t0 = time.monotonic()
        task = asyncio.ensure_future(collect(s, slow))
        await asyncio.sleep(2.0)
        task.cancel()
        await s.cancel()
        try:
            await task
        except asyncio.CancelledError:
            out["task_cancelled"] = True
        out["after_task_cancel"] = [b.to_pylist() for b in await collect(s, "SELECT 8 AS eight")]
        out["task_cancel_seconds"] = time.monotonic() - t0
        await asyncio.sleep(1.0)
        out["cancel_operations_sent"] = sum(1 for r in proxy.log.snapshot() if r.method == "CancelOperation")
    finally:
        await s.close()
    return out


async def section_passthrough(backend: DatabricksBackend, proxy: ThriftProxy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    a1 = await backend.open_session(Credentials("alice", "tok-alice-2"))
    a2 = await backend.open_session(Credentials("alice", "tok-alice-2"))
    b1 = await backend.open_session(Credentials("bob", "tok-bob"))
    sessions = {"a1": a1, "a2": a2, "b1": b1}
    out["session_ids"] = {k: v.connection.get_session_id_hex() for k, v in sessions.items()}
    out["identity_keys"] = {k: v.identity_key for k, v in sessions.items()}
    # each runs a statement concurrently
    results = await asyncio.gather(*(collect(v, f"SELECT '{k}' AS who") for k, v in sessions.items()))
    out["results"] = [r[0].to_pylist() for r in results]
    await a1.close()
    await b1.close()
    a3 = await backend.open_session(Credentials("alice", "tok-alice-2"))
    b2 = await backend.open_session(Credentials("bob", "tok-bob"))
    out["reopened"] = {"a3": a3.connection.get_session_id_hex(), "b2": b2.connection.get_session_id_hex()}
    await collect(a3, "SELECT 1")
    for s in (a2, a3, b2):
        await s.close()
    try:
        await backend.open_session(Credentials("mallory", REJECTED_TOKEN))
        out["rejected"] = None
    except PgError as e:
        out["rejected"] = pg_error(e)
    try:
        await backend.open_session(Credentials("nobody", ""))
        out["empty_password"] = None
    except PgError as e:
        out["empty_password"] = pg_error(e)
    out["wire"] = [[r.method, r.token, r.session] for r in proxy.log.snapshot()]
    out["log_mentions_token"] = False  # filled by the caller from captured logs
    return out


async def section_starting(backend: DatabricksBackend, proxy: ThriftProxy) -> dict[str, Any]:
    notices: list[str] = []
    # the session layer passes its NoticeResponse sender when it opens the session
    s = await backend.open_session(Credentials("carol", "tok-carol"), notice=notices.append)
    try:
        proxy.fail_executes = 2
        rows = [b.to_pylist() for b in await collect(s, "SELECT 5 AS five")]
        attempts = [r.method for r in proxy.log.snapshot() if r.token == "tok-carol" and "ExecuteStatement" in r.method]
        proxy.fail_executes = 10
        try:
            await collect(s, "SELECT 6")
            exhausted = None
        except PgError as e:
            exhausted = pg_error(e)
        proxy.fail_executes = 0
        return {"rows": rows, "notices": notices, "attempts": attempts, "exhausted": exhausted,
                "retry_attempts": backend.settings.retry.attempts}
    finally:
        proxy.fail_executes = 0
        await s.close()


async def section_schema(backend: DatabricksBackend, proxy: ThriftProxy) -> dict[str, Any]:
    s = await backend.open_session(Credentials("alice", "tok-alice"))
    try:
        await collect(s, "DROP TABLE IF EXISTS typed")
        await collect(s, "CREATE TABLE typed (a INT, b DECIMAL(12,2), c STRING, d DATE, "
                         "e TIMESTAMP, f DOUBLE, g BOOLEAN, h BIGINT, i SMALLINT, j FLOAT) USING parquet")
        await collect(s, "INSERT INTO typed VALUES (1, 12.34, 'x', DATE'2024-02-29', TIMESTAMP'2024-02-29 12:34:56', "
                         "1.5, true, 9000000000, 3, 2.5), (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
        described = await backend.table_schema("default.typed")
        executed = (await collect(s, "SELECT * FROM default.typed"))[0]
        rows = executed.to_pylist()
        try:
            await backend.table_schema("default.not_there")
            missing = None
        except PgError as e:
            missing = pg_error(e)
        return {"described": [(f.name, str(f.type)) for f in described],
                "executed": [(f.name, str(f.type)) for f in executed.schema],
                "rows": [{k: str(v) for k, v in r.items()} for r in rows], "missing": missing}
    finally:
        await s.close()


async def section_ready(backend: DatabricksBackend, proxy: ThriftProxy) -> dict[str, Any]:
    dead = DatabricksBackend(settings(proxy, connect_kwargs={"_connection_uri": "http://127.0.0.1:9/cliservice",
                                                             "enable_telemetry": False}, ready_timeout_seconds=2))
    try:
        return {"live": await backend.ready(), "dead": await dead.ready()}
    finally:
        await dead.close()


STATE: dict[str, Any] = {}
PARITY_SCALE = 0.2  # 20,000 orders over the same two years, every table scaled alike


async def section_warehouse(backend: DatabricksBackend, proxy: ThriftProxy) -> dict[str, Any]:
    """The demo warehouse (same generator as the DuckDB suites) loaded into Spark through the connector.

    Generated at PARITY_SCALE of the demo's size: DuckDB and Spark answer over these same rows, so parity
    holds its meaning, and the cumulative cases (a date spine joined on `<=`, a nested-loop join in
    Spark) stay within make test's budget on 2 cores."""
    from tests.databricks.spark_parity import export_parquet, load_into_spark
    from virtual_schema.demo_warehouse import generate_demo_warehouse

    work = Path(tempfile.mkdtemp(prefix="demo-parquet-"))
    path = work / "demo.duckdb"
    generate_demo_warehouse(path, scale=PARITY_SCALE)
    tables = export_parquet(path, work / "parquet")
    s = await backend.open_session(Credentials("loader", "tok-loader"))
    try:
        await load_into_spark(s, tables)
        counts = {}
        for t in tables:
            counts[t] = (await collect(s, f"SELECT count(*) AS n FROM {t}"))[0].column(0)[0].as_py()
    finally:
        await s.close()
    STATE["duckdb_path"] = path
    STATE["tables"] = tables
    return {"tables": sorted(tables), "counts": counts}


def local_spark() -> Any:
    """The local SparkSession over the warehouse section's Parquet files (started on first use)."""
    if "spark" not in STATE:
        spark = start_local_session(Path(tempfile.mkdtemp(prefix="spark-local-")))
        for name, location in STATE.get("tables", {}).items():
            spark.sql(f"CREATE TABLE {name} USING parquet LOCATION '{location}'")
        STATE["spark"] = spark
    return STATE["spark"]


async def section_parity(backend: DatabricksBackend, proxy: ThriftProxy) -> dict[str, Any]:
    """Every differential case on the SparkSession the warehouse section loaded through the connector."""
    from tests.databricks.spark_parity import run_parity

    return {"cases": run_parity(local_spark(), STATE["duckdb_path"])}


async def section_extract(backend: DatabricksBackend, proxy: ThriftProxy) -> dict[str, Any]:
    """EXTRACT/date_part fields as rendered for Databricks, answered by Spark (pytest compares with PostgreSQL)."""
    from tests.databricks.spark_parity import run_extract_fields

    return {"statements": run_extract_fields(local_spark())}


async def section_gateway(backend: DatabricksBackend, proxy: ThriftProxy) -> dict[str, Any]:
    """psql and psycopg → gateway process (--backend databricks, unmodified product) → connector → Spark."""
    import os
    import subprocess

    import duckdb
    import psycopg
    import yaml

    from tests.databricks.spark_parity import MODELS_DIR, _layers
    from tests.semantic.cases import CASES
    from tests.semantic.oracle import rows_equal
    from tests.server import start_gateway

    cfg = Path(tempfile.mkdtemp(prefix="gw-dbx-")) / "gateway.yaml"
    cfg.write_text(yaml.safe_dump({"databricks": {
        "server_hostname": "127.0.0.1", "http_path": "cliservice",
        # metadata (DESCRIBE at model load) reads with a service identity from databricks-sdk's unified auth
        "service_auth": {"token": "tok-service", "retry_timeout_seconds": 1, "http_timeout_seconds": 1},
        "connect_kwargs": {"_connection_uri": proxy.uri, "enable_telemetry": False},
        "batch_rows": GATEWAY_BATCH_ROWS,
        "retry": {"attempts": 3, "initial_backoff_seconds": 0.2, "max_backoff_seconds": 0.5},
    }}))
    gw = start_gateway(["--backend", "databricks", "--config", str(cfg), "--models", str(MODELS_DIR),
                        "--log-level", "warning"], timeout=240)
    out: dict[str, Any] = {}
    try:
        duck_layer, _ = _layers()
        con = duckdb.connect(str(STATE["duckdb_path"]), read_only=True)
        picked = [c for c in CASES if not c.ordered][:3] + [c for c in CASES if c.ordered][:3]
        checks = {}
        with psycopg.connect(gw.dsn(user="alice", password="tok-alice-gw"), autocommit=True) as conn:
            for case in picked:
                try:
                    got = [tuple(r) for r in conn.execute(case.sql).fetchall()]
                    expected = [tuple(r) for r in con.execute(duck_layer.compile(case.sql).sql).fetchall()]
                    ok, why = rows_equal(got, expected)
                    checks[case.name] = {"ok": ok, "why": why, "rows": len(got)}
                except Exception as e:  # reported per case
                    checks[case.name] = {"ok": False, "why": f"{type(e).__name__}: {e}"}
            try:  # a temp table read with a model: its rows reach Spark as a VALUES list in Databricks SQL
                conn.execute("CREATE TEMP TABLE picks (s text, since date, n bigint)")
                conn.execute("INSERT INTO picks VALUES ('completed', '2023-06-01', 1), ('returned', NULL, 2), "
                             "(E'it''s a \\\\ back\\\\slash', '2024-01-01', NULL)")
                conn.execute("CREATE TEMP TABLE flt (s text)")
                conn.execute("INSERT INTO flt SELECT s FROM picks WHERE n IS NOT NULL")
                got = [tuple(r) for r in conn.execute(
                    "SELECT o.channel, AVG(o.avg_order_value), SUM(o.order_count) FROM orders o "
                    "JOIN flt ON o.status = flt.s WHERE o.ordered_at >= (SELECT min(since) FROM picks) "
                    "GROUP BY 1").fetchall()]
                got += [tuple(r) for r in conn.execute(
                    "SELECT p.s, p.n, o.order_count FROM picks p LEFT JOIN (SELECT status, order_count FROM orders) o "
                    "ON o.status = p.s").fetchall()]
                expected = [tuple(r) for r in con.execute(
                    "SELECT channel, AVG(amount), COUNT(order_id) FROM orders "
                    "WHERE status IN ('completed', 'returned') AND order_ts >= DATE '2023-06-01' GROUP BY 1"
                    ).fetchall()]
                expected += [tuple(r) for r in con.execute(
                    "SELECT p.s, p.n, c.n FROM (VALUES ('completed', 1), ('returned', 2), "
                    "('it''s a \\ back\\slash', NULL)) p(s, n) "
                    "LEFT JOIN (SELECT status, COUNT(order_id) AS n FROM orders GROUP BY 1) c ON c.status = p.s"
                    ).fetchall()]
                ok, why = rows_equal(got, expected)
                checks["temp_table_join"] = {"ok": ok, "why": why, "rows": len(got)}
            except Exception as e:
                checks["temp_table_join"] = {"ok": False, "why": f"{type(e).__name__}: {e}"}
        out["psycopg"] = checks
        with psycopg.connect(gw.dsn(user="carol", password="tok-carol-gw"), autocommit=True) as conn:
            out["session_paths"] = _gateway_session_paths(conn, proxy, con, duck_layer)
        try:
            psycopg.connect(gw.dsn(user="mallory", password=REJECTED_TOKEN)).close()
            out["wrong_token"] = None
        except psycopg.Error as e:
            out["wrong_token"] = {"sqlstate": e.sqlstate, "message": str(e)}
        psql = "/usr/lib/postgresql/15/bin/psql"
        if Path(psql).exists():
            case = picked[0]
            r = subprocess.run([psql, "-X", "-A", "-t", "-c", case.sql, gw.dsn(user="bob", password="tok-bob-gw")],
                               capture_output=True, text=True, timeout=120, env={**os.environ})
            out["psql"] = {"rc": r.returncode, "lines": len([x for x in r.stdout.splitlines() if x.strip()]),
                           "stderr": r.stderr[-500:], "case": case.name,
                           "expected_rows": len(con.execute(duck_layer.compile(case.sql).sql).fetchall())}
        con.close()
        tokens = {(r.method, r.token) for r in proxy.log.snapshot()}
        out["warehouse_saw"] = sorted([m, t] for m, t in tokens if t in ("tok-alice-gw", "tok-bob-gw", REJECTED_TOKEN,
                                                                          "tok-service") and m == "OpenSession")
        out["gateway_log_mentions_token"] = any(t in gw.logs() for t in ("tok-alice-gw", "tok-bob-gw", REJECTED_TOKEN))
    finally:
        gw.stop()
    return out


GATEWAY_BATCH_ROWS = 500
LISTING = "SELECT customer_id, order_count FROM orders"  # one row per customer: many batches of 500
SLOW = "SELECT ordered_at__day, revenue_to_date FROM orders"  # cumulative over a date spine: seconds on Spark


def _gateway_session_paths(conn: Any, proxy: ThriftProxy, con: Any, duck_layer: Any) -> dict[str, Any]:
    """Through the gateway with a real client: a result of many batches, the starting-warehouse NOTICE
    with a retry before the first row, statement_timeout and CancelRequest reaching the warehouse."""
    import threading

    import psycopg

    from tests.semantic.oracle import rows_equal

    def fetches() -> int:
        return sum(1 for r in proxy.log.snapshot() if r.method == "FetchResults" and r.token == "tok-carol-gw")

    def cancels() -> int:
        return sum(1 for r in proxy.log.snapshot() if r.method == "CancelOperation" and r.token == "tok-carol-gw")

    out: dict[str, Any] = {}
    expected = [tuple(r) for r in con.execute(duck_layer.compile(LISTING).sql).fetchall()]
    before = fetches()
    got = [tuple(r) for r in conn.execute(LISTING).fetchall()]
    out["stream"] = {"ok": rows_equal(got, expected)[0], "rows": len(got), "fetches": fetches() - before,
                     "batch_rows": GATEWAY_BATCH_ROWS}

    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    proxy.fail_executes = 1
    try:
        got = [tuple(r) for r in conn.execute(LISTING).fetchall()]
    finally:
        proxy.fail_executes = 0
    out["starting"] = {"ok": rows_equal(got, expected)[0], "notices": notices}

    def stopped(setup: Callable[[], None]) -> dict[str, Any]:
        before = cancels()
        seen = len(proxy.log.snapshot())
        try:
            setup()
            conn.execute(SLOW).fetchall()
            result: dict[str, Any] = {"sqlstate": None}
        except psycopg.Error as e:
            result = {"sqlstate": e.sqlstate, "message": str(e)}
        conn.execute("SET statement_timeout = 0")
        time.sleep(1.0)  # CancelOperation goes out from a worker thread
        result["cancel_operations"] = cancels() - before
        result["wire"] = [r.method for r in proxy.log.snapshot()[seen:] if r.token == "tok-carol-gw"]
        result["after"] = len(conn.execute(LISTING).fetchall())
        return result

    out["statement_timeout"] = stopped(lambda: conn.execute("SET statement_timeout = 1500"))
    timer = threading.Timer(1.5, conn.cancel)
    out["cancel_request"] = stopped(timer.start)
    timer.cancel()
    return out


SECTIONS: dict[str, Callable[[DatabricksBackend, ThriftProxy], Awaitable[dict[str, Any]]]] = {
    "stream": section_stream,
    "errors": section_errors,
    "cancel": section_cancel,
    "passthrough": section_passthrough,
    "starting": section_starting,
    "schema": section_schema,
    "ready": section_ready,
    "warehouse": section_warehouse,
    "parity": section_parity,
    "extract": section_extract,
    "gateway": section_gateway,
}


async def run_sections(names: list[str], proxy: ThriftProxy, out: dict[str, Any]) -> None:
    for name in names:
        backend = DatabricksBackend(settings(proxy))
        t0 = time.monotonic()
        try:
            out[name] = await SECTIONS[name](backend, proxy)
        except Exception as e:  # recorded for the test to report
            detail = getattr(e, "detail", None)
            out[name] = {"error": f"{type(e).__name__}: {e} ({detail})", "traceback": traceback.format_exc()}
        finally:
            out.setdefault("timings", {})[name] = round(time.monotonic() - t0, 2)
            print(f"spark driver: section {name} took {out['timings'][name]} s", file=sys.stderr, flush=True)
            await backend.close()


def main() -> int:
    out_path = Path(sys.argv[1])
    default = [n for n in SECTIONS if n != "parity" or os.environ.get("SPARK_PARITY") != "0"]
    names = sys.argv[2:] or default
    out: dict[str, Any] = {}
    workdir = Path(tempfile.mkdtemp(prefix="spark-thrift-"))
    t0 = time.monotonic()
    server: SparkThriftServer | None = None
    proxy: ThriftProxy | None = None
    try:
        reuse = os.environ.get("SPARK_THRIFT_PORT")  # development: a server already running in this namespace
        if reuse:
            port = int(reuse)
        else:
            server = start_thrift_server(workdir)
            port = server.port
        out["startup_seconds"] = round(time.monotonic() - t0, 2)
        proxy = ThriftProxy(port, rejected={REJECTED_TOKEN}).start()
        asyncio.run(run_sections(names, proxy, out))
    except Exception as e:  # the server did not come up: report it
        out["fatal"] = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
    finally:
        if proxy is not None:
            proxy.stop()
        if "spark" in STATE:
            STATE.pop("spark").stop()
        if server is not None:
            server.stop()
            out["server_log_tail"] = server.log_tail(3000)
        out["total_seconds"] = round(time.monotonic() - t0, 2)
    out_path.write_text(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
