"""A gateway bug inside one statement fails that statement with XX000; the session stays usable.

The fault is injected at the lowest layer (a backend session that raises a plain RuntimeError after
its first batch, as a bug in a backend or the encoder would): everything above it is the real
server, reached by psycopg over a real socket.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from gateway.app import GatewayApp
from gateway.backends.base import Credentials
from gateway.backends.duckdb import DuckDBBackend
from gateway.config import GatewaySettings
from tests.server import ROOT

MARKER = "fault-injected"


class _FaultySession:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def execute(self, sql: str, params: Sequence[object] = ()) -> AsyncIterator[pa.RecordBatch]:
        first = True
        async for batch in self._inner.execute(sql, params):
            if MARKER in sql and not first:
                raise RuntimeError("a bug below the session")
            first = False
            yield batch
        if MARKER in sql:
            raise RuntimeError("a bug below the session")

    async def cancel(self) -> None:
        await self._inner.cancel()

    async def close(self) -> None:
        await self._inner.close()


class _FaultyBackend(DuckDBBackend):
    async def open_session(self, credentials: Credentials) -> Any:
        return _FaultySession(await super().open_session(credentials))


@contextlib.asynccontextmanager
async def running_app(demo_duckdb: Path) -> AsyncIterator[GatewayApp]:
    """The server in the test's own event loop (async fixtures here run in the session's loop)."""
    settings = GatewaySettings(port=0, models=ROOT / "semantic-models", duckdb=demo_duckdb, log_level="warning")
    gw = GatewayApp(settings, backend=_FaultyBackend(demo_duckdb, batch_rows=1000))
    await gw.start()
    yield gw
    await gw.stop()


def _dsn(app: GatewayApp) -> str:
    return f"host=127.0.0.1 port={app.port} user=demo password=demo dbname=semantic sslmode=disable"


BAD = f"SELECT order_id, status FROM orders WHERE status <> '{MARKER}'"


@pytest.mark.parametrize("prepare", [False, True], ids=["simple", "extended"])
async def test_internal_error_fails_only_the_statement(demo_duckdb: Path, prepare: bool) -> None:
    async with running_app(demo_duckdb) as app, \
            await psycopg.AsyncConnection.connect(_dsn(app), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InternalError_) as info:
            await (await conn.execute(BAD, prepare=prepare)).fetchall()
        assert info.value.sqlstate == "XX000"
        assert info.value.diag.message_detail == "RuntimeError: a bug below the session"
        cur = await conn.execute("SELECT count(*) FROM orders", prepare=prepare)
        assert (await cur.fetchone()) == (100000,)


async def test_internal_error_inside_a_transaction_aborts_it(demo_duckdb: Path) -> None:
    async with running_app(demo_duckdb) as app, await psycopg.AsyncConnection.connect(_dsn(app)) as conn:
        with pytest.raises(psycopg.errors.InternalError_):
            await (await conn.execute(BAD)).fetchall()
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            await conn.execute("SELECT 1")
        await conn.rollback()
        assert await (await conn.execute("SELECT count(*) FROM orders")).fetchone() == (100000,)
