"""Running statements: the simple Query protocol, portal execution with its statement log line, row
streaming with drain-based backpressure, and the session commands answered in the gateway.
"""

from __future__ import annotations

import contextlib
import time

import structlog

from gateway.protocol import messages as m
from gateway.protocol.codec import error_response
from gateway.protocol.rowenc import RowEncoder, describe_fields
from gateway.router import Kind, split
from gateway.session import commands
from gateway.session.copying import Copying
from gateway.session.core import log, query_ids, statement_error
from gateway.session.portals import Portal
from virtual_schema import errors as E
from virtual_schema.errors import PgError


class Execution(Copying):
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

