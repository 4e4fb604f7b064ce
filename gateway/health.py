"""A tiny HTTP endpoint for orchestrators: GET /healthz (process up) and /readyz (models loaded and
the warehouse answers). Separate port so load balancers never speak HTTP to the PostgreSQL port."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.app import GatewayApp


class HealthServer:
    def __init__(self, app: GatewayApp, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.decode("latin-1").split()
            path = parts[1] if len(parts) > 1 else "/"
            body: dict[str, object]
            if path == "/healthz":
                status, body = 200, {"status": "ok"}
            elif path == "/readyz":
                ready = await self.app.ready()
                status = 200 if ready else 503
                body = {"ready": ready, "models_loaded": self.app.models.loaded,
                        "models_version": self.app.models.version, "last_reload_error": self.app.models.last_error,
                        "sessions": len(self.app.sessions)}
            else:
                status, body = 404, {"error": "not found"}
            payload = json.dumps(body).encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode() + payload)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
