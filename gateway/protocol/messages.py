"""PostgreSQL v3 protocol messages as frozen, slotted dataclasses.

One class per message keeps the session code a `match` over a closed union instead of a switch on
type bytes; the codec (codec.py) is the only place that knows the byte layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from gateway.protocol.errors import ProtocolViolation

# ---------------------------------------------------------------------------------------------- frontend


@dataclass(frozen=True, slots=True)
class StartupMessage:
    protocol: int  # (major << 16) | minor, 196608 for 3.0
    params: tuple[tuple[str, str], ...]

    def param(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return default


@dataclass(frozen=True, slots=True)
class SSLRequest:
    pass


@dataclass(frozen=True, slots=True)
class GSSENCRequest:
    pass


@dataclass(frozen=True, slots=True)
class CancelRequest:
    pid: int
    secret: int


@dataclass(frozen=True, slots=True)
class Query:
    sql: str


@dataclass(frozen=True, slots=True)
class Parse:
    name: str
    sql: str
    param_types: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Bind:
    portal: str
    statement: str
    param_formats: tuple[int, ...]
    params: tuple[bytes | None, ...]
    result_formats: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Describe:
    kind: str  # 'S' statement or 'P' portal
    name: str


@dataclass(frozen=True, slots=True)
class Execute:
    portal: str
    max_rows: int  # 0 = no limit


@dataclass(frozen=True, slots=True)
class Close:
    kind: str  # 'S' or 'P'
    name: str


@dataclass(frozen=True, slots=True)
class Flush:
    pass


@dataclass(frozen=True, slots=True)
class Sync:
    pass


@dataclass(frozen=True, slots=True)
class Terminate:
    pass


@dataclass(frozen=True, slots=True)
class PasswordMessage:
    """The raw 'p' payload: a password, SASLInitialResponse or SASLResponse (the phase decides)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class FunctionCall:
    data: bytes


@dataclass(frozen=True, slots=True)
class CopyData:
    data: bytes


@dataclass(frozen=True, slots=True)
class CopyDone:
    pass


@dataclass(frozen=True, slots=True)
class CopyFail:
    message: str


FrontendMessage: TypeAlias = (
    StartupMessage | SSLRequest | GSSENCRequest | CancelRequest | Query | Parse | Bind | Describe | Execute
    | Close | Flush | Sync | Terminate | PasswordMessage | FunctionCall | CopyData | CopyDone | CopyFail
)


def parse_password(data: bytes) -> str:
    """A PasswordMessage payload as a cleartext password (NUL-terminated UTF-8)."""
    if not data.endswith(b"\x00") or data.index(b"\x00") != len(data) - 1:
        raise ProtocolViolation("invalid password packet")
    try:
        return data[:-1].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolViolation("invalid password packet") from None


def parse_sasl_initial_response(data: bytes) -> tuple[str, bytes]:
    """A SASLInitialResponse payload: (mechanism, initial client response; b'' when absent)."""
    end = data.find(b"\x00")
    if end < 0 or len(data) < end + 5:
        raise ProtocolViolation("invalid SASL initial response packet")
    try:
        mechanism = data[:end].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolViolation("invalid SASL initial response packet") from None
    length = int.from_bytes(data[end + 1 : end + 5], "big", signed=True)
    rest = data[end + 5 :]
    if length == -1 and not rest:
        return mechanism, b""
    if length != len(rest):
        raise ProtocolViolation("invalid SASL initial response packet")
    return mechanism, bytes(rest)


# ---------------------------------------------------------------------------------------------- backend


@dataclass(frozen=True, slots=True)
class AuthenticationOk:
    pass


@dataclass(frozen=True, slots=True)
class AuthenticationCleartextPassword:
    pass


@dataclass(frozen=True, slots=True)
class AuthenticationSASL:
    mechanisms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AuthenticationSASLContinue:
    data: bytes


@dataclass(frozen=True, slots=True)
class AuthenticationSASLFinal:
    data: bytes


@dataclass(frozen=True, slots=True)
class ParameterStatus:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class BackendKeyData:
    pid: int
    secret: int


@dataclass(frozen=True, slots=True)
class ReadyForQuery:
    status: str  # 'I' idle, 'T' in a transaction, 'E' in a failed transaction


@dataclass(frozen=True, slots=True)
class FieldDescription:
    name: str
    table_oid: int
    attnum: int
    type_oid: int
    typlen: int
    typmod: int
    format: int


@dataclass(frozen=True, slots=True)
class RowDescription:
    fields: tuple[FieldDescription, ...]


@dataclass(frozen=True, slots=True)
class DataRow:
    values: tuple[bytes | None, ...]


@dataclass(frozen=True, slots=True)
class CommandComplete:
    tag: str


@dataclass(frozen=True, slots=True)
class EmptyQueryResponse:
    pass


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    fields: tuple[tuple[str, str], ...]  # (field type letter, value)


@dataclass(frozen=True, slots=True)
class NoticeResponse:
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ParseComplete:
    pass


@dataclass(frozen=True, slots=True)
class BindComplete:
    pass


@dataclass(frozen=True, slots=True)
class CloseComplete:
    pass


@dataclass(frozen=True, slots=True)
class NoData:
    pass


@dataclass(frozen=True, slots=True)
class ParameterDescription:
    type_oids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PortalSuspended:
    pass


@dataclass(frozen=True, slots=True)
class CopyOutResponse:
    """COPY … TO STDOUT begins: the overall format (0 text, 1 binary) and each column's."""

    format: int
    column_formats: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CopyInResponse:
    """COPY … FROM STDIN begins: the client sends CopyData, then CopyDone or CopyFail."""

    format: int
    column_formats: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NegotiateProtocolVersion:
    newest_minor: int
    unrecognized: tuple[str, ...]


BackendMessage: TypeAlias = (
    AuthenticationOk | AuthenticationCleartextPassword | AuthenticationSASL | AuthenticationSASLContinue
    | AuthenticationSASLFinal | ParameterStatus | BackendKeyData | ReadyForQuery | RowDescription | DataRow
    | CommandComplete | EmptyQueryResponse | ErrorResponse | NoticeResponse | ParseComplete | BindComplete
    | CloseComplete | NoData | ParameterDescription | PortalSuspended | NegotiateProtocolVersion
    | CopyOutResponse | CopyInResponse | CopyData | CopyDone
)
