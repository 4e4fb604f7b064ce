"""One client connection: startup, authentication, then the simple and extended query protocols.

The only module that touches the socket. Messages are decoded by the sans-IO codec, handled one
at a time in order (as PostgreSQL does), and replies are buffered until Sync / Flush / the end of
a simple Query, except result rows, which are written batch by batch with drain-based
backpressure so a slow client never makes the gateway buffer a result.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import structlog

from gateway.backends.base import BackendSession, Credentials
from gateway.protocol import messages as m
from gateway.protocol.codec import FrontendDecoder, ProtocolViolation, encode_backend, error_response
from gateway.protocol.params import decode_param
from gateway.protocol.rowenc import RowEncoder, describe_fields
from gateway.router import Kind, Statement, split
from gateway.session import commands
from gateway.session.constant import constant_query
from gateway.session.portals import BatchStream, Portal, Prepared
from gateway.session.settings import REPORTED, SessionSettings
from virtual_schema import errors as E
from virtual_schema.catalog.api import SessionActivity, SessionInfo
from virtual_schema.errors import PgError
from virtual_schema.pgtypes import TEXT, PgColumnType
from virtual_schema.schema import ResultColumn

if TYPE_CHECKING:
    from gateway.app import GatewayApp

log = structlog.get_logger("gateway.session")

_conn_ids = itertools.count(1)
_REG_TYPES = frozenset({24, 2202, 2203, 2204, 2205, 2206, 4089, 4096})
_query_ids = itertools.count(1)
_WRITE_FLUSH_BYTES = 256 * 1024
_ENCODERS_PER_SESSION = 64
_SSL_REQUEST_N = b"N"


async def _empty_stream() -> AsyncIterator[pa.RecordBatch]:
    return
    yield  # pragma: no cover


async def _iter_sync(batches: Any) -> AsyncIterator[pa.RecordBatch]:
    for b in batches:
        yield b


async def _in_thread(fn: Any, *args: Any, interrupt: Any = None) -> Any:
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


async def _iter_in_thread(batches: Any, interrupt: Any = None) -> AsyncIterator[pa.RecordBatch]:
    """Pull a lazy catalog result in a worker thread so a long catalog query never blocks the loop."""
    if isinstance(batches, (list, tuple)):
        for b in batches:
            yield b
        return
    it = iter(batches)
    sentinel = object()
    while True:
        b = await _in_thread(next, it, sentinel, interrupt=interrupt)
        if b is sentinel:
            return
        yield b


class Connection:
    def __init__(self, app: GatewayApp, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.app = app
        self.reader = reader
        self.writer = writer
        self.conn_id = next(_conn_ids)
        self.decoder = FrontendDecoder(max_message_size=app.settings.max_message_size)
        self.out: list[bytes | memoryview] = []
        self.out_size = 0
        self.settings = SessionSettings()
        self.tx = commands.Transaction()
        self.prepared: dict[str, Prepared] = {}
        self.portals: dict[str, Portal] = {}
        self.cursors: dict[str, Portal] = {}
        self.temp_tables: set[str] = set()
        self.encoders: dict[tuple[tuple[PgColumnType, ...], tuple[int, ...], str], RowEncoder] = {}
        self.skip_until_sync = False
        self.user = ""
        self.database = ""
        self.application_name = ""
        self.pid = 0
        self.secret = 0
        self.backend_session: BackendSession | None = None
        self.catalog_session: Any = None
        self.running: asyncio.Task[Any] | None = None
        self.cancel_reason: str | None = None
        self.state = "starting"
        self.query_text = ""
        self.query_start: float | None = None
        self.backend_start = time.time()
        peer = writer.get_extra_info("peername")
        self.client_addr = peer[0] if isinstance(peer, tuple) else None
        self.closed = False
        self.event_loop = asyncio.get_running_loop()

    # ------------------------------------------------------------------ I/O
    def send(self, msg: m.BackendMessage) -> None:
        data = encode_backend(msg)
        self.out.append(data)
        self.out_size += len(data)

    def send_raw(self, data: bytes | memoryview) -> None:
        self.out.append(data)
        self.out_size += len(data)

    async def flush(self) -> None:
        out = self.out
        if out:
            self.writer.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()
            self.out_size = 0
        await self.writer.drain()

    async def maybe_flush(self) -> None:
        if self.out_size >= _WRITE_FLUSH_BYTES:
            await self.flush()

    async def read_messages(self) -> list[m.FrontendMessage]:
        while True:
            data = await self.reader.read(256 * 1024)
            if not data:
                return []
            msgs = self.decoder.feed(data)
            if msgs:
                return msgs

    # ------------------------------------------------------------------ lifecycle
    async def serve(self) -> None:
        structlog.contextvars.bind_contextvars(conn_id=self.conn_id)
        try:
            if await self.startup():
                self.state = "idle"
                await self.loop()
        except ProtocolViolation as e:
            log.warning("connection.protocol_violation", error=e.message)
            with contextlib.suppress(Exception):
                self.out.clear()
                self.send(error_response(PgError(E.PROTOCOL_VIOLATION, e.message, severity="FATAL")))
                await self.flush()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError) as e:
            log.info("connection.lost", error=str(e))
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                self.out.clear()
                self.send(error_response(PgError(E.ADMIN_SHUTDOWN,
                                                 "terminating connection due to administrator command",
                                                 severity="FATAL")))
                await self.flush()
            raise
        except Exception:  # a bug: report it and close this connection only
            log.exception("connection.internal_error")
            with contextlib.suppress(Exception):
                self.out.clear()
                self.send(error_response(PgError(E.INTERNAL_ERROR, "internal error in the gateway",
                                                 severity="FATAL")))
                await self.flush()
        finally:
            await self.cleanup()
            structlog.contextvars.unbind_contextvars("conn_id", "user", "application_name")

    async def cleanup(self) -> None:
        self.closed = True
        self.state = "closed"
        if self.pid:
            self.app.cancels.unregister(self.pid)
            self.app.sessions.pop(self.pid, None)
        for p in [*self.portals.values(), *self.cursors.values()]:
            with contextlib.suppress(Exception):
                await p.close()
        if self.catalog_session is not None:
            with contextlib.suppress(Exception):
                self.catalog_session.close()
        if self.backend_session is not None:
            with contextlib.suppress(Exception):
                await self.backend_session.close()
        with contextlib.suppress(Exception):
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        log.info("connection.closed")

    # ------------------------------------------------------------------ startup
    async def startup(self) -> bool:
        startup: m.StartupMessage | None = None
        while startup is None:
            msgs = await self.read_messages()
            if not msgs:
                return False
            for msg in msgs:
                if isinstance(msg, m.SSLRequest):
                    if self.app.tls_context is not None:
                        self.writer.write(b"S")
                        await self.writer.drain()
                        await self.writer.start_tls(self.app.tls_context)
                        self.decoder = FrontendDecoder(max_message_size=self.app.settings.max_message_size)
                    else:
                        self.writer.write(_SSL_REQUEST_N)
                        await self.writer.drain()
                elif isinstance(msg, m.GSSENCRequest):
                    self.writer.write(_SSL_REQUEST_N)
                    await self.writer.drain()
                elif isinstance(msg, m.CancelRequest):
                    self.app.cancels.cancel(msg.pid, msg.secret)
                    return False
                elif isinstance(msg, m.StartupMessage):
                    startup = msg
                    break
                else:
                    raise ProtocolViolation(E.PROTOCOL_VIOLATION, "expected a startup message")
        return await self.authenticate(startup)

    async def fatal(self, err: PgError) -> bool:
        err.severity = "FATAL"
        self.send(error_response(err))
        await self.flush()
        return False

    async def authenticate(self, startup: m.StartupMessage) -> bool:
        major, minor = startup.protocol >> 16, startup.protocol & 0xFFFF
        if major != 3:
            return await self.fatal(PgError(E.FEATURE_NOT_SUPPORTED,
                                            f"unsupported frontend protocol {major}.{minor}: server supports 3.0"))
        params = dict(startup.params)
        unrecognized = tuple(k for k in params if k.startswith("_pq_."))
        if minor > 0 or unrecognized:
            self.send(m.NegotiateProtocolVersion(0, unrecognized))
        user = params.get("user", "")
        if not user:
            return await self.fatal(PgError(E.INVALID_AUTHORIZATION_SPECIFICATION,
                                            "no PostgreSQL user name specified in startup packet"))
        self.user = user
        self.database = params.get("database") or user
        try:
            self.apply_startup_params(params)
        except PgError as e:
            return await self.fatal(e)
        self.application_name = self.settings.get("application_name")
        structlog.contextvars.bind_contextvars(user=user, application_name=self.application_name)

        password: str | None = None
        if self.app.auth.needs_cleartext:
            self.send(m.AuthenticationCleartextPassword())
            await self.flush()
            msg = await self.expect_password()
            if msg is None:
                return False
            password = m.parse_password(msg.data)
            if not self.app.auth.check_cleartext(user, password):
                log.info("auth.failed", method="password")
                return await self.fatal(PgError(E.INVALID_PASSWORD,
                                                f'password authentication failed for user "{user}"'))
        else:
            exchange = self.app.auth.scram_exchange(user)
            self.send(m.AuthenticationSASL(("SCRAM-SHA-256",)))
            await self.flush()
            msg = await self.expect_password()
            if msg is None:
                return False
            try:
                mechanism, first = m.parse_sasl_initial_response(msg.data)
                if mechanism != "SCRAM-SHA-256":
                    raise PgError(E.PROTOCOL_VIOLATION, "client selected an invalid SASL authentication mechanism")
                self.send(m.AuthenticationSASLContinue(exchange.server_first(first)))
                await self.flush()
                msg = await self.expect_password()
                if msg is None:
                    return False
                final = exchange.server_final(msg.data)
            except PgError as e:
                log.info("auth.failed", method="scram", sqlstate=e.sqlstate)
                if e.sqlstate == E.INVALID_PASSWORD:
                    e = PgError(E.INVALID_PASSWORD, f'password authentication failed for user "{user}"')
                return await self.fatal(e)
            self.send(m.AuthenticationSASLFinal(final))

        try:
            if self.app.settings.backend == "databricks":  # it reports a starting warehouse as a notice
                opener: Any = self.app.backend.open_session
                self.backend_session = await opener(Credentials(user, password), notice=self.notice_threadsafe)
            else:
                self.backend_session = await self.app.backend.open_session(Credentials(user, password))
        except PgError as e:
            return await self.fatal(e)
        if len(self.app.sessions) >= self.app.settings.max_connections:
            return await self.fatal(PgError("53300", "sorry, too many clients already"))
        self.pid, self.secret = self.app.cancels.register(self)
        self.app.sessions[self.pid] = self
        assert self.app.catalog is not None
        self.catalog_session = self.app.catalog.open_session(self.session_info())
        self.send(m.AuthenticationOk())
        for name in REPORTED:
            self.send(m.ParameterStatus(name, self.reported_value(name)))
        self.send(m.BackendKeyData(self.pid, self.secret))
        self.send(m.ReadyForQuery("I"))
        await self.flush()
        log.info("connection.ready", database=self.database, client_addr=self.client_addr)
        return True

    def notice_threadsafe(self, text: str) -> None:
        """A NoticeResponse sent right away, callable from a backend worker thread."""
        data = encode_backend(error_response(PgError("01000", text, severity="NOTICE"), notice=True))

        def write() -> None:
            if not self.closed:
                self.writer.write(data)

        self.event_loop.call_soon_threadsafe(write)

    def reported_value(self, name: str) -> str:
        if name == "is_superuser":
            return "off"
        if name == "session_authorization":
            return self.user
        return self.settings.get(name)

    def apply_startup_params(self, params: dict[str, str]) -> None:
        for key, value in params.items():
            if key in ("user", "database", "replication") or key.startswith("_pq_."):
                continue
            if key == "options":
                for name, val in _parse_options(value):
                    self.settings.set(name, val, at_startup=True)
                continue
            self.settings.set(key, value, at_startup=True)

    async def expect_password(self) -> m.PasswordMessage | None:
        msgs = await self.read_messages()
        if not msgs:
            return None
        msg = msgs[0]
        if not isinstance(msg, m.PasswordMessage):
            if isinstance(msg, m.Terminate):
                return None
            raise ProtocolViolation(E.PROTOCOL_VIOLATION, f"expected password response, got {type(msg).__name__}")
        return msg

    def session_value(self, name: str) -> object:
        """A session function's value for the constant-query path (the catalog engine's own values)."""
        if name == "version":
            return str(self.catalog_session.version_text())
        if name == "current_schema":
            return self.catalog_session.current_schema()
        if name == "current_database":
            return self.database
        if name == "pg_backend_pid":
            return self.pid
        if name in ("current_user", "session_user"):
            return self.user
        raise KeyError(name)

    def session_info(self) -> SessionInfo:
        return SessionInfo(
            pid=self.pid, user=self.user, database=self.database,
            application_name=self.application_name,
            settings=_LiveSettings(self.settings),
            set_setting=self._set_from_catalog,
            activity=self.app.activity,
            server_version=self.settings.get("server_version"),
        )

    def _set_from_catalog(self, name: str, value: str) -> None:
        self.settings.set(name, value)

    def activity_row(self) -> SessionActivity:
        state = {"I": "idle", "T": "idle in transaction", "E": "idle in transaction (aborted)"}[self.tx.status]
        if self.state == "active":
            state = "active"
        return SessionActivity(self.pid, self.user, self.database, self.application_name, self.client_addr,
                               self.backend_start, state, self.query_text, self.query_start)

    # ------------------------------------------------------------------ cancel
    def request_cancel(self, reason: str) -> None:
        task = self.running
        if task is not None and not task.done():
            self.cancel_reason = reason
            task.cancel()

    async def guarded(self, coro: Any) -> Any:
        """Run one statement step so that CancelRequest and statement_timeout stop it with 57014."""
        timeout_ms = self.settings.timeout_ms()
        self.cancel_reason = None
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self.running = task
        try:
            if timeout_ms > 0:
                done, _ = await asyncio.wait({task}, timeout=timeout_ms / 1000)
                if not done:
                    self.cancel_reason = "statement timeout"
                    task.cancel()
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.cancel_reason is None or (current is not None and current.cancelling()):
                task.cancel()
                raise
            raise PgError(E.QUERY_CANCELED, f"canceling statement due to {self.cancel_reason}") from None
        finally:
            self.running = None
            if self.cancel_reason is not None:
                self.cancel_reason = None
                if self.backend_session is not None:
                    with contextlib.suppress(Exception):
                        await self.backend_session.cancel()
                interrupt = getattr(self.catalog_session, "interrupt", None)
                if interrupt is not None:
                    with contextlib.suppress(Exception):
                        interrupt()

    # ------------------------------------------------------------------ main loop
    async def loop(self) -> None:
        while True:
            msgs = await self.read_messages()
            if not msgs:
                return
            for msg in msgs:
                if isinstance(msg, m.Terminate):
                    await self.flush()
                    return
                if self.skip_until_sync and not isinstance(msg, m.Sync):
                    continue
                await self.dispatch(msg)
            await self.flush()

    async def dispatch(self, msg: m.FrontendMessage) -> None:
        try:
            match msg:
                case m.Query():
                    await self.simple_query(msg.sql)
                case m.Parse():
                    self.on_parse(msg)
                case m.Bind():
                    self.on_bind(msg)
                case m.Describe():
                    self.on_describe(msg)
                case m.Execute():
                    await self.on_execute(msg)
                case m.Close():
                    await self.on_close(msg)
                case m.Sync():
                    await self.on_sync()
                case m.Flush():
                    await self.flush()
                case m.FunctionCall():
                    raise PgError(E.FEATURE_NOT_SUPPORTED, "the fast-path function call protocol is not supported")
                case m.CopyData() | m.CopyDone() | m.CopyFail():
                    pass  # PostgreSQL ignores stray COPY messages outside COPY mode
                case _:
                    raise ProtocolViolation(E.PROTOCOL_VIOLATION, f"unexpected message {type(msg).__name__}")
        except PgError as err:
            if isinstance(err, ProtocolViolation):
                raise
            self.fail(err)
            if not isinstance(msg, m.Query):
                self.skip_until_sync = True

    def fail(self, err: PgError) -> None:
        if not getattr(err, "logged", False):  # failed before it ran: at parse, plan or bind
            log.info("statement", query_id=next(_query_ids), outcome="error", sqlstate=err.sqlstate,
                     duration_ms=0.0, rows=0, error=err.message, sql=self.query_text[:2000])
        self.send(error_response(err))
        if self.tx.status == "T":
            self.tx.status = "E"

    # ------------------------------------------------------------------ simple query
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
        implicit_block = len(stmts) > 1 and self.tx.status == "I"
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
            except PgError as err:
                self.fail(err)
                if implicit_block and self.tx.status == "E":
                    self.tx.status = "I"
                break
            finally:
                if portal is not None:
                    await portal.close()
        self.send(m.ReadyForQuery(self.tx.status))

    # ------------------------------------------------------------------ planning
    def prepare(self, name: str, stmt: Statement, param_oids: Sequence[int]) -> Prepared:
        """Plan a statement: route it and learn its result shape without running it."""
        if self.tx.status == "E" and not _allowed_in_failed(stmt):
            raise PgError(E.IN_FAILED_SQL_TRANSACTION,
                          "current transaction is aborted, commands ignored until end of transaction block")
        given = tuple(PgColumnType(o) for o in param_oids)
        kind = stmt.kind
        if kind is Kind.REJECTED:
            assert stmt.error is not None
            raise stmt.error
        if kind is Kind.EMPTY:
            return Prepared(name, stmt, given, None, "session")
        if kind is Kind.SHOW:
            return Prepared(name, stmt, given, commands.show_columns(stmt.node.get("name", "")), "session")
        if kind is Kind.FETCH:
            name_ = stmt.node.get("portalname", "")
            cursor = self.cursors.get(name_) or self.portals.get(name_)
            cols = cursor.prepared.columns if cursor is not None and not stmt.node.get("ismove") else None
            return Prepared(name, stmt, given, cols, "session")
        if kind is Kind.DECLARE:
            inner_sql = _declare_query_text(stmt)
            inner = split(inner_sql)[0]
            inner_prepared = self.prepare("", inner, param_oids)
            p = Prepared(name, stmt, inner_prepared.param_types, None, "session")
            p.compiled_sql = inner_sql
            return p
        if kind in (Kind.QUERY, Kind.EXPLAIN):
            if not param_oids and not stmt.relations:
                const = constant_query(stmt)
                if const is not None:
                    return Prepared(name, stmt, (), const.columns, "constant", constant=const)
            route = self.route_query(stmt)
            if route == "semantic":
                layer = self.app.models.layer
                sql = stmt.sql
                if kind is Kind.EXPLAIN:
                    sql = _explain_inner(stmt)
                compiled = layer.compile(sql, tuple(param_oids))
                if kind is Kind.EXPLAIN:
                    return Prepared(name, stmt, compiled.param_types,
                                    (ResultColumn("QUERY PLAN", PgColumnType(TEXT)),), "explain",
                                    compiled_sql=compiled.sql)
                return Prepared(name, stmt, compiled.param_types, compiled.columns, "semantic",
                                compiled_sql=compiled.sql, empty=compiled.empty,
                                param_order=compiled.param_order)
            desc = self.catalog_session.describe(stmt.sql, tuple(param_oids))
            return Prepared(name, stmt, desc.param_types, desc.columns or None, "catalog")
        if kind is Kind.TEMP_DDL:
            self.check_temp_ddl(stmt)
            desc = self.catalog_session.describe(stmt.sql, tuple(param_oids)) if stmt.node_type == "InsertStmt" \
                else None
            return Prepared(name, stmt, desc.param_types if desc else given, None, "catalog")
        return Prepared(name, stmt, given, None, "session")

    def route_query(self, stmt: Statement) -> str:
        models = self.app.models
        semantic = catalog = False
        for sch, rel in stmt.relations:
            if sch is None and rel in self.temp_tables:
                catalog = True
            elif sch in (None, "public") and models.is_semantic_table(rel):
                semantic = True
            else:
                catalog = True
        if semantic and catalog:
            raise PgError(E.FEATURE_NOT_SUPPORTED,
                          "a statement cannot combine semantic tables with catalog or temporary tables")
        return "semantic" if semantic else "catalog"

    def check_temp_ddl(self, stmt: Statement) -> None:
        if stmt.node_type == "InsertStmt":
            target = stmt.relations[0]
            if target[1] not in self.temp_tables:
                raise PgError(E.READ_ONLY_SQL_TRANSACTION, "cannot execute INSERT in a read-only transaction")
        if stmt.node_type == "DropStmt":
            missing_ok = bool(stmt.node.get("missing_ok"))
            for t in stmt.dropped:
                if t not in self.temp_tables:
                    if self.app.models.is_semantic_table(t):
                        raise PgError(E.READ_ONLY_SQL_TRANSACTION,
                                      "cannot execute DROP TABLE in a read-only transaction")
                    if not missing_ok:
                        raise PgError(E.UNDEFINED_TABLE, f'table "{t}" does not exist')

    def make_portal(self, name: str, prepared: Prepared, params: tuple[object, ...],
                    formats: Sequence[int]) -> Portal:
        ncols = len(prepared.columns) if prepared.columns is not None else 0
        if not formats:
            fmts = (0,) * ncols
        elif len(formats) == 1:
            fmts = (formats[0],) * ncols
        elif len(formats) == ncols:
            fmts = tuple(formats)
        else:
            raise PgError(E.PROTOCOL_VIOLATION,
                          f"bind message has {len(formats)} result formats but query has {ncols} columns")
        return Portal(name, prepared, params, fmts)

    # ------------------------------------------------------------------ execution
    async def start_stream(self, portal: Portal) -> BatchStream:
        p = portal.prepared
        if p.route == "semantic":
            if p.empty:
                return _empty_stream()
            assert self.backend_session is not None and p.compiled_sql is not None
            params = tuple(portal.params[i] for i in p.param_order) if p.param_order else portal.params
            return self.backend_session.execute(p.compiled_sql, params)
        if p.route == "constant":
            assert p.constant is not None
            return _iter_sync([p.constant.batch(self)])
        if p.route == "explain":
            lines = (p.compiled_sql or "").splitlines() or [""]
            return _iter_sync([pa.record_batch([pa.array(lines, pa.string())], names=["QUERY PLAN"])])
        interrupt = getattr(self.catalog_session, "interrupt", None)
        result = await _in_thread(self.catalog_session.execute, p.statement.sql, portal.params, interrupt=interrupt)
        portal.extra["tag"] = result.command_tag
        return _iter_in_thread(result.batches, interrupt)

    async def run_portal(self, portal: Portal, max_rows: int | None, *, send_description: bool = False) -> None:
        stmt = portal.prepared.statement
        kind = stmt.kind
        qid = next(_query_ids)
        started = time.perf_counter()
        self.state, self.query_text, self.query_start = "active", stmt.sql, time.time()
        outcome, sqlstate, rows = "ok", "00000", 0
        try:
            if portal.prepared.route == "constant":  # nothing to wait for: no task, no cancel point
                rows = await self.stream_rows(portal, max_rows)
            elif kind in (Kind.QUERY, Kind.EXPLAIN) or (kind is Kind.TEMP_DDL):
                rows = await self.guarded(self.stream_rows(portal, max_rows))
            elif kind is Kind.FETCH:
                rows = await self.guarded(self.fetch(stmt, send_description))
            else:
                self.session_command(portal)
        except PgError as e:
            outcome, sqlstate = "error", e.sqlstate
            e.logged = True  # type: ignore[attr-defined]
            raise
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
        async for batch in portal.next_rows(max_rows):
            if reg_binary:
                batch = self.reg_names_to_oids(batch, reg_binary)
            if encoder is not None:
                # Rows join the reply buffer: a small result leaves in one write together with its
                # CommandComplete and ReadyForQuery; a large one is written (and drained) batch by batch.
                self.send_raw(encoder.encode_view(batch))
                if self.out_size >= _WRITE_FLUSH_BYTES:
                    await self.flush()
            sent += batch.num_rows
        if max_rows and not portal.done and portal.rows > 0:
            self.send(m.PortalSuspended())
            return sent
        self.after_temp_ddl(portal)
        self.send(m.CommandComplete(self.command_tag(portal)))
        return sent

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
        stmt = portal.prepared.statement
        if stmt.kind is not Kind.TEMP_DDL:
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
            if before != "I" and self.tx.status == "I":
                self.end_transaction()
        elif kind is Kind.DISCARD:
            if self.tx.status != "I":
                raise PgError(E.ACTIVE_SQL_TRANSACTION, "DISCARD ALL cannot run inside a transaction block")
            target = node.get("target", "DISCARD_ALL")
            if target == "DISCARD_ALL":
                self.settings.reset_all()
                self.prepared.clear()
                self.drop_cursors(all_=True)
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

    def declare(self, portal: Portal) -> None:
        stmt = portal.prepared.statement
        node = stmt.node
        name = node["portalname"]
        options = int(node.get("options", 0))
        hold = bool(options & 0x0020)  # CURSOR_OPT_HOLD
        binary = bool(options & 0x0001)  # CURSOR_OPT_BINARY
        if not hold and self.tx.status == "I":
            raise PgError(E.NO_ACTIVE_SQL_TRANSACTION, "DECLARE CURSOR can only be used in transaction blocks")
        if name in self.cursors:
            raise PgError(E.DUPLICATE_CURSOR, f'cursor "{name}" already exists')
        assert portal.prepared.compiled_sql is not None
        inner = split(portal.prepared.compiled_sql)[0]
        inner_prepared = self.prepare(name, inner, tuple(t.oid for t in portal.prepared.param_types))
        cursor = self.make_portal(name, inner_prepared, portal.params, (1,) if binary else ())
        cursor.hold = hold
        cursor.is_cursor = True
        self.cursors[name] = cursor

    async def fetch(self, stmt: Statement, send_description: bool) -> int:
        node = stmt.node
        name = node.get("portalname", "")
        cursor = self.cursors.get(name) or self.portals.get(name)
        if cursor is None:
            raise PgError(E.INVALID_CURSOR_NAME, f'cursor "{name}" does not exist')
        direction = node.get("direction", "FETCH_FORWARD")
        how_many = int(node.get("howMany", 1))
        is_move = bool(node.get("ismove"))
        if direction != "FETCH_FORWARD" and not (direction == "FETCH_RELATIVE" and how_many == 0):
            raise PgError("55000", "cursor can only scan forward",
                          hint="Declare it with SCROLL option to enable backward scan.")
        if direction == "FETCH_ABSOLUTE":
            raise PgError("55000", "cursor can only scan forward")
        limit = None if how_many >= 2**62 or (how_many == 0 and direction == "FETCH_FORWARD") else how_many
        if direction == "FETCH_RELATIVE":
            limit = 0
        if cursor.start is None:
            cursor.start = lambda: self.start_stream(cursor)
        cols = cursor.prepared.columns
        if send_description and not is_move and cols is not None:
            self.send(describe_fields(cols, cursor.formats))
        encoder = self.encoder_for(cursor) if (cols is not None and not is_move) else None
        count = 0
        if limit != 0:
            async for batch in cursor.next_rows(limit):
                count += batch.num_rows
                if encoder is not None:
                    self.send_raw(encoder.encode_view(batch))
                    await self.maybe_flush()
        self.send(m.CommandComplete(f"{'MOVE' if is_move else 'FETCH'} {count}"))
        return count

    def drop_cursors(self, *, all_: bool) -> None:
        for name, cur in list(self.cursors.items()):
            if all_ or not cur.hold:
                del self.cursors[name]
                self.app.spawn_close(cur)

    def end_transaction(self) -> None:
        """Portals and cursors without HOLD die with their transaction."""
        self.drop_cursors(all_=False)
        for name, portal in list(self.portals.items()):
            del self.portals[name]
            self.app.spawn_close(portal)

    # ------------------------------------------------------------------ extended protocol
    def on_parse(self, msg: m.Parse) -> None:
        self.query_text = msg.sql
        stmts = split(msg.sql)
        if len(stmts) > 1:
            raise PgError(E.SYNTAX_ERROR, "cannot insert multiple commands into a prepared statement")
        stmt = stmts[0] if stmts else Statement(Kind.EMPTY, "", "EmptyStmt", {})
        if msg.name and msg.name in self.prepared:
            raise PgError(E.DUPLICATE_PREPARED_STATEMENT, f'prepared statement "{msg.name}" already exists')
        self.begin_implicit()
        prepared = self.prepare(msg.name, stmt, msg.param_types)
        self.prepared[msg.name] = prepared
        self.send(m.ParseComplete())

    def begin_implicit(self) -> None:
        if self.tx.status == "I":
            self.tx.implicit = True

    def on_bind(self, msg: m.Bind) -> None:
        prepared = self.prepared.get(msg.statement)
        if prepared is None:
            raise PgError(E.INVALID_SQL_STATEMENT_NAME, f'prepared statement "{msg.statement}" does not exist')
        if self.tx.status == "E" and not _allowed_in_failed(prepared.statement):
            raise PgError(E.IN_FAILED_SQL_TRANSACTION,
                          "current transaction is aborted, commands ignored until end of transaction block")
        nparams = len(msg.params)
        if nparams != len(prepared.param_types):
            raise PgError(E.PROTOCOL_VIOLATION,
                          f"bind message supplies {nparams} parameters, but prepared statement "
                          f'"{msg.statement}" requires {len(prepared.param_types)}')
        fmts = msg.param_formats
        if len(fmts) not in (0, 1, nparams):
            raise PgError(E.PROTOCOL_VIOLATION,
                          f"bind message has {len(fmts)} parameter formats but {nparams} parameters")
        def fmt(i: int) -> int:
            return fmts[i] if len(fmts) == nparams else (fmts[0] if fmts else 0)

        values = tuple(decode_param(v, prepared.param_types[i].oid, fmt(i)) for i, v in enumerate(msg.params))
        if msg.portal and msg.portal in self.portals:
            raise PgError(E.DUPLICATE_CURSOR, f'portal "{msg.portal}" already exists')
        old = self.portals.pop(msg.portal, None) if not msg.portal else None
        if old is not None:
            self.app.spawn_close(old)
        self.begin_implicit()
        self.portals[msg.portal] = self.make_portal(msg.portal, prepared, values, msg.result_formats)
        self.send(m.BindComplete())

    def on_describe(self, msg: m.Describe) -> None:
        if msg.kind == "S":
            prepared = self.prepared.get(msg.name)
            if prepared is None:
                raise PgError(E.INVALID_SQL_STATEMENT_NAME, f'prepared statement "{msg.name}" does not exist')
            self.send(m.ParameterDescription(tuple(t.oid for t in prepared.param_types)))
            if prepared.columns is None:
                self.send(m.NoData())
            else:
                self.send(describe_fields(prepared.columns, (0,) * len(prepared.columns)))
        else:
            portal = self.find_portal(msg.name)
            if portal.prepared.columns is None:
                self.send(m.NoData())
            else:
                self.send(describe_fields(portal.prepared.columns, portal.formats))

    def find_portal(self, name: str) -> Portal:
        """Protocol portals and SQL cursors share one namespace, as in PostgreSQL."""
        portal = self.portals.get(name) or self.cursors.get(name)
        if portal is None:
            raise PgError(E.INVALID_CURSOR_NAME, f'portal "{name}" does not exist')
        return portal

    async def on_execute(self, msg: m.Execute) -> None:
        portal = self.find_portal(msg.portal)
        if self.tx.status == "E" and not _allowed_in_failed(portal.prepared.statement):
            raise PgError(E.IN_FAILED_SQL_TRANSACTION,
                          "current transaction is aborted, commands ignored until end of transaction block")
        if portal.prepared.statement.kind is Kind.EMPTY:
            self.send(m.EmptyQueryResponse())
            return
        if portal.done and portal.stream is not None:
            self.send(m.CommandComplete(self.command_tag(portal)))
            return
        await self.run_portal(portal, msg.max_rows or None, send_description=False)

    async def on_close(self, msg: m.Close) -> None:
        if msg.kind == "S":
            self.prepared.pop(msg.name, None)
        else:
            portal = self.portals.pop(msg.name, None) or self.cursors.pop(msg.name, None)
            if portal is not None:
                await portal.close()
        self.send(m.CloseComplete())

    async def on_sync(self) -> None:
        self.skip_until_sync = False
        if self.tx.implicit and self.tx.status != "T":
            # the implicit transaction of an extended-protocol exchange ends at Sync
            self.tx.implicit = False
            if self.tx.status == "E":
                self.tx.status = "I"
                self.settings.rollback()
            self.end_transaction()
        elif self.tx.status == "I":
            self.end_transaction()
        self.tx.implicit = False
        self.send(m.ReadyForQuery(self.tx.status))
        await self.flush()


class _LiveSettings(dict[str, str]):
    """A read-through view of a session's settings for the catalog engine."""

    def __init__(self, settings: SessionSettings) -> None:
        super().__init__()
        self._settings = settings

    def __getitem__(self, key: str) -> str:
        try:
            return self._settings.get(key)
        except PgError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self._settings.get(key)
        except PgError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Any:
        return iter(self._settings.snapshot())

    def __len__(self) -> int:
        return len(self._settings.snapshot())

    def items(self) -> Any:
        return self._settings.snapshot().items()

    def keys(self) -> Any:
        return self._settings.snapshot().keys()

    def values(self) -> Any:
        return self._settings.snapshot().values()


def _allowed_in_failed(stmt: Statement) -> bool:
    if stmt.kind is not Kind.TRANSACTION:
        return False
    return stmt.node.get("kind") in ("TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_ROLLBACK_TO")


def _declare_query_text(stmt: Statement) -> str:
    """The query of DECLARE … CURSOR … FOR <query>, cut from the statement's own text."""
    text = stmt.sql
    upper = text.upper()
    idx = upper.find(" FOR ")
    while idx != -1:
        candidate = text[idx + 5:].strip()
        try:
            if split(candidate):
                return candidate
        except PgError:
            pass
        idx = upper.find(" FOR ", idx + 1)
    raise PgError(E.SYNTAX_ERROR, "could not find the query of DECLARE CURSOR")


def _explain_inner(stmt: Statement) -> str:
    text = stmt.sql
    upper = text.upper()
    for kw in ("SELECT", "WITH", "VALUES", "(", "TABLE"):
        i = upper.find(kw, 7)
        if i != -1:
            return text[i:]
    raise PgError(E.SYNTAX_ERROR, "EXPLAIN needs a query")


def _parse_options(value: str) -> list[tuple[str, str]]:
    """The `options` startup parameter: `-c name=value` and `--name=value`, backslash escapes spaces."""
    tokens: list[str] = []
    cur: list[str] = []
    escape = False
    for ch in value:
        if escape:
            cur.append(ch)
            escape = False
        elif ch == "\\":
            escape = True
        elif ch.isspace():
            if cur:
                tokens.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        tokens.append("".join(cur))
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "-c" and i + 1 < len(tokens):
            tok = tokens[i + 1]
            i += 1
        elif tok.startswith("-c") or tok.startswith("--"):
            tok = tok[2:]
        else:
            raise PgError(E.SYNTAX_ERROR, f'invalid command-line argument for server process: {tok}')
        name, sep, val = tok.partition("=")
        if not sep:
            raise PgError(E.SYNTAX_ERROR, f'-c {name} requires a value')
        out.append((name.replace("-", "_"), val))
        i += 1
    return out
