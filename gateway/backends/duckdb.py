"""The embedded DuckDB warehouse behind the Backend Protocol.

DuckDB is not asyncio: statements run in a bounded thread pool on pooled DuckDB connections (cursors of
the shared database), one statement per connection at a time, so a CancelRequest interrupts exactly that
statement and the plans DuckDB prepares serve every client session. Batches are pulled one ahead of the
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
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
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


FlightKey = tuple[str, tuple[object, ...]]  # warehouse SQL and parameter values
Landing = Callable[[list[pa.RecordBatch] | None], None]

_PLANS_PER_CONNECTION = 32
_SEEN_PER_CONNECTION = 256


class _Connection:
    """One pooled DuckDB connection and the plans made on it.

    DuckDB prepared statements belong to a connection. Connections are shared by all client sessions, one
    statement at a time, so a statement is planned once per pooled connection (a handful), not once per
    client session: 500 dashboard sessions running the same query no longer plan it 500 times."""

    __slots__ = ("busy", "cursor", "interrupted", "plan_ids", "plans", "seen")

    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self.cursor = cursor
        self.busy = False  # a worker thread is inside DuckDB on it (what a cancel may interrupt)
        self.interrupted = False  # interrupted once: never handed to another statement
        # Plan cache (never results): warehouse SQL run here before (False: not preparable) and the DuckDB
        # prepared statements of SQL run again.
        self.seen: OrderedDict[str, bool] = OrderedDict()
        self.plans: OrderedDict[str, str] = OrderedDict()
        self.plan_ids = itertools.count(1)

    def statement(self, sql: str) -> str:
        """What to submit for parameterless `sql`: the first time the SQL itself, from the second time on
        `EXECUTE` of a DuckDB prepared statement, which skips binding and optimizing (about half of a
        small query's cost; dashboards and pools repeat their statements). Still runs every time."""
        cursor = self.cursor
        name = self.plans.get(sql)
        if name is not None:
            self.plans.move_to_end(sql)
            return f"EXECUTE {name}"
        seen = self.seen.get(sql)
        if seen is None:
            self.seen[sql] = True
            if len(self.seen) > _SEEN_PER_CONNECTION:
                self.seen.popitem(last=False)
            return sql
        if not seen:
            return sql
        name = f"ssg_plan_{next(self.plan_ids)}"
        try:
            cursor.execute(f"PREPARE {name} AS {sql}")
        except duckdb.InterruptException:
            raise
        except duckdb.Error:  # not preparable: run it as it is (its own error, if any, comes from there)
            self.seen[sql] = False
            return sql
        del self.seen[sql]
        self.plans[sql] = name
        if len(self.plans) > _PLANS_PER_CONNECTION:
            _, old = self.plans.popitem(last=False)
            with contextlib.suppress(duckdb.Error):
                cursor.execute(f"DEALLOCATE {old}")
        return f"EXECUTE {name}"


class DuckDBSession:
    """A client session's view of the warehouse: each statement borrows a pooled connection for as long as
    its result is open (a suspended portal keeps its own), so a CancelRequest interrupts exactly this
    session's statements."""

    def __init__(self, backend: DuckDBBackend) -> None:
        self._backend = backend
        self._open: set[_Connection] = set()  # connections holding this session's open statements

    async def execute(self, sql: str, params: Sequence[object] = ()) -> AsyncIterator[pa.RecordBatch]:
        backend = self._backend
        key = backend.flight_key(sql, params)
        land: Landing | None = None
        if key is not None:
            leader = backend.in_flight.get(key)
            if leader is None:
                land = backend.take_off(key)
            elif (shared := await asyncio.shield(leader)) is not None:
                backend.coalesced += 1
                for batch in shared:
                    yield batch
                return
            # else: the leader's result was large, or it failed: run it alone
        run = self._run(sql, params, land)
        try:
            async for batch in run:
                yield batch
        finally:
            # Closed here, not left to the garbage collector: a client that goes away mid-result must have
            # its running batch interrupted and its connection released before the session closes.
            await run.aclose()
            if land is not None:
                land(None)

    async def _run(self, sql: str, params: Sequence[object],
                   land: Landing | None) -> AsyncGenerator[pa.RecordBatch, None]:
        """Run the statement; a small result is also handed to `land` (for the sessions waiting on it)."""
        loop = asyncio.get_running_loop()
        backend = self._backend
        pool = backend.pool
        batch_rows = backend.batch_rows

        def start() -> tuple[_Connection, pa.RecordBatchReader, list[pa.RecordBatch], bool]:
            """Run the statement and read up to one batch worth of rows in the same worker-thread hop
            (DuckDB hands out partial batches, e.g. one per aggregation partition): a result smaller than
            a batch is read to its end here, so a small query costs one hop, not three."""
            conn = backend.acquire(self._open)
            try:
                text = conn.statement(sql) if not params and _submit is not None else sql
                reader = _open_reader(conn.cursor, text, params, batch_rows)
            except duckdb.Error as e:
                backend.release(conn, self._open)
                raise map_duckdb_error(e) from None
            except BaseException:
                backend.release(conn, self._open)
                raise
            try:
                head: list[pa.RecordBatch] = []
                rows = 0
                while rows < batch_rows:
                    batch = _next_batch(reader)
                    if batch is None:
                        return conn, reader, head, True
                    head.append(batch)
                    rows += batch.num_rows
                conn.busy = False
                return conn, reader, head, False
            except BaseException:
                reader.close()
                backend.release(conn, self._open)
                raise

        def next_batch(conn: _Connection, reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
            conn.busy = True
            try:
                return _next_batch(reader)
            finally:
                conn.busy = False

        started = loop.run_in_executor(pool, start)
        try:
            conn, reader, head, done = await started
        except asyncio.CancelledError:  # the thread still runs: whatever it opens is closed when it returns
            started.add_done_callback(lambda f: self._abandon(f))
            raise
        pending: asyncio.Future[pa.RecordBatch | None] | None = None
        released = False
        try:
            if done:  # read to its end: the connection goes back now, while the rows are still being sent
                schema = reader.schema
                reader.close()
                backend.release(conn, self._open)
                released = True
                if not head:
                    head = [pa.RecordBatch.from_pylist([], schema=schema)]
                if land is not None:
                    land(head)
                for batch in head:
                    yield batch
                return
            if land is not None:
                land(None)  # too large to share: whoever waits runs it too
            # Pull one batch ahead of the writer: DuckDB produces the next batch while this one is sent.
            while head:
                batch = head.pop(0)
                if not head:
                    pending = loop.run_in_executor(pool, next_batch, conn, reader)
                yield batch
            while pending is not None:
                batch = await pending
                pending = None
                if batch is None:
                    return
                pending = loop.run_in_executor(pool, next_batch, conn, reader)
                yield batch
        finally:
            if not released:  # (a released connection may already run this session's next statement)
                if pending is not None:
                    conn.interrupted = True
                    with contextlib.suppress(duckdb.Error):  # (already closed by a session closing)
                        conn.cursor.interrupt()
                    with contextlib.suppress(PgError, duckdb.Error, pa.ArrowException, OSError):
                        await pending
                reader.close()
                # A connection keeps its last result's state until its next statement: after a result of
                # many batches that is megabytes, so this connection is closed rather than pooled.
                backend.release(conn, self._open, discard=True)

    def _abandon(self, started: asyncio.Future[Any]) -> None:
        if started.cancelled() or started.exception() is not None:
            return
        conn, reader, _head, done = started.result()
        reader.close()
        self._backend.release(conn, self._open, discard=not done)  # (see the end of _run)

    async def cancel(self) -> None:
        self._backend.interrupt(self._open)

    async def close(self) -> None:
        for conn in list(self._open):  # statements still open when the client went away
            self._backend.release(conn, self._open, discard=True)


class DuckDBBackend:
    dialect = "duckdb"

    def __init__(self, path: Path, *, threads: int = 8, batch_rows: int = 16384, read_only: bool = True,
                 coalesce: bool = True, engine_threads: int | None = None, memory_limit: str | None = None) -> None:
        self.path = path
        self.batch_rows = batch_rows
        config: dict[str, str | bool | int | float | list[str]] = {"threads": engine_threads} if engine_threads else {}
        if memory_limit is not None:
            config["memory_limit"] = memory_limit
        self._con = duckdb.connect(str(path), read_only=read_only, config=config)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="duckdb")
        self._schemas: dict[str, pa.Schema] = {}
        self._lock = threading.Lock()
        self._idle: list[_Connection] = []
        self._max_idle = max(2 * threads, 8)
        # Identical statements running at the same time run once (see flight_key).
        self.coalesce = read_only and coalesce
        self.coalesced = 0  # statements answered by an identical one's run
        self.in_flight: dict[FlightKey, asyncio.Future[list[pa.RecordBatch] | None]] = {}

    def take_off(self, key: FlightKey) -> Landing:
        """Register a run others can join; the returned callable hands them its rows (None: run your own)
        and ends the run's joinability at once: a run whose rows are known is over, even while its client
        keeps the portal open (no result cache)."""
        flight: asyncio.Future[list[pa.RecordBatch] | None] = asyncio.get_running_loop().create_future()
        self.in_flight[key] = flight

        def land(rows: list[pa.RecordBatch] | None) -> None:
            if self.in_flight.get(key) is flight:
                del self.in_flight[key]
            if not flight.done():
                flight.set_result(rows)

        return land

    def flight_key(self, sql: str, params: Sequence[object]) -> FlightKey | None:
        """The key under which a statement joins an identical one already running, or None.

        A read-only warehouse file cannot change while the gateway has it open (DuckDB's file lock keeps
        writers out), so a statement that arrives while the same SQL with the same values is running gets
        that run's rows, which are exactly what its own run would return. When many dashboard sessions ask
        the same question at once (the load that queues), the warehouse answers it once. Only results of
        one batch are shared; a larger one is run by each session as usual."""
        if not self.coalesce:
            return None
        key = (sql, tuple(params))
        try:
            hash(key)
        except TypeError:  # an array parameter
            return None
        return key

    async def open_session(self, credentials: Credentials) -> DuckDBSession:
        # Gateway users authenticate against the gateway's own SCRAM verifiers; DuckDB has no users.
        return DuckDBSession(self)

    def acquire(self, holder: set[_Connection]) -> _Connection:
        """A connection for one statement (called in the worker thread that runs it)."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = _Connection(self._con.cursor())
        conn.busy = True
        with self._lock:
            holder.add(conn)
        return conn

    def release(self, conn: _Connection, holder: set[_Connection], *, discard: bool = False) -> None:
        """Back to the pool when its statement is over, unless a cancel interrupted it (DuckDB could still
        hold the interrupt for the next statement, which would then belong to another session)."""
        with self._lock:
            if conn not in holder:
                return
            holder.discard(conn)
            conn.busy = False
            keep = not (discard or conn.interrupted) and len(self._idle) < self._max_idle
            if keep:
                self._idle.append(conn)
        if not keep:
            with contextlib.suppress(duckdb.Error):
                conn.cursor.close()

    def interrupt(self, holder: set[_Connection]) -> None:
        """Interrupt whatever a worker thread is running for this holder (a CancelRequest)."""
        with self._lock:
            for conn in holder:
                if conn.busy:
                    conn.interrupted = True
                    conn.cursor.interrupt()

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
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(duckdb.Error):
                conn.cursor.close()
        self._con.close()
