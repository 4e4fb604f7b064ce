"""Structured logs carry the context fields and never a password; users and cleartext auth come from --config."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from gateway.auth.scram import ScramVerifier
from tests.server import ROOT, GatewayProcess, start_gateway

SECRET = "S3cr3t-Pa55-xyzzy"


@pytest.fixture(scope="module")
def configured_gateway(demo_duckdb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    cfg = tmp_path_factory.mktemp("cfg") / "gateway.yaml"
    cfg.write_text(yaml.safe_dump({
        "models": str(ROOT / "semantic-models"),
        "duckdb": str(demo_duckdb),
        "allow_cleartext_password": True,
        "log_format": "json",
        "users": [{"name": "analyst", "scram": str(ScramVerifier.from_password(SECRET))}],
    }))
    gw = start_gateway(["--config", str(cfg)])
    yield gw
    gw.stop()


def test_cleartext_login_from_config_and_logs_without_secret(configured_gateway: GatewayProcess) -> None:
    gw = configured_gateway
    with psycopg.connect(gw.dsn(user="analyst", password=SECRET, application_name="logcheck"),
                         autocommit=True) as conn:
        assert conn.execute("SELECT status, revenue FROM orders WHERE status = %s", ["completed"]).fetchall()
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("SELECT * FROM nowhere")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(gw.dsn(user="analyst", password="wrong"))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(gw.dsn(user="demo", password="demo"))  # not in this config's user list
    lines = [json.loads(line) for line in gw.log_lines if line.startswith("{")]
    assert lines, gw.logs()
    assert not any(SECRET in json.dumps(line) for line in lines)
    statements = [e for e in lines if e.get("event") == "statement" and e.get("application_name") == "logcheck"]
    ok = [e for e in statements if e["outcome"] == "ok" and "orders" in e["sql"]]
    failed = [e for e in statements if e["outcome"] == "error"]
    assert ok and failed
    for e in ok + failed:
        for field in ("conn_id", "query_id", "user", "application_name", "duration_ms", "rows", "sqlstate"):
            assert field in e, (field, e)
        assert e["user"] == "analyst"
    assert failed[0]["sqlstate"] == "42P01"
    assert "$1" in ok[0]["sql"]  # statement text is logged, bound parameter values are not


def test_clean_exit_after_queries(demo_duckdb: Path) -> None:
    """SIGTERM after a session ends the process with status 0 and nothing on its output but its own log
    lines: the heap frozen at startup is handed back first, so no extension reports leaked objects."""
    gw = start_gateway(["--duckdb", str(demo_duckdb), "--log-level", "warning"])
    try:
        with psycopg.connect(gw.dsn(), autocommit=True) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        gw.stop()
    assert gw.proc.returncode == 0
    time.sleep(0.2)  # the output pump drains the last lines
    assert not [line for line in gw.log_lines if "leaked" in line or "Traceback" in line], gw.logs()


def test_duckdb_memory_limit_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB's memory_limit is a size with a unit; anything else stops the gateway at start-up, not at a query."""
    from pydantic import ValidationError

    from gateway.config import load_settings

    monkeypatch.setenv("SSG_DUCKDB_MEMORY_LIMIT", "512MiB")
    assert load_settings([]).duckdb_memory_limit == "512MiB"
    monkeypatch.setenv("SSG_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(ValidationError):
        load_settings([])
