"""The embedded DuckDB warehouse behind the Backend Protocol.

DuckDB is not asyncio: statements run in a bounded thread pool, one DuckDB cursor (its own
connection to the shared database) per client session so sessions never see each other's state
and a CancelRequest can interrupt exactly one statement. Batches are pulled one ahead of the
writer, so DuckDB produces the next batch while the previous one is being encoded and sent, and
no more than about two batches per statement are ever held in memory. A small result costs one
worker-thread hop: the statement runs and is read to its end in the same hop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from gateway.backends.base import Credentials
from virtual_schema.errors import (
    DIVISION_BY_ZERO,
    FEATURE_NOT_SUPPORTED,
    INTERNAL_ERROR,
    INVALID_TEXT_REPRESENTATION,
    QUERY_CANCELED,
    SYNTAX_ERROR,
    UNDEFINED_COLUMN,
    UNDEFINED_FUNCTION,
    UNDEFINED_TABLE,
    PgError,
)

_submit: Callable[..., Any] | None
try:  # the engine seam of duckdb's Python package: one call that runs a statement (absent in older releases)
    from duckdb._seam import submit as _submit
except ImportError:  # pragma: no cover - depends on the installed duckdb
    _submit = None


def map_duckdb_error(exc: duckdb.Error) -> PgError:
    """DuckDB's exception classes → PostgreSQL SQLSTATEs; DuckDB's own text goes to DETAIL."""
    text = str(exc)
    if isinstance(exc, duckdb.InterruptException):
        return PgError(QUERY_CANCELED, "canceling statement due to user request")
    if isinstance(exc, duckdb.ParserException):
        return PgError(SYNTAX_ERROR, "syntax error in warehouse SQL", detail=text)
    if isinstance(exc, duckdb.CatalogException):
        code = UNDEFINED_FUNCTION if "Function" in text else UNDEFINED_TABLE
        return PgError(code, "warehouse object does not exist", detail=text)
    if isinstance(exc, duckdb.BinderException):
        code = UNDEFINED_COLUMN if "column" in text.lower() else "42804"
        return PgError(code, "warehouse could not bind the statement", detail=text)
    if isinstance(exc, duckdb.ConversionException):
        return PgError(INVALID_TEXT_REPRESENTATION, "invalid input value", detail=text)
    if isinstance(exc, duckdb.OutOfRangeException):
        return PgError("22003", "value out of range", detail=text)
    if isinstance(exc, duckdb.InvalidInputException) and "Division by zero" in text:
        return PgError(DIVISION_BY_ZERO, "division by zero", detail=text)
    if isinstance(exc, duckdb.NotImplementedException):
        return PgError(FEATURE_NOT_SUPPORTED, "not supported by the warehouse", detail=text)
    if isinstance(exc, duckdb.OutOfMemoryException):
        return PgError("53200", "out of memory", detail=text)
    return PgError(INTERNAL_ERROR, "warehouse error", detail=text)


def _open_reader(cursor: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object],
                 batch_rows: int) -> pa.RecordBatchReader:
    """A streaming Arrow reader over one statement's result.

    The compiler's SQL is always one SELECT, so where the installed duckdb package has its engine seam
    the statement is submitted straight to it: `cursor.sql()` would first parse and bind the text in
    its relation layer (a second and third parse), which cost more than running a small query.
    """
    values = list(params) if params else None
    if _submit is not None:
        reader: pa.RecordBatchReader = _submit(cursor, sql, values, "stream", batch_rows).arrow_reader()
        return reader
    rel = cursor.sql(sql, params=values)
    if rel is None:  # a statement without a result
        return pa.RecordBatchReader.from_batches(pa.schema([]), [])
    return rel.to_arrow_reader(batch_rows)


def _next_batch(reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None
    except duckdb.Error as e:
        raise map_duckdb_error(e) from None
    except (pa.ArrowException, OSError) as e:  # DuckDB errors surface through Arrow's reader
        if "INTERRUPT" in str(e).upper():
            raise PgError(QUERY_CANCELED, "canceling statement due to user request") from None
        raise PgError(INTERNAL_ERROR, "warehouse error", detail=str(e)) from None


_PLANS_PER_SESSION = 32
_SEEN_PER_SESSION = 256


class DuckDBSession:
    def __init__(self, backend: DuckDBBackend, cursor: duckdb.DuckDBPyConnection) -> None:
        self._backend = backend
        self._cursor = cursor
        self._running = threading.Event()
        # Plan cache (never results): warehouse SQL this session ran before (False: not preparable) and
        # the DuckDB prepared statements of SQL it ran again. Touched only inside a statement's hop.
        self._seen: OrderedDict[str, bool] = OrderedDict()
        self._plans: OrderedDict[str, str] = OrderedDict()
        self._plan_ids = itertools.count(1)

    def _statement(self, sql: str) -> str:
        """What to submit for parameterless `sql`: the first time the SQL itself, from the second time on
        `EXECUTE` of a DuckDB prepared statement, which skips binding and optimizing (about half of a
        small query's cost; dashboards and pools repeat their statements). Still runs every time."""
        cursor = self._cursor
        name = self._plans.get(sql)
        if name is not None:
            self._plans.move_to_end(sql)
            return f"EXECUTE {name}"
        seen = self._seen.get(sql)
        if seen is None:
            self._seen[sql] = True
            if len(self._seen) > _SEEN_PER_SESSION:
                self._seen.popitem(last=False)
            return sql
        if not seen:
            return sql
        name = f"ssg_plan_{next(self._plan_ids)}"
        try:
            cursor.execute(f"PREPARE {name} AS {sql}")
        except duckdb.InterruptException:
            raise
        except duckdb.Error:  # not preparable: run it as it is (its own error, if any, comes from there)
            self._seen[sql] = False
            return sql
        del self._seen[sql]
        self._plans[sql] = name
        if len(self._plans) > _PLANS_PER_SESSION:
            _, old = self._plans.popitem(last=False)
            with contextlib.suppress(duckdb.Error):
                cursor.execute(f"DEALLOCATE {old}")
        return f"EXECUTE {name}"

    async def execute(self, sql: str, params: Sequence[object] = ()) -> AsyncIterator[pa.RecordBatch]:
        loop = asyncio.get_running_loop()
        pool = self._backend.pool
        cursor = self._cursor
        batch_rows = self._backend.batch_rows

        def start() -> tuple[pa.RecordBatchReader, list[pa.RecordBatch], bool]:
            """Run the statement and read up to one batch worth of rows in the same worker-thread hop
            (DuckDB hands out partial batches, e.g. one per aggregation partition): a result smaller than
            a batch is read to its end here, so a small query costs one hop, not three."""
            self._running.set()
            try:
                text = self._statement(sql) if not params and _submit is not None else sql
                reader = _open_reader(cursor, text, params, batch_rows)
            except duckdb.Error as e:
                self._running.clear()
                raise map_duckdb_error(e) from None
            try:
                head: list[pa.RecordBatch] = []
                rows = 0
                while rows < batch_rows:
                    batch = _next_batch(reader)
                    if batch is None:
                        return reader, head, True
                    head.append(batch)
                    rows += batch.num_rows
                return reader, head, False
            except BaseException:
                self._running.clear()
                reader.close()
                raise

        reader, head, done = await loop.run_in_executor(pool, start)
        pending: asyncio.Future[pa.RecordBatch | None] | None = None
        try:
            if done:
                self._running.clear()
                if not head:
                    yield pa.RecordBatch.from_pylist([], schema=reader.schema)
                for batch in head:
                    yield batch
                return
            # Pull one batch ahead of the writer: DuckDB produces the next batch while this one is sent.
            while head:
                batch = head.pop(0)
                if not head:
                    pending = loop.run_in_executor(pool, _next_batch, reader)
                yield batch
            while pending is not None:
                batch = await pending
                pending = None
                if batch is None:
                    return
                pending = loop.run_in_executor(pool, _next_batch, reader)
                yield batch
        finally:
            if pending is not None:
                cursor.interrupt()
                with contextlib.suppress(PgError, duckdb.Error, pa.ArrowException, OSError):
                    await pending
            self._running.clear()
            reader.close()

    async def cancel(self) -> None:
        if self._running.is_set():
            self._cursor.interrupt()

    async def close(self) -> None:
        cursor = self._cursor
        await asyncio.get_running_loop().run_in_executor(self._backend.pool, cursor.close)


class DuckDBBackend:
    dialect = "duckdb"

    def __init__(self, path: Path, *, threads: int = 8, batch_rows: int = 16384, read_only: bool = True) -> None:
        self.path = path
        self.batch_rows = batch_rows
        self._con = duckdb.connect(str(path), read_only=read_only)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="duckdb")
        self._schemas: dict[str, pa.Schema] = {}

    async def open_session(self, credentials: Credentials) -> DuckDBSession:
        # Gateway users authenticate against the gateway's own SCRAM verifiers; DuckDB has no users.
        return DuckDBSession(self, self._con.cursor())

    async def table_schema(self, relation: str) -> pa.Schema:
        cached = self._schemas.get(relation)
        if cached is not None:
            return cached

        def describe() -> pa.Schema:
            try:
                return self._con.cursor().sql(f"SELECT * FROM {relation} LIMIT 0").to_arrow_table().schema
            except duckdb.Error as e:
                raise map_duckdb_error(e) from None

        schema = await asyncio.get_running_loop().run_in_executor(self.pool, describe)
        self._schemas[relation] = schema
        return schema

    def forget_schemas(self) -> None:
        self._schemas.clear()

    async def ready(self) -> bool:
        def probe() -> bool:
            self._con.cursor().sql("SELECT 1").fetchall()
            return True

        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, probe)
        except duckdb.Error:
            return False

    async def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self._con.close()
