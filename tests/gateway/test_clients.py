"""Issue 2's client checks: psql over TLS with SCRAM, psycopg 3, asyncpg — real drivers, real sockets."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psycopg
import pytest

from tests.server import ROOT, GatewayProcess, start_gateway

# A semantic query over the demo models with a stable answer and many rows.
ORDERS_BY_STATUS = "SELECT status, MEASURE(order_count) AS n FROM orders GROUP BY status ORDER BY status"
ORDERS_BY_ID = "SELECT order_id, MEASURE(revenue) AS r FROM orders GROUP BY order_id ORDER BY order_id"


@pytest.fixture(scope="module")
def tls_gateway(demo_duckdb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "server.crt", d / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    gw = start_gateway(["--models", str(ROOT / "semantic-models"), "--duckdb", str(demo_duckdb),
                        "--tls-cert", str(cert), "--tls-key", str(key)])
    yield gw
    gw.stop()


def _psql(gw: GatewayProcess, *args: str, sslmode: str = "disable") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PGPASSWORD": "demo", "PGSSLMODE": sslmode, "PGCONNECT_TIMEOUT": "10"}
    return subprocess.run(["psql", "-h", gw.host, "-p", str(gw.port), "-U", "demo", "-d", "semantic",
                           "-X", "-v", "ON_ERROR_STOP=1", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_psql_sslmode_require_with_scram(tls_gateway: GatewayProcess) -> None:
    r = _psql(tls_gateway, "-c", "\\conninfo", "-c", "SELECT 1 AS one", sslmode="require")
    assert r.returncode == 0, r.stderr
    assert "SSL connection" in r.stdout
    assert "one" in r.stdout and "1" in r.stdout
    r = _psql(tls_gateway, "-At", "-c", ORDERS_BY_STATUS, sslmode="require")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) >= 3


def test_psql_wrong_password_fails(tls_gateway: GatewayProcess) -> None:
    env = {**os.environ, "PGPASSWORD": "wrong", "PGSSLMODE": "require"}
    r = subprocess.run(["psql", "-h", tls_gateway.host, "-p", str(tls_gateway.port), "-U", "demo", "-d",
                        "semantic", "-c", "select 1"], capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode != 0
    assert "password authentication failed" in r.stderr


def test_psycopg_autocommit_and_transaction(gateway: GatewayProcess) -> None:
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        status_rows = conn.execute(ORDERS_BY_STATUS).fetchall()
        assert status_rows and all(isinstance(n, int) for _, n in status_rows)
    with psycopg.connect(gateway.dsn()) as conn:  # psycopg opens a transaction implicitly
        conn.execute("SELECT 1")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        assert conn.execute("SHOW transaction_isolation").fetchone() == ("read committed",)
        conn.execute("SET LOCAL statement_timeout = '5s'")
        assert conn.execute("SHOW statement_timeout").fetchone() == ("5s",)
        conn.rollback()
        assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)
        conn.commit()


def test_psycopg_server_side_parameters(gateway: GatewayProcess) -> None:
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        all_rows = dict(conn.execute(ORDERS_BY_STATUS).fetchall())
        status = sorted(all_rows)[0]
        q = "SELECT status, MEASURE(order_count) AS n FROM orders WHERE status = %s GROUP BY status"
        assert conn.execute(q, [status]).fetchall() == [(status, all_rows[status])]
        # prepared on the server after a few executions (psycopg's prepare_threshold)
        for _ in range(7):
            assert conn.execute(q, [status], prepare=True).fetchall() == [(status, all_rows[status])]


def test_psycopg_named_cursor_streams(gateway: GatewayProcess) -> None:
    with psycopg.connect(gateway.dsn()) as conn:
        expected = conn.execute(ORDERS_BY_ID).fetchall()
        with conn.cursor(name="orders_cur") as cur:
            cur.itersize = 1000
            cur.execute(ORDERS_BY_ID)
            got = list(cur)
        assert got == expected
        assert len(got) > 10_000


def test_psycopg_binary_results(gateway: GatewayProcess) -> None:
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        text_rows = conn.execute(ORDERS_BY_STATUS).fetchall()
        with conn.cursor(binary=True) as cur:
            assert cur.execute(ORDERS_BY_STATUS).fetchall() == text_rows
        with conn.cursor(binary=True) as cur:
            cur.execute("SELECT 1::int2, 2::int4, 3::int8, 1.5::float8, 12.34::numeric(10,2), true, 'x'::text,"
                        " DATE '2024-02-29', TIMESTAMP '2024-02-29 12:34:56.789',"
                        " '1 day 02:00:00'::interval, '\\x0102'::bytea")
            r = cur.fetchone()
        assert r is not None
        import datetime
        import decimal

        assert r[:7] == (1, 2, 3, 1.5, decimal.Decimal("12.34"), True, "x")
        assert r[7] == datetime.date(2024, 2, 29)
        assert r[8] == datetime.datetime(2024, 2, 29, 12, 34, 56, 789000)
        assert r[9] == datetime.timedelta(days=1, hours=2)
        assert r[10] == b"\x01\x02"


def test_psycopg_uuid_cast_is_uuid(gateway: GatewayProcess) -> None:
    import uuid

    with psycopg.connect(gateway.dsn(), autocommit=True) as conn, conn.cursor(binary=True) as cur:
        cur.execute("SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid")
        assert cur.fetchone() == (uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),)


def test_psycopg_cancel_and_statement_timeout(gateway: GatewayProcess) -> None:
    slow = "SELECT count(*) FROM generate_series(1, 20000000000) AS t(g)"
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        t0 = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute(slow)
        assert time.monotonic() - t0 < 20
        assert conn.execute("SELECT 1").fetchone() == (1,)
        conn.execute("SET statement_timeout = 300")
        with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
            conn.execute(slow)
        conn.execute("RESET statement_timeout")
        assert conn.execute(ORDERS_BY_STATUS).fetchall()


def test_asyncpg_binary_prepared_and_cursor(gateway: GatewayProcess) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(host=gateway.host, port=gateway.port, user="demo", password="demo",
                                     database="semantic", ssl=False)
        try:
            stmt = await conn.prepare(ORDERS_BY_STATUS)
            assert [a.name for a in stmt.get_attributes()] == ["status", "n"]
            first = await stmt.fetch()
            second = await stmt.fetch()
            assert first == second and len(first) >= 3
            assert await conn.fetchval("SELECT $1::int8 * 2", 21) == 42
            async with conn.transaction():
                got = [r async for r in conn.cursor(ORDERS_BY_ID, prefetch=500)]
            expected = await conn.fetch(ORDERS_BY_ID)
            assert got == expected
            async with conn.transaction():
                cur = await conn.cursor(ORDERS_BY_ID)
                chunk = await cur.fetch(5)
                assert chunk == expected[:5]
                chunk = await cur.fetch(3)
                assert chunk == expected[5:8]
        finally:
            await conn.close()

    asyncio.run(run())
