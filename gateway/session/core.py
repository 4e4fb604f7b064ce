"""What every part of a client session shares: its state, the reply buffer and the socket I/O,
and the statement guard that turns CancelRequest and statement_timeout into 57014.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import time
from typing import TYPE_CHECKING, Any

import structlog

from gateway.backends.base import BackendSession
from gateway.protocol import messages as m
from gateway.protocol.codec import FrontendDecoder, encode_backend, error_response
from gateway.protocol.rowenc import RowEncoder
from gateway.session import commands
from gateway.session.portals import Portal, Prepared
from gateway.session.settings import SessionSettings
from virtual_schema import errors as E
from virtual_schema.errors import PgError
from virtual_schema.pgtypes import PgColumnType

if TYPE_CHECKING:
    from gateway.app import GatewayApp

log = structlog.get_logger("gateway.session")


def statement_error(exc: Exception) -> PgError:
    """The error a failed statement reports: a PgError as it is; anything else is a gateway bug, logged
    with its traceback and reported as XX000 so only this statement fails and the session stays usable
    (a lost socket is not a statement error: it propagates and ends the connection)."""
    if isinstance(exc, PgError):
        return exc
    if isinstance(exc, (ConnectionError, asyncio.IncompleteReadError, OSError)):
        raise exc
    log.exception("statement.internal_error")
    return PgError(E.INTERNAL_ERROR, "internal error in the gateway", detail=f"{type(exc).__name__}: {exc}")

_conn_ids = itertools.count(1)
query_ids = itertools.count(1)
WRITE_FLUSH_BYTES = 256 * 1024


class ConnectionCore:
    """Session state and I/O; the protocol layers (planning → results → cursors → copying → execution →
    extended → connection) each add one job on top of it."""

    def __init__(self, app: GatewayApp, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.app = app
        self.reader = reader
        self.writer = writer
        self.conn_id = next(_conn_ids)
        self.decoder = FrontendDecoder(max_message_size=app.settings.max_message_size)
        self.inbox: collections.deque[m.FrontendMessage] = collections.deque()  # read, not yet handled
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

    def send(self, msg: m.BackendMessage) -> None:
        data = encode_backend(msg)
        self.out.append(data)
        self.out_size += len(data)

    def send_raw(self, data: bytes | memoryview) -> None:
        self.out.append(data)
        self.out_size += len(data)

    def write_out(self) -> None:
        """Hand the reply buffer to the transport (it sends what the socket takes now, queues the rest)."""
        out = self.out
        if out:
            self.writer.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()
            self.out_size = 0

    async def flush(self) -> None:
        self.write_out()
        await self.writer.drain()

    async def maybe_flush(self) -> None:
        if self.out_size >= WRITE_FLUSH_BYTES:
            await self.flush()

    async def fill_inbox(self) -> bool:
        """Read more of the client's messages into the inbox when it is empty; False when the client is gone."""
        if not self.inbox:
            msgs = await self.read_messages()
            if not msgs:
                return False
            self.inbox.extend(msgs)
        return True

    async def next_message(self) -> m.FrontendMessage:
        """The client's next message, for a statement that reads them itself (COPY FROM STDIN); ConnectionError
        when the client is gone."""
        if not await self.fill_inbox():
            raise ConnectionResetError("client closed the connection during COPY")
        return self.inbox.popleft()

    async def read_messages(self) -> list[m.FrontendMessage]:
        while True:
            data = await self.reader.read(256 * 1024)
            if not data:
                return []
            msgs = self.decoder.feed(data)
            if msgs:
                return msgs

    def reported_value(self, name: str) -> str:
        if name == "is_superuser":
            return "off"
        if name == "session_authorization":
            return self.user
        return self.settings.get(name)

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

    def fail(self, err: PgError) -> None:
        if not getattr(err, "logged", False):  # failed before it ran: at parse, plan or bind
            log.info("statement", query_id=next(query_ids), outcome="error", sqlstate=err.sqlstate,
                     duration_ms=0.0, rows=0, error=err.message, sql=self.query_text[:2000])
        self.send(error_response(err))
        if self.tx.status == "T":
            self.tx.status = "E"
