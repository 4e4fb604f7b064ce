"""Running statements: the simple Query protocol, portal execution with its statement log line, row
streaming with drain-based backpressure, and the session commands answered in the gateway.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence

import pyarrow as pa
import structlog

from gateway.protocol import messages as m
from gateway.protocol.codec import encode_frontend, error_response
from gateway.protocol.copyfmt import CopyWriter
from gateway.protocol.copyparse import CopyReader, input_error
from gateway.protocol.rowenc import RowEncoder, describe_fields
from gateway.router import Kind, split
from gateway.session import commands
from gateway.session.core import WRITE_FLUSH_BYTES, log, query_ids, statement_error
from gateway.session.cursors import Cursors
from gateway.session.portals import Portal
from gateway.session.results import in_thread
from virtual_schema import errors as E
from virtual_schema.errors import PgError

PIECE_ROWS = 1024  # rows per encoded piece of a large batch
PIECE_BYTES = 64 * 1024  # buffered bytes that go to the socket without waiting for the batch's end


class Execution(Cursors):
    """simple_query / run_portal / stream_rows / session_command."""

    implicit_block = False  # running the statements of a multi-statement Query (one implicit transaction)

    async def simple_query(self, sql: str) -> None:
        self.query_text = sql
        try:
            stmts = split(sql)
        except PgError as err:
            self.fail(err)
            self.send(m.ReadyForQuery(self.tx.status))
            return
        if not stmts:
            self.send(m.EmptyQueryResponse())
            self.send(m.ReadyForQuery(self.tx.status))
            return
        implicit_block = self.implicit_block = len(stmts) > 1 and self.tx.status == "I"
        failed = False
        for stmt in stmts:
            self.query_text = stmt.sql
            portal: Portal | None = None
            try:
                prepared = self.prepare("", stmt, ())
                portal = self.make_portal("", prepared, (), ())
                is_fetch = prepared.statement.kind is Kind.FETCH
                if prepared.columns is not None and not is_fetch:
                    self.send(describe_fields(prepared.columns, portal.formats))
                await self.run_portal(portal, None, send_description=is_fetch)
            except Exception as exc:
                failed = True
                self.fail(statement_error(exc))
                if implicit_block and self.tx.status == "E":
                    self.tx.status = "I"
                break
            finally:
                if portal is not None:
                    await portal.close()
        self.implicit_block = False
        if self.tx.status == "I":  # the implicit transaction ends with the Query: its temp writes with it
            self.end_temp_writes(commit=not failed)
        self.send(m.ReadyForQuery(self.tx.status))

    def begin_temp_writes(self) -> None:
        """A temp-table write in a transaction block (explicit, a multi-statement Query, or the extended protocol's
        implicit one up to Sync) starts the catalog transaction that the block's end (COMMIT or ROLLBACK, the
        Query's end, Sync) closes, so an error or ROLLBACK undoes it as in PostgreSQL."""
        if self.catalog_session is not None and (self.tx.status == "T" or self.implicit_block or self.tx.implicit):
            self.catalog_session.begin()

    def end_temp_writes(self, commit: bool) -> None:
        """End the catalog transaction of temp-table writes, if any; a rollback can bring back dropped tables
        and remove created ones, so the session's list of temp tables is read again."""
        cat = self.catalog_session
        if cat is not None and cat.in_transaction:
            cat.end(commit)
            self.temp_tables = set(cat.temp_tables)

    @staticmethod
    def explain_writes(portal: Portal) -> bool:
        """EXPLAIN ANALYZE of a temp-table write writes, in the block's catalog transaction like the write."""
        plan = portal.prepared.explain
        return plan is not None and plan.runs is not None and plan.runs.kind is Kind.TEMP_DDL

    async def run_portal(self, portal: Portal, max_rows: int | None, *, send_description: bool = False) -> None:
        stmt = portal.prepared.statement
        kind = stmt.kind
        qid = next(query_ids)
        started = time.perf_counter()
        self.state, self.query_text, self.query_start = "active", stmt.sql, time.time()
        outcome, sqlstate, rows = "ok", "00000", 0
        try:
            if portal.prepared.route == "constant":  # nothing to wait for: no task, no cancel point
                rows = await self.stream_rows(portal, max_rows)
            elif kind in (Kind.QUERY, Kind.EXPLAIN) or (kind is Kind.TEMP_DDL):
                if kind is Kind.TEMP_DDL or self.explain_writes(portal):
                    self.begin_temp_writes()
                rows = await self.guarded(self.stream_rows(portal, max_rows))
            elif kind is Kind.FETCH:
                rows = await self.guarded(self.fetch(stmt, send_description))
            elif kind is Kind.COPY and portal.prepared.copy_in is not None:
                self.begin_temp_writes()
                rows = await self.guarded(self.copy_in(portal))
            elif kind is Kind.COPY:
                rows = await self.guarded(self.copy_out(portal))
            else:
                self.session_command(portal)
        except Exception as exc:
            e = statement_error(exc)
            outcome, sqlstate = "error", e.sqlstate
            e.logged = True  # type: ignore[attr-defined]
            if e is exc:
                raise
            raise e from exc
        finally:
            self.state = "idle"
            if kind not in (Kind.SET, Kind.SHOW, Kind.TRANSACTION) or outcome != "ok":
                log.info("statement", query_id=qid, route=portal.prepared.route, kind=kind.value,
                         duration_ms=round((time.perf_counter() - started) * 1000, 3), rows=rows,
                         outcome=outcome, sqlstate=sqlstate, sql=stmt.sql[:2000])

    async def stream_rows(self, portal: Portal, max_rows: int | None) -> int:
        """Send rows of a portal; PortalSuspended when max_rows stopped it, else CommandComplete."""
        p = portal.prepared
        if portal.start is None:
            portal.start = lambda: self.start_stream(portal)
        encoder = self.encoder_for(portal) if p.columns is not None else None
        sent = 0
        reg_binary = self.reg_binary_columns(portal)
        async with contextlib.aclosing(portal.next_rows(max_rows)) as batches:
            async for batch in batches:
                if reg_binary:
                    batch = self.reg_names_to_oids(batch, reg_binary)
                if encoder is not None:
                    await self.send_batch(encoder, batch)
                sent += batch.num_rows
        if max_rows and not portal.done and portal.rows > 0:
            self.send(m.PortalSuspended())
            return sent
        self.after_temp_ddl(portal)
        self.send(m.CommandComplete(self.command_tag(portal)))
        return sent

    async def copy_out(self, portal: Portal) -> int:
        """COPY … TO STDOUT: CopyOutResponse, then one CopyData per row as the warehouse (or catalog) sends batches,
        with the same backpressure as DataRows, then CopyDone and `COPY n`. A failure midway is an ErrorResponse in
        place of CopyDone, as in PostgreSQL."""
        plan = portal.prepared.copy
        assert plan is not None
        if plan.query.param_types:
            raise PgError(E.PARAMETER_NOT_FOUND, "there is no parameter $1")
        rows = self.make_portal("", plan.query, (), (1,) if plan.format.kind == "binary" else ())
        rows.start = lambda: self.start_stream(rows)
        encoder = self.encoder_for(rows)
        writer = CopyWriter(plan.format, plan.names)
        reg_binary = self.reg_binary_columns(rows)
        sent = 0
        try:
            self.send_raw(writer.begin())
            async with contextlib.aclosing(rows.next_rows(None)) as batches:
                async for batch in batches:
                    if reg_binary:
                        batch = self.reg_names_to_oids(batch, reg_binary)
                    await self.send_batch(encoder, batch, writer.rows)
                    sent += batch.num_rows
        finally:
            await rows.close()
        self.send_raw(writer.end())
        self.send(m.CommandComplete(f"COPY {sent}"))
        return sent

    async def copy_in(self, portal: Portal) -> int:
        """COPY temp_table FROM STDIN: CopyInResponse, then the client's CopyData parsed into rows and appended batch
        by batch until CopyDone (`COPY n`) or CopyFail (57014). The whole load is one catalog transaction (the
        block's, if any), so a bad row midway leaves nothing behind. Flush and Sync are ignored meanwhile, any
        other message ends the COPY with 08P01, as in PostgreSQL."""
        plan = portal.prepared.copy_in
        assert plan is not None
        o = plan.options
        cat = self.catalog_session
        declared = dict(cat.temp_columns[plan.table])
        reader = CopyReader(o.format, plan.columns, plan.table, delimiter=o.delimiter.encode(), null=o.null.encode(),
                            header=o.header, quote=o.quote.encode(), escape=o.escape.encode(),
                            type_oids=[declared[c].oid for c in plan.columns])
        self.copy_storage[plan.table] = await in_thread(cat.storage_types, plan.table)
        fmt = 1 if o.format == "binary" else 0
        self.send(m.CopyInResponse(fmt, (fmt,) * len(plan.columns)))
        await self.flush()
        own = not cat.in_transaction
        if own:
            cat.begin()
        rows = 0
        try:
            while True:
                msg = await self.next_message()
                if isinstance(msg, m.CopyData):
                    batches = reader.feed(msg.data)
                elif isinstance(msg, m.CopyDone):
                    batches = reader.finish()
                elif isinstance(msg, m.CopyFail):
                    raise PgError(E.QUERY_CANCELED, f"COPY from stdin failed: {msg.message}")
                elif isinstance(msg, (m.Flush, m.Sync)):
                    continue
                else:
                    raise PgError(E.PROTOCOL_VIOLATION,
                                  f"unexpected message type 0x{_message_type(msg):02X} during COPY from stdin")
                for batch, lines in batches:
                    try:
                        await in_thread(cat.append_rows, plan.table, list(plan.columns), batch)
                    except PgError as err:
                        raise await self.copy_input_error(err, plan.table, plan.columns, batch, lines) from None
                    rows += batch.num_rows
                if isinstance(msg, m.CopyDone):
                    break
        except BaseException:
            if own:
                cat.end(False)
            raise
        if own:
            cat.end(True)
        self.send(m.CommandComplete(f"COPY {rows}"))
        return rows

    async def copy_input_error(self, err: PgError, table: str, columns: Sequence[str], batch: pa.RecordBatch,
                               lines: Sequence[int]) -> PgError:
        """A value of a COPY FROM batch its column's type refused, worded as PostgreSQL's input function words it,
        with the line and column in CONTEXT; `err` itself when it is not about one value."""
        if err.sqlstate not in (E.INVALID_TEXT_REPRESENTATION, E.NUMERIC_VALUE_OUT_OF_RANGE, "22007", "22008"):
            return err
        storage = self.copy_storage.get(table) or {}
        found = await in_thread(self.catalog_session.first_bad_value, batch, [storage[c] for c in columns])
        if found is None:
            return err
        row, k = found
        value = batch.column(k)[row].as_py()
        pg_type = dict(self.catalog_session.temp_columns[table])[columns[k]]
        return input_error(pg_type, value, f'COPY {table}, line {lines[row]}, column {columns[k]}: "{value}"')

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

    def session_command(self, portal: Portal) -> None:
        stmt = portal.prepared.statement
        node = stmt.node
        notices = commands.Notices()
        kind = stmt.kind
        if kind is Kind.SET:
            changed = commands.apply_set(self.settings, node, self.tx.status != "I", notices)
            for name in changed:
                value = self.reported_value(name)
                self.send(m.ParameterStatus(name, value))
                if name == "application_name":
                    self.application_name = value
                    structlog.contextvars.bind_contextvars(application_name=value)
            tag = "RESET" if node.get("kind") in ("VAR_RESET", "VAR_RESET_ALL") else "SET"
        elif kind is Kind.SHOW:
            cols, batch = commands.show(self.settings, node.get("name", ""))
            enc = RowEncoder([c.type for c in cols], portal.formats or (0,) * len(cols))
            self.send_raw(enc.encode(batch))
            tag = "SHOW"
            self.send(m.CommandComplete(tag))
            return
        elif kind is Kind.TRANSACTION:
            before = self.tx.status
            tag = self.tx.command(node, self.settings, notices)
            if node["kind"] in ("TRANS_STMT_SAVEPOINT", "TRANS_STMT_ROLLBACK_TO"):
                # DuckDB has no savepoints: the catalog transaction of temp-table writes ends at each SAVEPOINT
                # (keeping them) and the next write starts another, so ROLLBACK TO the latest savepoint undoes
                # exactly the writes after it, also when an error has aborted DuckDB's transaction (psqlODBC's
                # statement-level rollback). A whole-block ROLLBACK then undoes only the writes after the
                # block's last savepoint.
                self.end_temp_writes(commit=node["kind"] == "TRANS_STMT_SAVEPOINT")
            elif tag in ("COMMIT", "ROLLBACK"):
                self.end_temp_writes(commit=tag == "COMMIT")
            if before != "I" and self.tx.status == "I":
                self.end_transaction()
        elif kind is Kind.DISCARD:
            target = node.get("target", "DISCARD_ALL")
            if target == "DISCARD_ALL" and self.tx.status != "I":
                raise PgError(E.ACTIVE_SQL_TRANSACTION, "DISCARD ALL cannot run inside a transaction block")
            if target == "DISCARD_ALL":
                self.settings.reset_all()
                self.prepared.clear()
                self.drop_cursors(all_=True)
            if target in ("DISCARD_ALL", "DISCARD_TEMP") and self.temp_tables:
                self.begin_temp_writes()
                self.catalog_session.drop_temp_tables()
                self.temp_tables.clear()
            tag = {"DISCARD_ALL": "DISCARD ALL", "DISCARD_PLANS": "DISCARD PLANS",
                   "DISCARD_SEQUENCES": "DISCARD SEQUENCES", "DISCARD_TEMP": "DISCARD TEMP"}[target]
        elif kind is Kind.DEALLOCATE:
            if node.get("isall") or not node.get("name"):
                self.prepared.clear()
                tag = "DEALLOCATE ALL"
            else:
                if self.prepared.pop(node["name"], None) is None:
                    raise PgError(E.INVALID_SQL_STATEMENT_NAME, f'prepared statement "{node["name"]}" does not exist')
                tag = "DEALLOCATE"
        elif kind is Kind.DECLARE:
            self.declare(portal)
            tag = "DECLARE CURSOR"
        elif kind is Kind.CLOSE:
            cursor_name: str | None = node.get("portalname")
            if cursor_name is None:
                self.drop_cursors(all_=True)
                tag = "CLOSE CURSOR ALL"
            else:
                cur = self.cursors.pop(cursor_name, None)
                if cur is None:
                    raise PgError(E.INVALID_CURSOR_NAME, f'cursor "{cursor_name}" does not exist')
                self.app.spawn_close(cur)
                tag = "CLOSE CURSOR"
        elif kind is Kind.EMPTY:
            self.send(m.EmptyQueryResponse())
            return
        else:
            raise PgError(E.FEATURE_NOT_SUPPORTED, f"{stmt.node_type} is not supported")
        for n in notices.items:
            self.send(error_response(n, notice=True))
        self.send(m.CommandComplete(tag))


def _message_type(msg: m.FrontendMessage) -> int:
    """The type byte of a client message (for PostgreSQL's "unexpected message type" errors)."""
    return encode_frontend(msg)[0] if not isinstance(msg, (m.StartupMessage, m.SSLRequest, m.GSSENCRequest,
                                                            m.CancelRequest)) else 0
