"""A Databricks SQL warehouse behind the Backend Protocol, through databricks-sql-connector.

The connector is blocking, so every call runs in a bounded thread pool and the event loop only
awaits futures. Each gateway session leases one connection of its own identity (passthrough: the
user's token; service: databricks-sdk unified auth) for its lifetime; idle connections are reused
by later sessions of the same identity and expire. Results are pulled with `fetchmany_arrow` one
batch ahead of the writer (a one-slot queue between the worker thread and the loop), so a slow
client holds at most two batches and never a worker thread. Transient failures are retried with
exponential backoff only until the first batch was handed to the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import sqlglot
import structlog
from sqlglot import exp

from gateway.backends.base import Credentials
from gateway.backends.databricks_config import DatabricksSettings, RetrySettings
from gateway.backends.databricks_errors import (
    is_auth_failure,
    is_transient,
    is_warehouse_starting,
    map_databricks_error,
)
from gateway.backends.databricks_pool import ConnectionPool, Identity
from gateway.backends.databricks_types import schema_from_describe
from virtual_schema.errors import CANNOT_CONNECT_NOW, INVALID_PASSWORD, QUERY_CANCELED, PgError

__all__ = ["ConnectFactory", "DatabricksBackend", "DatabricksSession", "DatabricksSettings", "Identity",
           "RetrySettings"]

log = structlog.get_logger("gateway.databricks")

# Receives the keyword arguments the backend built for databricks.sql.connect (credential included)
# and returns a DB-API connection. The default calls databricks.sql.connect; tests inject their own.
ConnectFactory = Callable[[dict[str, Any]], Any]
Notice = Callable[[str], None]


def _default_connect(kwargs: dict[str, Any]) -> Any:
    from databricks import sql

    return sql.connect(**kwargs)


@dataclass(slots=True, eq=False)
class _Run:
    """One statement in flight: the cursor a CancelRequest must reach."""

    cursor: Any
    cancelled: bool = False
    finished: threading.Event = field(default_factory=threading.Event)


def _cancelled_error() -> PgError:
    return PgError(QUERY_CANCELED, "canceling statement due to user request")


class DatabricksSession:
    def __init__(self, backend: DatabricksBackend, identity: Identity, conn: Any, notice: Notice | None) -> None:
        self._backend = backend
        self._identity = identity
        self._conn = conn
        self._notice = notice
        self._runs: set[_Run] = set()
        self._background: set[Future[Any]] = set()
        self._closed = False

    @property
    def identity_key(self) -> str:
        return self._identity.key

    @property
    def connection(self) -> Any:
        return self._conn

    def _say(self, text: str) -> None:
        if self._notice is not None:
            with contextlib.suppress(Exception):  # a notice must never break the statement
                self._notice(text)

    # -- worker-thread side -------------------------------------------------------------------
    def _start(self, run: _Run, sql: str, params: Sequence[object]) -> list[pa.RecordBatch] | None:
        """Execute and fetch the first batch (so failures before any row can still be retried)."""
        cursor = run.cursor
        if params:
            cursor.execute(sql, list(params))
        else:
            cursor.execute(sql)
        if run.cancelled:
            raise _cancelled_error()
        return self._fetch(run)

    def _fetch(self, run: _Run) -> list[pa.RecordBatch] | None:
        cursor = run.cursor
        if run.cancelled:
            raise _cancelled_error()
        if not cursor.description:  # a statement without a result set (DDL, SET, USE)
            return None
        table = cursor.fetchmany_arrow(self._backend.settings.batch_rows)
        if not isinstance(table, pa.Table):  # column-based results (older clusters) come as the connector's ColumnTable
            table = pa.Table.from_pydict(dict(zip(table.column_names, table.column_table, strict=True)))
        if run.cancelled:
            raise _cancelled_error()
        if table.num_rows == 0:
            return [pa.RecordBatch.from_pylist([], schema=table.schema)]
        batches: list[pa.RecordBatch] = table.combine_chunks().to_batches()
        return batches

    def _cancel_in_thread(self, run: _Run) -> None:
        # The connector learns the statement's handle only once ExecuteStatement answered, and that
        # call can take seconds (a busy or starting warehouse); a cancel that arrives before waits for
        # the handle as long as the call can last (the socket timeout), not a fixed few seconds after
        # which the statement would run on unstopped.
        deadline = time.monotonic() + self._backend.settings.connect_timeout_seconds + 5.0
        while not run.finished.is_set():
            if run.cursor.active_command_id is not None:
                with contextlib.suppress(Exception):
                    run.cursor.cancel()
                return
            if time.monotonic() > deadline:
                return
            run.finished.wait(0.05)

    def _close_cursor(self, run: _Run) -> None:
        with contextlib.suppress(Exception):  # closing a cancelled or broken operation may fail; it is gone anyway
            run.cursor.close()

    # -- event-loop side ------------------------------------------------------------------------
    def _submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        fut = self._backend.pool.submit(fn, *args)
        self._background.add(fut)
        fut.add_done_callback(self._background.discard)
        return fut

    async def execute(self, sql: str, params: Sequence[object] = ()) -> AsyncIterator[pa.RecordBatch]:
        if self._closed:
            raise PgError("08003", "the warehouse session is closed")
        settings = self._backend.settings
        retry = settings.retry
        noticed = False
        attempt = 0
        started = time.monotonic()
        while True:
            attempt += 1
            run = _Run(self._conn.cursor(arraysize=settings.batch_rows))
            self._runs.add(run)
            worker = self._submit(self._start, run, sql, params)
            try:
                first = await asyncio.wrap_future(worker)
                break
            except asyncio.CancelledError:
                self._abandon(run, worker)
                raise
            except PgError:
                self._abandon(run, None)
                raise
            except Exception as e:  # the connector raises many types; each one is classified below

                self._abandon(run, None)
                if run.cancelled:
                    raise map_databricks_error(e, cancelled=True) from None
                if attempt >= retry.attempts or not is_transient(e):
                    log.info("databricks.statement.failed", identity=self._identity.key, attempt=attempt,
                             error=type(e).__name__)
                    raise map_databricks_error(e) from None
                if is_warehouse_starting(e) and not noticed:
                    noticed = True
                    self._say(settings.starting_notice)
                delay = retry.delay(attempt)
                log.info("databricks.statement.retry", identity=self._identity.key, attempt=attempt,
                         delay=delay, error=type(e).__name__)
                await asyncio.sleep(delay)
                await self._reconnect_if_broken()
        log.debug("databricks.statement.started", identity=self._identity.key, attempts=attempt,
                  seconds=round(time.monotonic() - started, 3))
        fetching: Future[Any] | None = None
        try:
            if first is None:
                yield pa.RecordBatch.from_pylist([], schema=pa.schema([]))
                return
            batches = first
            while True:
                fetching = self._submit(self._fetch, run)  # one batch ahead of the writer
                for batch in batches:
                    yield batch
                try:
                    nxt = await asyncio.wrap_future(fetching)
                except PgError:
                    raise
                except Exception as e:  # rows were sent: no retry, just the mapped error
                    raise map_databricks_error(e, cancelled=run.cancelled) from None
                if nxt is None or all(b.num_rows == 0 for b in nxt):
                    return
                batches = nxt
        finally:
            self._abandon(run, fetching)

    def _abandon(self, run: _Run, worker: Future[Any] | None) -> None:
        """Forget a statement without waiting: cancel it if a worker still runs it, then close its cursor."""
        self._runs.discard(run)
        if worker is not None and not worker.done():
            run.cancelled = True
            self._submit(self._cancel_in_thread, run)
            worker.add_done_callback(lambda _f: self._after_worker(run))
        else:
            self._after_worker(run)

    def _after_worker(self, run: _Run) -> None:
        run.finished.set()
        with contextlib.suppress(RuntimeError):  # the pool is already shut down: the backend is closing
            self._submit(self._close_cursor, run)

    async def _reconnect_if_broken(self) -> None:
        """After a transient failure, probe the connection; replace it (same identity) if it is dead."""
        backend = self._backend

        def probe_or_replace() -> Any:
            try:
                backend.probe(self._conn)
                return self._conn
            except Exception:  # any failure here means: open a new connection for this identity
                backend.connections.release(self._identity, self._conn, reusable=False)
                return backend.connections.acquire(self._identity, fresh=True)

        with contextlib.suppress(Exception):  # if that fails too, the next attempt reports the error
            self._conn = await asyncio.wrap_future(self._submit(probe_or_replace))

    async def cancel(self) -> None:
        for run in list(self._runs):
            run.cancelled = True
            self._submit(self._cancel_in_thread, run)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.cancel()
        pending = [asyncio.wrap_future(f) for f in list(self._background)]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.wrap_future(self._backend.pool.submit(
            self._backend.connections.release, self._identity, self._conn))


class DatabricksBackend:
    dialect = "databricks"

    def __init__(self, settings: DatabricksSettings, *, connect: ConnectFactory | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._connect_factory = connect or _default_connect
        self._clock = clock
        self.pool = ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="databricks")
        self.connections = ConnectionPool(self._open_connection, idle_expiry_seconds=settings.idle_expiry_seconds,
                                          max_idle_per_identity=settings.max_idle_per_identity, clock=clock)
        self._schemas: dict[str, tuple[float, pa.Schema]] = {}
        self._service_headers: Callable[[], Any] | None = None
        self._last_identity: Identity | None = None

    # -- connections ----------------------------------------------------------------------------
    def connect_kwargs(self, identity: Identity) -> dict[str, Any]:
        """Keyword arguments for databricks.sql.connect for one identity (contains the credential)."""
        s = self.settings
        kwargs: dict[str, Any] = {
            "server_hostname": s.server_hostname,
            "http_path": s.resolved_http_path,
            "session_configuration": dict(s.session_configuration),
            "_socket_timeout": s.connect_timeout_seconds,
            # The gateway retries transient failures itself (and tells the client when a warehouse
            # starts) instead of letting the connector wait silently for up to 15 minutes.
            "_retry_stop_after_attempts_count": 1,
            "_enable_v3_retries": False,
        }
        if s.catalog:
            kwargs["catalog"] = s.catalog
        if s.schema_:
            kwargs["schema"] = s.schema_
        if identity.token is not None:
            kwargs["access_token"] = identity.token
        else:
            kwargs["credentials_provider"] = self._service_credentials()
        kwargs.update(s.connect_kwargs)
        return kwargs

    def _service_credentials(self) -> Callable[[], Any]:
        if self._service_headers is None:
            from databricks.sdk.core import Config

            host = self.settings.server_hostname
            options: dict[str, Any] = dict(self.settings.service_auth)
            cfg = Config(host=f"https://{host}" if host and "://" not in host else host or None, **options)
            self._service_headers = cfg.authenticate
        headers = self._service_headers

        def provider() -> Callable[[], Any]:
            return headers

        return provider

    def _open_connection(self, identity: Identity) -> Any:
        return self._connect_factory(self.connect_kwargs(identity))

    @staticmethod
    def probe(conn: Any) -> None:
        """The cheapest statement that proves the session and its credential work."""
        cur = conn.cursor()
        try:
            cur.execute("SELECT 1")
            cur.fetchall()
        finally:
            with contextlib.suppress(Exception):
                cur.close()

    def _identity_for(self, credentials: Credentials) -> Identity:
        if self.settings.auth_mode == "service":
            return Identity.service()
        if not credentials.password:
            raise PgError(INVALID_PASSWORD, f'password authentication failed for user "{credentials.user}"',
                          detail="passthrough mode: the password must be a Databricks access token")
        return Identity.for_token(credentials.password)

    async def open_session(self, credentials: Credentials, notice: Notice | None = None) -> DatabricksSession:
        """Lease a connection for this user and prove the credential with SELECT 1 (refusal → 28P01)."""
        identity = self._identity_for(credentials)
        retry = self.settings.retry
        loop = asyncio.get_running_loop()
        noticed = False

        def lease_and_check(fresh: bool) -> Any:
            conn = self.connections.acquire(identity, fresh=fresh)
            try:
                self.probe(conn)
            except BaseException:
                self.connections.release(identity, conn, reusable=False)
                raise
            return conn

        attempt = 0
        while True:
            attempt += 1
            try:
                conn = await loop.run_in_executor(self.pool, lease_and_check, attempt > 1)
                break
            except Exception as e:  # classified: auth refusal, transient, or a mapped warehouse error
                if is_auth_failure(e):
                    log.info("databricks.login.refused", identity=identity.key, user=credentials.user)
                    raise PgError(INVALID_PASSWORD, f'password authentication failed for user "{credentials.user}"',
                                  detail=map_databricks_error(e).detail) from None
                if attempt >= retry.attempts or not is_transient(e):
                    raise map_databricks_error(e) from None
                if is_warehouse_starting(e) and not noticed and notice is not None:
                    noticed = True
                    with contextlib.suppress(Exception):
                        notice(self.settings.starting_notice)
                await asyncio.sleep(retry.delay(attempt))
        self._last_identity = identity
        log.info("databricks.session.opened", identity=identity.key, user=credentials.user)
        return DatabricksSession(self, identity, conn, notice)

    # -- metadata -------------------------------------------------------------------------------
    def _quoted(self, relation: str) -> str:
        table = exp.to_table(relation, dialect="databricks")
        return table.sql(dialect="databricks", identify=True)

    def _metadata_identity(self) -> Identity:
        """Who reads table metadata: the service identity if configured, else the last user who logged in."""
        if self.settings.auth_mode == "service" or self.settings.service_auth:
            return Identity.service()
        if self._last_identity is None:
            raise PgError(CANNOT_CONNECT_NOW, "no warehouse identity is available to read table metadata yet",
                          hint="configure service_auth for metadata reads in passthrough mode")
        return self._last_identity

    def _describe(self, relation: str) -> pa.Schema:
        identity = self._metadata_identity()
        conn = self.connections.acquire(identity)
        reusable = False
        try:
            cur = conn.cursor()
            try:
                cur.execute(f"DESCRIBE TABLE {self._quoted(relation)}")
                rows = [tuple(r) for r in cur.fetchall()]
            finally:
                with contextlib.suppress(Exception):
                    cur.close()
            reusable = True
        except sqlglot.errors.ParseError as e:
            reusable = True
            raise PgError("42602", f"invalid relation name: {relation}", detail=str(e)) from None
        except Exception as e:  # the warehouse's answer, mapped
            reusable = not is_transient(e)
            raise map_databricks_error(e) from None
        finally:
            self.connections.release(identity, conn, reusable=reusable)
        return schema_from_describe(rows)

    async def table_schema(self, relation: str) -> pa.Schema:
        now = self._clock()
        cached = self._schemas.get(relation)
        if cached is not None and now - cached[0] < self.settings.schema_cache_ttl_seconds:
            return cached[1]
        schema = await asyncio.get_running_loop().run_in_executor(self.pool, self._describe, relation)
        self._schemas[relation] = (self._clock(), schema)
        return schema

    def forget_schemas(self) -> None:
        self._schemas.clear()

    # -- health ---------------------------------------------------------------------------------
    def _endpoint(self) -> tuple[str, int]:
        uri = self.settings.connect_kwargs.get("_connection_uri")
        if isinstance(uri, str) and uri:
            parts = urlsplit(uri)
            return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)
        host = self.settings.server_hostname
        port = self.settings.connect_kwargs.get("_port", 443)
        return host, int(port) if isinstance(port, int | str) else 443

    async def ready(self) -> bool:
        """Service mode: SELECT 1 as the service identity. Passthrough: the warehouse endpoint accepts TCP."""
        timeout = self.settings.ready_timeout_seconds
        loop = asyncio.get_running_loop()
        if self.settings.auth_mode == "service":
            identity = Identity.service()

            def check() -> bool:
                conn = self.connections.acquire(identity)
                ok = False
                try:
                    self.probe(conn)
                    ok = True
                    return True
                finally:
                    self.connections.release(identity, conn, reusable=ok)

            try:
                return await asyncio.wait_for(loop.run_in_executor(self.pool, check), timeout)
            except (TimeoutError, PgError):
                return False
            except Exception:  # not ready, whatever the reason
                return False
        host, port = self._endpoint()
        if not host:
            return False

        def reach() -> bool:
            with socket.create_connection((host, port), timeout=timeout):
                return True

        try:
            return await asyncio.wait_for(loop.run_in_executor(self.pool, reach), timeout + 1)
        except (TimeoutError, OSError):
            return False

    def idle_connections(self) -> Mapping[str, int]:
        return self.connections.counts()

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self.pool, self.connections.close_all)
        self.pool.shutdown(wait=False, cancel_futures=True)
