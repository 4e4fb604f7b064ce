"""A real PostgreSQL 15 (once per session) and a raw-protocol client to read its exact DataRow bytes."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from gateway.protocol import messages as m
from gateway.protocol.codec import BackendDecoder, encode_frontend
from tests.pgserver import start_postgres


@dataclass
class RawPg:
    """Speaks the protocol to PostgreSQL with the project's codec (trust auth, no TLS)."""

    port: int
    sock: socket.socket = field(init=False)
    decoder: BackendDecoder = field(init=False, default_factory=BackendDecoder)
    pending: list[m.BackendMessage] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.send(m.StartupMessage(196608, (("user", "postgres"), ("database", "postgres"))))
        self.until_ready()

    def send(self, *msgs: m.FrontendMessage) -> None:
        self.sock.sendall(b"".join(encode_frontend(x) for x in msgs))

    def recv(self) -> m.BackendMessage:
        while not self.pending:
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("closed")
            self.pending.extend(self.decoder.feed(data))
        return self.pending.pop(0)

    def until_ready(self) -> list[m.BackendMessage]:
        out = []
        while True:
            msg = self.recv()
            out.append(msg)
            if isinstance(msg, m.ReadyForQuery):
                errors = [x for x in out if isinstance(x, m.ErrorResponse)]
                if errors:
                    raise AssertionError(dict(errors[0].fields))
                return out

    def query(self, sql: str) -> list[m.BackendMessage]:
        self.send(m.Query(sql))
        return self.until_ready()

    def rows(self, sql: str, params: tuple[bytes | None, ...] = (), param_types: tuple[int, ...] = (),
             fmt: int = 0) -> tuple[m.RowDescription, list[m.DataRow]]:
        """Rows of one extended-protocol execution with result format `fmt` for every column."""
        self.send(m.Parse("", sql, param_types), m.Bind("", "", (0,), params, (fmt,)), m.Describe("P", ""),
                  m.Execute("", 0), m.Sync())
        msgs = self.until_ready()
        desc = next(x for x in msgs if isinstance(x, m.RowDescription))
        return desc, [x for x in msgs if isinstance(x, m.DataRow)]

    def close(self) -> None:
        self.send(m.Terminate())
        self.sock.close()


@pytest.fixture(scope="session")
def pg_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port, stop = start_postgres(tmp_path_factory.mktemp("pg15"))
    yield port
    stop()


@pytest.fixture
def pg(pg_port: int) -> Iterator[RawPg]:
    client = RawPg(pg_port)
    yield client
    client.close()
