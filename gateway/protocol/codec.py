"""Bytes <-> messages for the PostgreSQL v3 protocol, sans-IO.

`FrontendDecoder` is what the server feeds socket bytes into; it accepts any chunking and turns every
kind of malformed input into `ProtocolViolation` (08P01), never another exception, so one broken
client can only ever close its own connection. `encode_backend` is on the hot path of every reply
and keeps fast paths for the frequent messages. `encode_frontend` and `BackendDecoder` exist for
tests, benchmarks and the round-trip properties.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from gateway.protocol import messages as m
from gateway.protocol.errors import ProtocolViolation
from virtual_schema.errors import PgError

__all__ = [
    "BIND_COMPLETE",
    "CLOSE_COMPLETE",
    "EMPTY_QUERY_RESPONSE",
    "NO_DATA",
    "PARSE_COMPLETE",
    "PORTAL_SUSPENDED",
    "READY_FOR_QUERY",
    "BackendDecoder",
    "FrontendDecoder",
    "ProtocolViolation",
    "encode_backend",
    "encode_frontend",
    "error_response",
]

PROTOCOL_3_0 = 3 << 16
SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102
MAX_STARTUP_PACKET_LENGTH = 10000  # PostgreSQL's MAX_STARTUP_PACKET_LENGTH
SMALL_MESSAGE_LIMIT = 10000  # PostgreSQL's PQ_SMALL_MESSAGE_LIMIT for control messages

_I32 = struct.Struct("!i")
_U32 = struct.Struct("!I")
_I16 = struct.Struct("!h")
_U16 = struct.Struct("!H")
_HDR = struct.Struct("!ci")
_II = struct.Struct("!ii")


def _const(type_byte: bytes, body: bytes = b"") -> bytes:
    return type_byte + _I32.pack(4 + len(body)) + body


PARSE_COMPLETE = _const(b"1")
BIND_COMPLETE = _const(b"2")
CLOSE_COMPLETE = _const(b"3")
NO_DATA = _const(b"n")
PORTAL_SUSPENDED = _const(b"s")
EMPTY_QUERY_RESPONSE = _const(b"I")
AUTHENTICATION_OK = _const(b"R", _I32.pack(0))
AUTHENTICATION_CLEARTEXT = _const(b"R", _I32.pack(3))
READY_FOR_QUERY = {s: _const(b"Z", s.encode()) for s in ("I", "T", "E")}
SYNC = _const(b"S")
FLUSH = _const(b"H")
TERMINATE = _const(b"X")
COPY_DONE = _const(b"c")


# ---------------------------------------------------------------------------------------------- reading


class _Reader:
    """Bounds-checked reads over one message body; every failure is a ProtocolViolation."""

    __slots__ = ("buf", "pos", "what")

    def __init__(self, buf: bytes, what: str) -> None:
        self.buf = buf
        self.pos = 0
        self.what = what

    def fail(self, why: str = "invalid message format") -> ProtocolViolation:
        return ProtocolViolation(f"{why} in {self.what} message")

    def int32(self) -> int:
        p = self.pos
        if p + 4 > len(self.buf):
            raise self.fail()
        self.pos = p + 4
        return int(_I32.unpack_from(self.buf, p)[0])

    def uint32(self) -> int:
        p = self.pos
        if p + 4 > len(self.buf):
            raise self.fail()
        self.pos = p + 4
        return int(_U32.unpack_from(self.buf, p)[0])

    def int16(self) -> int:
        p = self.pos
        if p + 2 > len(self.buf):
            raise self.fail()
        self.pos = p + 2
        return int(_I16.unpack_from(self.buf, p)[0])

    def uint16(self) -> int:
        p = self.pos
        if p + 2 > len(self.buf):
            raise self.fail()
        self.pos = p + 2
        return int(_U16.unpack_from(self.buf, p)[0])

    def byte(self) -> str:
        p = self.pos
        if p >= len(self.buf):
            raise self.fail()
        self.pos = p + 1
        return chr(self.buf[p])

    def raw(self, n: int) -> bytes:
        p = self.pos
        if n < 0 or p + n > len(self.buf):
            raise self.fail()
        self.pos = p + n
        return self.buf[p : p + n]

    def rest(self) -> bytes:
        p = self.pos
        self.pos = len(self.buf)
        return self.buf[p:]

    def cstr(self) -> str:
        p = self.pos
        end = self.buf.find(b"\x00", p)
        if end < 0:
            raise self.fail("invalid string")
        self.pos = end + 1
        try:
            return self.buf[p:end].decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail("invalid UTF-8 string") from None

    def text_rest(self) -> str:
        try:
            return self.rest().decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail("invalid UTF-8 string") from None

    def end(self) -> None:
        if self.pos != len(self.buf):
            raise self.fail()


def _parse_startup(body: bytes) -> m.FrontendMessage:
    """An untyped startup-phase packet (the 4-byte length already stripped)."""
    r = _Reader(body, "startup")
    code = r.uint32()
    if code == SSL_REQUEST_CODE:
        r.end()
        return m.SSLRequest()
    if code == GSSENC_REQUEST_CODE:
        r.end()
        return m.GSSENCRequest()
    if code == CANCEL_REQUEST_CODE:
        pid, secret = r.int32(), r.int32()
        r.end()
        return m.CancelRequest(pid, secret)
    if code >> 16 != 3:
        raise ProtocolViolation(
            f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}: server supports 3.0 to 3.0")
    params: list[tuple[str, str]] = []
    while True:
        name = r.cstr()
        if not name:
            break
        params.append((name, r.cstr()))
    r.end()
    return m.StartupMessage(code, tuple(params))


def _parse_bind(r: _Reader) -> m.Bind:
    portal, statement = r.cstr(), r.cstr()
    param_formats = tuple(r.int16() for _ in range(r.uint16()))
    params: list[bytes | None] = []
    for _ in range(r.uint16()):
        n = r.int32()
        if n == -1:
            params.append(None)
        elif n < 0:
            raise r.fail("invalid parameter length")
        else:
            params.append(r.raw(n))
    result_formats = tuple(r.int16() for _ in range(r.uint16()))
    return m.Bind(portal, statement, param_formats, tuple(params), result_formats)


def _parse_parse(r: _Reader) -> m.Parse:
    name, sql = r.cstr(), r.cstr()
    return m.Parse(name, sql, tuple(r.uint32() for _ in range(r.uint16())))


def _parse_kind_name(r: _Reader, cls: type[m.Describe] | type[m.Close]) -> m.Describe | m.Close:
    kind = r.byte()
    if kind not in ("S", "P"):
        raise r.fail(f"invalid {r.what.upper()} message subtype {ord(kind)}")
    return cls(kind, r.cstr())


def _parse_execute(r: _Reader) -> m.Execute:
    portal = r.cstr()
    return m.Execute(portal, r.int32())


# type byte -> (parser, name, size limit is large)
_FRONTEND: dict[int, tuple[Callable[[_Reader], m.FrontendMessage], str, bool]] = {
    ord("Q"): (lambda r: m.Query(r.cstr()), "Query", True),
    ord("P"): (_parse_parse, "Parse", True),
    ord("B"): (_parse_bind, "Bind", True),
    ord("D"): (lambda r: _parse_kind_name(r, m.Describe), "Describe", False),
    ord("E"): (_parse_execute, "Execute", False),
    ord("C"): (lambda r: _parse_kind_name(r, m.Close), "Close", False),
    ord("H"): (lambda r: m.Flush(), "Flush", False),
    ord("S"): (lambda r: m.Sync(), "Sync", False),
    ord("X"): (lambda r: m.Terminate(), "Terminate", False),
    ord("p"): (lambda r: m.PasswordMessage(r.rest()), "password", True),
    ord("F"): (lambda r: m.FunctionCall(r.rest()), "FunctionCall", True),
    ord("d"): (lambda r: m.CopyData(r.rest()), "CopyData", True),
    ord("c"): (lambda r: m.CopyDone(), "CopyDone", False),
    ord("f"): (lambda r: m.CopyFail(r.cstr()), "CopyFail", True),
}


class FrontendDecoder:
    """Incremental decoder of what a client sends; starts in the (untyped) startup phase."""

    def __init__(self, max_message_size: int = 64 * 1024 * 1024) -> None:
        self.max_message_size = max_message_size
        self.typed = False
        self._buf = bytearray()
        self._broken: ProtocolViolation | None = None

    def start_typed(self) -> None:
        """Switch to typed messages (done automatically after a StartupMessage)."""
        self.typed = True

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[m.FrontendMessage]:
        if self._broken is not None:
            raise self._broken
        buf = self._buf
        buf += data
        out: list[m.FrontendMessage] = []
        pos = 0
        try:
            while True:
                if self.typed:
                    if len(buf) - pos < 5:
                        break
                    type_byte = buf[pos]
                    length = int(_I32.unpack_from(buf, pos + 1)[0])
                    entry = _FRONTEND.get(type_byte)
                    if entry is None:
                        raise ProtocolViolation(f"invalid frontend message type {type_byte}")
                    parse, what, large = entry
                    if length < 4:
                        raise ProtocolViolation(f"invalid message length {length} in {what} message")
                    limit = self.max_message_size if large else SMALL_MESSAGE_LIMIT
                    if length - 4 > limit:
                        raise ProtocolViolation(f"invalid message length {length} in {what} message")
                    if len(buf) - pos < 1 + length:
                        break
                    r = _Reader(bytes(buf[pos + 5 : pos + 1 + length]), what)
                    pos += 1 + length
                    msg = parse(r)
                    r.end()
                    out.append(msg)
                else:
                    if len(buf) - pos < 4:
                        break
                    length = int(_I32.unpack_from(buf, pos)[0])
                    if length < 8 or length > MAX_STARTUP_PACKET_LENGTH:
                        raise ProtocolViolation("invalid length of startup packet")
                    if len(buf) - pos < length:
                        break
                    msg = _parse_startup(bytes(buf[pos + 4 : pos + length]))
                    pos += length
                    out.append(msg)
                    if isinstance(msg, m.StartupMessage):
                        self.typed = True
        except ProtocolViolation as e:
            self._broken = e
            del buf[:]
            raise
        del buf[:pos]
        return out


# ---------------------------------------------------------------------------------------------- backend decoding


def _parse_auth(r: _Reader) -> m.BackendMessage:
    code = r.int32()
    if code == 0:
        return m.AuthenticationOk()
    if code == 3:
        return m.AuthenticationCleartextPassword()
    if code == 10:
        mechs: list[str] = []
        while True:
            name = r.cstr()
            if not name:
                break
            mechs.append(name)
        return m.AuthenticationSASL(tuple(mechs))
    if code == 11:
        return m.AuthenticationSASLContinue(r.rest())
    if code == 12:
        return m.AuthenticationSASLFinal(r.rest())
    raise r.fail(f"unsupported authentication request {code}")


def _parse_fields(r: _Reader) -> tuple[tuple[str, str], ...]:
    fields: list[tuple[str, str]] = []
    while True:
        code = r.byte()
        if code == "\x00":
            return tuple(fields)
        fields.append((code, r.cstr()))


def _parse_row_description(r: _Reader) -> m.RowDescription:
    fields = []
    for _ in range(r.uint16()):
        name = r.cstr()
        fields.append(m.FieldDescription(name, r.uint32(), r.int16(), r.uint32(), r.int16(), r.int32(), r.int16()))
    return m.RowDescription(tuple(fields))


def _parse_data_row(r: _Reader) -> m.DataRow:
    values: list[bytes | None] = []
    for _ in range(r.uint16()):
        n = r.int32()
        if n == -1:
            values.append(None)
        elif n < 0:
            raise r.fail("invalid field length")
        else:
            values.append(r.raw(n))
    return m.DataRow(tuple(values))


def _parse_ready(r: _Reader) -> m.ReadyForQuery:
    status = r.byte()
    if status not in ("I", "T", "E"):
        raise r.fail("invalid transaction status")
    return m.ReadyForQuery(status)


def _parse_negotiate(r: _Reader) -> m.NegotiateProtocolVersion:
    newest = r.int32()
    return m.NegotiateProtocolVersion(newest, tuple(r.cstr() for _ in range(r.int32())))


_BACKEND: dict[int, tuple[Callable[[_Reader], m.BackendMessage], str]] = {
    ord("R"): (_parse_auth, "Authentication"),
    ord("S"): (lambda r: m.ParameterStatus(r.cstr(), r.cstr()), "ParameterStatus"),
    ord("K"): (lambda r: m.BackendKeyData(r.int32(), r.int32()), "BackendKeyData"),
    ord("Z"): (_parse_ready, "ReadyForQuery"),
    ord("T"): (_parse_row_description, "RowDescription"),
    ord("D"): (_parse_data_row, "DataRow"),
    ord("C"): (lambda r: m.CommandComplete(r.cstr()), "CommandComplete"),
    ord("I"): (lambda r: m.EmptyQueryResponse(), "EmptyQueryResponse"),
    ord("E"): (lambda r: m.ErrorResponse(_parse_fields(r)), "ErrorResponse"),
    ord("N"): (lambda r: m.NoticeResponse(_parse_fields(r)), "NoticeResponse"),
    ord("1"): (lambda r: m.ParseComplete(), "ParseComplete"),
    ord("2"): (lambda r: m.BindComplete(), "BindComplete"),
    ord("3"): (lambda r: m.CloseComplete(), "CloseComplete"),
    ord("n"): (lambda r: m.NoData(), "NoData"),
    ord("t"): (lambda r: m.ParameterDescription(tuple(r.uint32() for _ in range(r.uint16()))),
               "ParameterDescription"),
    ord("s"): (lambda r: m.PortalSuspended(), "PortalSuspended"),
    ord("v"): (_parse_negotiate, "NegotiateProtocolVersion"),
    ord("H"): (lambda r: m.CopyOutResponse(*_parse_copy_response(r)), "CopyOutResponse"),
    ord("G"): (lambda r: m.CopyInResponse(*_parse_copy_response(r)), "CopyInResponse"),
    ord("d"): (lambda r: m.CopyData(r.rest()), "CopyData"),
    ord("c"): (lambda r: m.CopyDone(), "CopyDone"),
}


def _parse_copy_response(r: _Reader) -> tuple[int, tuple[int, ...]]:
    fmt = ord(r.byte())
    return fmt, tuple(r.int16() for _ in range(r.uint16()))


class BackendDecoder:
    """Incremental decoder of what a server sends (tests, benchmarks, round-trip properties)."""

    def __init__(self, max_message_size: int = 1 << 30) -> None:
        self.max_message_size = max_message_size
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[m.BackendMessage]:
        buf = self._buf
        buf += data
        out: list[m.BackendMessage] = []
        pos = 0
        n = len(buf)
        while n - pos >= 5:
            type_byte, length = buf[pos], int(_I32.unpack_from(buf, pos + 1)[0])
            entry = _BACKEND.get(type_byte)
            if entry is None:
                raise ProtocolViolation(f"invalid backend message type {type_byte}")
            if length < 4 or length - 4 > self.max_message_size:
                raise ProtocolViolation(f"invalid message length {length}")
            if n - pos < 1 + length:
                break
            r = _Reader(bytes(buf[pos + 5 : pos + 1 + length]), entry[1])
            pos += 1 + length
            msg = entry[0](r)
            r.end()
            out.append(msg)
        del buf[:pos]
        return out


# ---------------------------------------------------------------------------------------------- encoding


def _cstr(s: str) -> bytes:
    return s.encode("utf-8") + b"\x00"


def _msg(type_byte: bytes, body: bytes) -> bytes:
    return type_byte + _I32.pack(len(body) + 4) + body


def encode_data_row(values: tuple[bytes | None, ...]) -> bytes:
    parts = [b"", _U16.pack(len(values))]
    for v in values:
        if v is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            parts.append(_I32.pack(len(v)))
            parts.append(v)
    body_len = sum(map(len, parts)) + 4
    parts[0] = b"D" + _I32.pack(body_len)
    return b"".join(parts)


def _enc_row_description(msg: m.RowDescription) -> bytes:
    pack = struct.Struct("!IhIhih").pack
    body = [_U16.pack(len(msg.fields))]
    for f in msg.fields:
        body.append(_cstr(f.name))
        body.append(pack(f.table_oid, f.attnum, f.type_oid, f.typlen, f.typmod, f.format))
    return _msg(b"T", b"".join(body))


def _enc_fields(type_byte: bytes, fields: tuple[tuple[str, str], ...]) -> bytes:
    body = b"".join(code.encode("ascii") + _cstr(value) for code, value in fields) + b"\x00"
    return _msg(type_byte, body)


def _enc_auth_sasl(msg: m.AuthenticationSASL) -> bytes:
    return _msg(b"R", _I32.pack(10) + b"".join(_cstr(x) for x in msg.mechanisms) + b"\x00")


def _enc_negotiate(msg: m.NegotiateProtocolVersion) -> bytes:
    body = _II.pack(msg.newest_minor, len(msg.unrecognized)) + b"".join(_cstr(x) for x in msg.unrecognized)
    return _msg(b"v", body)


_BACKEND_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    m.DataRow: lambda x: encode_data_row(x.values),
    m.ReadyForQuery: lambda x: READY_FOR_QUERY.get(x.status) or _msg(b"Z", x.status.encode("ascii")),
    m.CommandComplete: lambda x: _msg(b"C", _cstr(x.tag)),
    m.RowDescription: _enc_row_description,
    m.ParseComplete: lambda x: PARSE_COMPLETE,
    m.BindComplete: lambda x: BIND_COMPLETE,
    m.CloseComplete: lambda x: CLOSE_COMPLETE,
    m.NoData: lambda x: NO_DATA,
    m.PortalSuspended: lambda x: PORTAL_SUSPENDED,
    m.EmptyQueryResponse: lambda x: EMPTY_QUERY_RESPONSE,
    m.ParameterDescription: lambda x: _msg(b"t", _U16.pack(len(x.type_oids))
                                           + b"".join(_U32.pack(o) for o in x.type_oids)),
    m.ErrorResponse: lambda x: _enc_fields(b"E", x.fields),
    m.NoticeResponse: lambda x: _enc_fields(b"N", x.fields),
    m.ParameterStatus: lambda x: _msg(b"S", _cstr(x.name) + _cstr(x.value)),
    m.BackendKeyData: lambda x: _msg(b"K", _II.pack(x.pid, x.secret)),
    m.AuthenticationOk: lambda x: AUTHENTICATION_OK,
    m.AuthenticationCleartextPassword: lambda x: AUTHENTICATION_CLEARTEXT,
    m.AuthenticationSASL: _enc_auth_sasl,
    m.AuthenticationSASLContinue: lambda x: _msg(b"R", _I32.pack(11) + x.data),
    m.AuthenticationSASLFinal: lambda x: _msg(b"R", _I32.pack(12) + x.data),
    m.NegotiateProtocolVersion: _enc_negotiate,
    m.CopyOutResponse: lambda x: _msg(b"H", _enc_copy_response(x.format, x.column_formats)),
    m.CopyInResponse: lambda x: _msg(b"G", _enc_copy_response(x.format, x.column_formats)),
    m.CopyData: lambda x: _msg(b"d", x.data),
    m.CopyDone: lambda x: COPY_DONE,
}


def _enc_copy_response(fmt: int, columns: tuple[int, ...]) -> bytes:
    return bytes([fmt]) + _U16.pack(len(columns)) + b"".join(_I16.pack(f) for f in columns)


def encode_backend(msg: m.BackendMessage) -> bytes:
    """The bytes of one server message."""
    return _BACKEND_ENCODERS[type(msg)](msg)


def _enc_startup(msg: m.StartupMessage) -> bytes:
    body = _I32.pack(msg.protocol) + b"".join(_cstr(k) + _cstr(v) for k, v in msg.params) + b"\x00"
    return _I32.pack(len(body) + 4) + body


def _enc_bind(msg: m.Bind) -> bytes:
    parts = [_cstr(msg.portal), _cstr(msg.statement), _U16.pack(len(msg.param_formats))]
    parts.extend(_I16.pack(f) for f in msg.param_formats)
    parts.append(_U16.pack(len(msg.params)))
    for v in msg.params:
        parts.append(b"\xff\xff\xff\xff" if v is None else _I32.pack(len(v)) + v)
    parts.append(_U16.pack(len(msg.result_formats)))
    parts.extend(_I16.pack(f) for f in msg.result_formats)
    return _msg(b"B", b"".join(parts))


_FRONTEND_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    m.StartupMessage: _enc_startup,
    m.SSLRequest: lambda x: _II.pack(8, SSL_REQUEST_CODE),
    m.GSSENCRequest: lambda x: _II.pack(8, GSSENC_REQUEST_CODE),
    m.CancelRequest: lambda x: _II.pack(16, CANCEL_REQUEST_CODE) + _II.pack(x.pid, x.secret),
    m.Query: lambda x: _msg(b"Q", _cstr(x.sql)),
    m.Parse: lambda x: _msg(b"P", _cstr(x.name) + _cstr(x.sql) + _U16.pack(len(x.param_types))
                            + b"".join(_U32.pack(t) for t in x.param_types)),
    m.Bind: _enc_bind,
    m.Describe: lambda x: _msg(b"D", x.kind.encode("ascii") + _cstr(x.name)),
    m.Execute: lambda x: _msg(b"E", _cstr(x.portal) + _I32.pack(x.max_rows)),
    m.Close: lambda x: _msg(b"C", x.kind.encode("ascii") + _cstr(x.name)),
    m.Flush: lambda x: FLUSH,
    m.Sync: lambda x: SYNC,
    m.Terminate: lambda x: TERMINATE,
    m.PasswordMessage: lambda x: _msg(b"p", x.data),
    m.FunctionCall: lambda x: _msg(b"F", x.data),
    m.CopyData: lambda x: _msg(b"d", x.data),
    m.CopyDone: lambda x: COPY_DONE,
    m.CopyFail: lambda x: _msg(b"f", _cstr(x.message)),
}


def encode_frontend(msg: m.FrontendMessage) -> bytes:
    """The bytes of one client message (tests and benchmarks play the client with it)."""
    return _FRONTEND_ENCODERS[type(msg)](msg)


def error_response(err: PgError, *, notice: bool = False) -> m.ErrorResponse | m.NoticeResponse:
    """ErrorResponse (or NoticeResponse) fields S, V, C, M, D, H, P from a PgError."""
    severity = err.severity or "ERROR"
    if notice and severity in ("ERROR", "FATAL", "PANIC"):
        severity = "NOTICE"
    fields: list[tuple[str, str]] = [("S", severity), ("V", severity), ("C", err.sqlstate), ("M", err.message)]
    if err.detail:
        fields.append(("D", err.detail))
    if err.hint:
        fields.append(("H", err.hint))
    if err.position is not None:
        fields.append(("P", str(err.position)))
    if getattr(err, "context", None):
        fields.append(("W", str(err.context)))
    return m.NoticeResponse(tuple(fields)) if notice else m.ErrorResponse(tuple(fields))
