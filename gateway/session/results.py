"""Where a portal's rows come from (warehouse, catalog engine, constant, EXPLAIN text) and how they
are encoded and tagged.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pyarrow as pa

from gateway.protocol.codec import error_response
from gateway.protocol.rowenc import RowEncoder
from gateway.router import Kind
from gateway.session.core import WRITE_FLUSH_BYTES
from gateway.session.explain import Measured, render
from gateway.session.planning import Planning
from gateway.session.portals import BatchStream, Portal
from gateway.session.temp_inline import type_sql
from virtual_schema import errors as E
from virtual_schema.catalog.engine import CatalogResult
from virtual_schema.errors import PgError

PIECE_ROWS = 1024  # rows per encoded piece of a large batch
PIECE_BYTES = 64 * 1024  # buffered bytes that go to the socket without waiting for the batch's end
_REG_TYPES = frozenset({24, 2202, 2203, 2204, 2205, 2206, 4089, 4096})
_ENCODERS_PER_SESSION = 64


async def _empty_stream() -> AsyncIterator[pa.RecordBatch]:
    return
    yield  # pragma: no cover


async def _iter_sync(batches: Any) -> AsyncIterator[pa.RecordBatch]:
    for b in batches:
        yield b


async def in_thread(fn: Any, *args: Any, interrupt: Any = None) -> Any:
    """Run blocking catalog work in a thread; if cancelled, interrupt it and wait until the thread is
    done, so the next statement never finds the catalog session still busy."""
    fut = asyncio.get_running_loop().run_in_executor(None, fn, *args)
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        if interrupt is not None:
            interrupt()
        with contextlib.suppress(BaseException):
            await fut
        raise


@contextlib.asynccontextmanager
async def _closing(stream: BatchStream) -> AsyncIterator[BatchStream]:
    """The stream, closed when the block ends however it ends: cancelled or failed midway, the warehouse statement
    stops now, not at garbage collection."""
    try:
        yield stream
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


@contextlib.contextmanager
def catalog_transaction(cat: Any) -> Iterator[None]:
    """A temp-table write's catalog transaction: the block's when one is open (its end decides), else its own,
    committed when the write completes and rolled back when it fails, so a failure midway leaves nothing."""
    own = not cat.in_transaction
    if own:
        cat.begin()
    try:
        yield
    except BaseException:
        if own:
            cat.end(False)
        raise
    if own:
        cat.end(True)


async def _iter_in_thread(batches: Any, interrupt: Any = None) -> AsyncIterator[pa.RecordBatch]:
    """Pull a lazy catalog result in a worker thread so a long catalog query never blocks the loop."""
    if isinstance(batches, (list, tuple)):
        for b in batches:
            yield b
        return
    it = iter(batches)
    sentinel = object()
    while True:
        b = await in_thread(next, it, sentinel, interrupt=interrupt)
        if b is sentinel:
            return
        yield b


class Results(Planning):
    """Result streams, row encoders and command tags of portals."""

    async def start_stream(self, portal: Portal) -> BatchStream:
        p = portal.prepared
        if p.route == "semantic":
            return self.warehouse_stream(portal)
        if p.route == "constant":
            assert p.constant is not None
            return _iter_sync([p.constant.batch(self)])
        if p.route == "load":
            portal.extra["tag"] = await self.run_load(portal)
            return _empty_stream()
        if p.route == "explain":
            assert p.explain is not None
            lines = render(p.explain, await self.analyze(portal) if p.explain.analyze else None)
            return _iter_sync([pa.record_batch([pa.array(lines, pa.string())], names=["QUERY PLAN"])])
        stream, result = await self.catalog_stream(p.statement.sql, portal)
        portal.extra["tag"] = result.command_tag
        return stream

    def warehouse_stream(self, portal: Portal) -> BatchStream:
        """The portal's warehouse SQL running in the session's backend, parameters in the order it wants them."""
        p = portal.prepared
        self.refresh_temp_reads(p)
        if p.empty:
            return _empty_stream()
        assert self.backend_session is not None and p.compiled_sql is not None
        params = tuple(portal.params[i] for i in p.param_order) if p.param_order else portal.params
        return self.backend_session.execute(p.compiled_sql, params)

    async def run_load(self, portal: Portal) -> str:
        """Write a semantic query's rows into a temp table (created first for CREATE TABLE AS / SELECT INTO), batch
        by batch as the warehouse sends them; the whole write is one catalog transaction (the block's, if any), so a
        failure midway leaves no rows behind. Returns the command tag."""
        plan = portal.prepared.load
        assert plan is not None
        load, cat = plan.load, self.catalog_session
        if load.create and load.target in cat.temp_tables:
            if load.if_not_exists:
                self.send(error_response(PgError(E.DUPLICATE_TABLE, f'relation "{load.target}" already exists, '
                                                 "skipping"), notice=True))
                return "CREATE TABLE AS"
            raise PgError(E.DUPLICATE_TABLE, f'relation "{load.target}" already exists')
        if not load.create and load.target not in cat.temp_tables:
            raise PgError(E.UNDEFINED_TABLE, f'relation "{load.target}" does not exist')
        rows = 0
        with catalog_transaction(cat):
            if load.create:
                await in_thread(cat.create_temp_table, load.target, [(c, type_sql(t)) for c, t in plan.columns])
            if load.with_data:
                names = [c for c, _ in plan.columns]
                async with _closing(self.warehouse_stream(portal)) as stream:
                    async for batch in stream:
                        if batch.num_rows:
                            await in_thread(cat.append_rows, load.target, names, batch)
                            rows += batch.num_rows
        return load.tag.format(rows)

    async def catalog_stream(self, sql: str, portal: Portal) -> tuple[BatchStream, CatalogResult]:
        """`sql` run by the catalog engine in a worker thread (interruptible), and its result (tag, row count)."""
        interrupt = getattr(self.catalog_session, "interrupt", None)
        result = await in_thread(self.catalog_session.execute, sql, portal.params, interrupt=interrupt)
        return _iter_in_thread(result.batches, interrupt), result

    async def analyze(self, portal: Portal) -> Measured:
        """EXPLAIN ANALYZE: run the explained statement as its own Execute would (the warehouse SQL through the
        session's backend, or the catalog engine, so a temp-table write really writes), count its rows batch by
        batch and drop them (a large result is never held), and report rows and times. It runs inside the
        statement guard, so CancelRequest and statement_timeout stop it, and its errors are the query's own."""
        plan = portal.prepared.explain
        assert plan is not None
        started = time.perf_counter()
        first: float | None = None
        rows = 0
        written: int | None = None  # a catalog write without RETURNING: the rows it wrote
        if plan.target == "semantic":
            stream, node = self.warehouse_stream(portal), "Warehouse Query"
        else:
            stream, result = await self.catalog_stream(plan.query, portal)
            node = "Catalog Engine"
            written = None if result.columns else result.rowcount
        async with _closing(stream):
            async for batch in stream:
                if first is None and batch.num_rows:
                    first = time.perf_counter() - started
                rows += batch.num_rows
        total = time.perf_counter() - started
        return Measured(node, rows if written is None else written, first, total)

    async def send_batch(self, encoder: RowEncoder, batch: pa.RecordBatch,
                         reframe: Callable[[bytes | memoryview], bytes | memoryview] | None = None) -> None:
        """Rows join the reply buffer: a small result leaves in one write together with its CommandComplete
        and ReadyForQuery. A large batch is encoded piece by piece and each piece handed to the socket at
        once, so the client parses rows while the rest are encoded. Backpressure is per piece: once the
        transport holds more than the socket took, encoding waits for it to drain, so a slow client never
        makes the gateway copy a whole batch into its own buffer (PostgreSQL blocks in send() the same way).
        `reframe` turns each piece of DataRows into other messages (COPY's CopyData) before it is sent."""
        transport = self.writer.transport
        for piece in encoder.encode_pieces(batch, PIECE_ROWS):
            self.send_raw(piece if reframe is None else reframe(piece))
            if self.out_size >= PIECE_BYTES:
                self.write_out()
                if transport.get_write_buffer_size():
                    await self.writer.drain()
        if self.out_size >= WRITE_FLUSH_BYTES or transport.get_write_buffer_size():
            await self.flush()

    def encoder_for(self, portal: Portal) -> RowEncoder:
        enc = portal.extra.get("encoder")
        if isinstance(enc, RowEncoder):
            return enc
        assert portal.prepared.columns is not None
        types = tuple(c.type for c in portal.prepared.columns)
        tz = self.settings.get("TimeZone")
        key = (types, portal.formats, tz)
        enc = self.encoders.get(key)
        if enc is None:  # encoders only memoise per-column work: one serves every result of that shape
            if len(self.encoders) >= _ENCODERS_PER_SESSION:
                self.encoders.clear()
            enc = self.encoders[key] = RowEncoder(types, portal.formats, timezone=tz)
        portal.extra["encoder"] = enc
        return enc

    def reg_binary_columns(self, portal: Portal) -> list[tuple[int, int]]:
        """Catalog columns of reg* types that the client wants in binary: the catalog sends their names
        (PostgreSQL's text output), binary output is the OID."""
        p = portal.prepared
        if p.route != "catalog" or p.columns is None or 1 not in portal.formats:
            return []
        return [(i, c.type.oid) for i, c in enumerate(p.columns)
                if c.type.oid in _REG_TYPES and portal.formats[i] == 1]

    def reg_names_to_oids(self, batch: pa.RecordBatch, cols: list[tuple[int, int]]) -> pa.RecordBatch:
        reg_oid = self.catalog_session.reg_oid
        arrays = list(batch.columns)
        for i, kind in cols:
            arr = arrays[i]
            if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
                arrays[i] = pa.array([None if v is None else reg_oid(kind, v) for v in arr.to_pylist()],
                                     pa.uint32())
        return pa.record_batch(arrays, schema=pa.schema([pa.field(f.name, a.type) for f, a in
                                                         zip(batch.schema, arrays, strict=True)]))

    def after_temp_ddl(self, portal: Portal) -> None:
        plan = portal.prepared.explain
        stmt = plan.runs if plan is not None and plan.runs is not None else portal.prepared.statement
        if stmt.kind is not Kind.TEMP_DDL:  # (also EXPLAIN ANALYZE CREATE TEMP TABLE … AS)
            return
        if stmt.created_temp:
            self.temp_tables.add(stmt.created_temp)
        for t in stmt.dropped:
            self.temp_tables.discard(t)

    def command_tag(self, portal: Portal) -> str:
        tag = portal.extra.get("tag")
        stmt = portal.prepared.statement
        if isinstance(tag, str) and tag and stmt.kind is not Kind.QUERY:
            return tag
        if stmt.kind is Kind.EXPLAIN:
            return "EXPLAIN"
        return f"SELECT {portal.rows}"
