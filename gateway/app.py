"""The composition root: every long-lived object is built and wired here, nowhere else."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import ssl
from pathlib import Path
from typing import Any

import structlog

from gateway.auth.provider import AuthProvider
from gateway.auth.scram import ScramVerifier
from gateway.auth.tls import server_context
from gateway.backends.base import Backend
from gateway.config import GatewaySettings
from gateway.health import HealthServer
from gateway.models import ModelRegistry
from gateway.session.cancel import CancelRegistry
from gateway.session.portals import Portal
from virtual_schema.catalog.api import SessionActivity
from virtual_schema.catalog.engine import CatalogEngine

log = structlog.get_logger("gateway")

DEFAULT_DEMO_PATH = Path("data/demo.duckdb")


def build_backend(settings: GatewaySettings) -> Backend:
    if settings.backend == "duckdb":
        from gateway.backends.duckdb import DuckDBBackend

        path = settings.duckdb
        if path is None:
            path = DEFAULT_DEMO_PATH
            if not path.exists():
                from virtual_schema.demo_warehouse import generate_demo_warehouse

                log.info("demo_warehouse.generating", path=str(path))
                path.parent.mkdir(parents=True, exist_ok=True)
                generate_demo_warehouse(path)
        return DuckDBBackend(path, threads=settings.backend_threads, batch_rows=settings.batch_rows,
                             coalesce=settings.coalesce_identical, engine_threads=settings.duckdb_threads,
                             memory_limit=settings.duckdb_memory_limit)
    from gateway.backends.databricks import DatabricksBackend, DatabricksSettings

    databricks: Backend = DatabricksBackend(DatabricksSettings(**settings.databricks))
    return databricks


class GatewayApp:
    def __init__(self, settings: GatewaySettings, backend: Backend | None = None) -> None:
        self.settings = settings
        self.backend = backend if backend is not None else build_backend(settings)
        self.cancels = CancelRegistry()
        self.sessions: dict[int, Any] = {}
        self.tls_context: ssl.SSLContext | None = None
        if settings.tls_cert and settings.tls_key:
            self.tls_context = server_context(settings.tls_cert, settings.tls_key)
        passthrough = settings.backend == "databricks" and settings.databricks.get("auth_mode",
                                                                                  "passthrough") == "passthrough"
        self.auth = AuthProvider({u.name: ScramVerifier.parse(u.scram) for u in settings.users},
                                 cleartext=settings.allow_cleartext_password, passthrough=passthrough)
        self.models = ModelRegistry(settings.models, self.backend)
        self.catalog: CatalogEngine | None = None
        self.server: asyncio.Server | None = None
        self.health: HealthServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def activity(self) -> list[SessionActivity]:
        return [c.activity_row() for c in self.sessions.values()]

    def spawn_close(self, portal: Portal) -> None:
        """Close a portal's warehouse stream in the background (statement boundaries must not wait);
        a portal whose stream ended (the usual case) has nothing to finalise and closes right here."""
        if not portal.close_finished():
            self._spawn(portal.close())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        layer = await self.models.load()
        self.catalog = CatalogEngine(layer.schema, database=self.settings.database,
                                     users=tuple(u.name for u in self.settings.users))
        catalog = self.catalog
        self.models.on_change(lambda new: catalog.rebuild(new.schema))
        self.server = await asyncio.start_server(self._client, self.settings.host, self.settings.port,
                                                 limit=2**20, backlog=1024)
        if self.settings.watch_models:
            self._spawn(self.models.watch())
        if self.settings.health_port is not None:
            self.health = HealthServer(self, self.settings.host, self.settings.health_port)
            await self.health.start()
        log.info("gateway.listening", host=self.settings.host, port=self.port, backend=self.settings.backend,
                 tls=self.tls_context is not None)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from gateway.session.connection import Connection

        transport = writer.transport
        transport.set_write_buffer_limits(high=4 * 1024 * 1024)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            import socket

            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await Connection(self, reader, writer).serve()

    async def ready(self) -> bool:
        return self.models.loaded and await self.backend.ready()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self.models.reload("SIGHUP")))

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        if self.health is not None:
            await self.health.stop()
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self.sessions.values()):
            with contextlib.suppress(Exception):
                conn.writer.close()
        if self.catalog is not None:
            self.catalog.close()
        await self.backend.close()


def settle_heap(*, reloaded: bool) -> None:
    """Take what startup built (models, compiled layer, catalog snapshot) out of the cyclic collector's
    reach. Otherwise every full collection walks those objects again: a pause of about 100 ms that every
    statement in flight waits through. After a models reload the previous layer is released first."""
    if reloaded:
        gc.unfreeze()
    gc.collect()
    gc.freeze()


async def run(settings: GatewaySettings) -> None:
    app = GatewayApp(settings)
    await app.start()
    settle_heap(reloaded=False)
    app.models.on_change(lambda _new: settle_heap(reloaded=True))
    app.install_signal_handlers()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    print(f"Semantic SQL Gateway listening on {settings.host}:{app.port} "
          f"(psql 'host={settings.host} port={app.port} user=demo dbname={settings.database}')", flush=True)
    try:
        await stop.wait()
    finally:
        await app.stop()
        gc.unfreeze()  # give the frozen heap back so the interpreter's exit releases it (DuckDB's objects too)
