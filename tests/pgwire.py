"""A minimal raw PostgreSQL-protocol client for tests that need exact control of the message flow
(error-then-Sync, Execute row limits, malformed frames, CancelRequest). Uses the project's codec
for framing and does SCRAM itself, as libpq would."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import struct
from dataclasses import dataclass, field

from gateway.protocol import messages as m
from gateway.protocol.codec import BackendDecoder, encode_frontend


def _hmac(k: bytes, msg: bytes) -> bytes:
    return hmac.new(k, msg, hashlib.sha256).digest()


@dataclass
class RawClient:
    host: str
    port: int
    sock: socket.socket = field(init=False)
    decoder: BackendDecoder = field(init=False, default_factory=BackendDecoder)
    pending: list[m.BackendMessage] = field(init=False, default_factory=list)
    pid: int = 0
    secret: int = 0
    params: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=30)

    def close(self) -> None:
        self.sock.close()

    def send(self, *msgs: m.FrontendMessage) -> None:
        self.sock.sendall(b"".join(encode_frontend(x) for x in msgs))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self) -> m.BackendMessage:
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            self.pending.extend(self.decoder.feed(data))
        return self.pending.pop(0)

    def recv_until_ready(self) -> list[m.BackendMessage]:
        out: list[m.BackendMessage] = []
        while True:
            msg = self.recv()
            out.append(msg)
            if isinstance(msg, m.ReadyForQuery):
                return out

    def closed_by_server(self) -> bool:
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.pending.extend(self.decoder.feed(data))
        except (ConnectionResetError, TimeoutError):
            return True

    def startup(self, user: str = "demo", password: str = "demo", database: str = "semantic",
                protocol: int = 196608, **extra: str) -> list[m.BackendMessage]:
        self.send(m.StartupMessage(protocol, (("user", user), ("database", database), *extra.items())))
        msgs: list[m.BackendMessage] = []
        while True:
            msg = self.recv()
            msgs.append(msg)
            if isinstance(msg, m.AuthenticationSASL):
                nonce = base64.b64encode(os.urandom(18)).decode()
                first_bare = f"n=,r={nonce}"
                payload = b"n,," + first_bare.encode()
                body = b"SCRAM-SHA-256\x00" + struct.pack("!i", len(payload)) + payload
                self.send(m.PasswordMessage(body))
                cont = self.recv()
                assert isinstance(cont, m.AuthenticationSASLContinue), cont
                server_first = cont.data.decode()
                attrs = dict(p.split("=", 1) for p in server_first.split(","))
                salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]),
                                             int(attrs["i"]))
                client_key = _hmac(salted, b"Client Key")
                stored = hashlib.sha256(client_key).digest()
                without_proof = f"c=biws,r={attrs['r']}"
                auth_msg = f"{first_bare},{server_first},{without_proof}".encode()
                proof = bytes(a ^ b for a, b in zip(client_key, _hmac(stored, auth_msg), strict=True))
                self.send(m.PasswordMessage(f"{without_proof},p={base64.b64encode(proof).decode()}".encode()))
            elif isinstance(msg, m.AuthenticationCleartextPassword):
                self.send(m.PasswordMessage(password.encode() + b"\x00"))
            elif isinstance(msg, m.BackendKeyData):
                self.pid, self.secret = msg.pid, msg.secret
            elif isinstance(msg, m.ParameterStatus):
                self.params[msg.name] = msg.value
            elif isinstance(msg, (m.ReadyForQuery, m.ErrorResponse)):
                return msgs

    def query(self, sql: str) -> list[m.BackendMessage]:
        self.send(m.Query(sql))
        return self.recv_until_ready()


def error_code(msg: m.BackendMessage) -> str | None:
    if isinstance(msg, (m.ErrorResponse, m.NoticeResponse)):
        return dict(msg.fields).get("C")
    return None


def rows(msgs: list[m.BackendMessage]) -> list[tuple[str | None, ...]]:
    return [tuple(None if v is None else v.decode() for v in x.values) for x in msgs if isinstance(x, m.DataRow)]


def kinds(msgs: list[m.BackendMessage]) -> list[str]:
    return [type(x).__name__ for x in msgs]
