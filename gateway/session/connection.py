"""One client connection: startup, authentication, then the simple and extended query protocols.

The only module that touches the socket. Messages are decoded by the sans-IO codec, handled one
at a time in order (as PostgreSQL does), and replies are buffered until Sync / Flush / the end of
a simple Query; result rows join that buffer and are written (and drained) whenever it grows past
256 KB, so a slow client never makes the gateway buffer a result. The layers below each do one job:
core (state, I/O, cancel) → planning → results → cursors → copying → execution → extended → this module
(lifecycle, startup, authentication, the message loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

import structlog

from gateway.backends.base import Credentials
from gateway.protocol import messages as m
from gateway.protocol.codec import FrontendDecoder, ProtocolViolation, encode_backend, error_response
from gateway.session.core import log, statement_error
from gateway.session.extended import ExtendedProtocol
from gateway.session.settings import REPORTED
from gateway.session.startup import LiveSettings, parse_options
from virtual_schema import errors as E
from virtual_schema.catalog.api import SessionActivity, SessionInfo
from virtual_schema.errors import PgError

_SSL_REQUEST_N = b"N"


class Connection(ExtendedProtocol):
    """A client session from startup to Terminate."""

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

    def apply_startup_params(self, params: dict[str, str]) -> None:
        for key, value in params.items():
            if key in ("user", "database", "replication") or key.startswith("_pq_."):
                continue
            if key == "options":
                for name, val in parse_options(value):
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

    def session_info(self) -> SessionInfo:
        return SessionInfo(
            pid=self.pid, user=self.user, database=self.database,
            application_name=self.application_name,
            settings=LiveSettings(self.settings),
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

    async def loop(self) -> None:
        """Handle messages as they arrive; replies are flushed once everything read so far is handled. A COPY FROM
        STDIN takes its own messages from the same inbox (next_message)."""
        inbox = self.inbox
        while await self.fill_inbox():
            while inbox:
                msg = inbox.popleft()
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
        except Exception as exc:
            if isinstance(exc, ProtocolViolation):
                raise
            self.fail(statement_error(exc))
            if isinstance(msg, m.Query):  # simple_query answers every error it catches with ReadyForQuery itself
                self.send(m.ReadyForQuery(self.tx.status))
            else:
                self.skip_until_sync = True
