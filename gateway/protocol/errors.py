"""The protocol layer's one exception: malformed bytes from a peer (SQLSTATE 08P01)."""

from __future__ import annotations

from virtual_schema.errors import PROTOCOL_VIOLATION, PgError


class ProtocolViolation(PgError):
    """Malformed, truncated or oversized protocol input; PostgreSQL closes the connection on it.

    Accepts ``ProtocolViolation(message)`` or PgError's ``ProtocolViolation(sqlstate, message)``.
    """

    def __init__(self, sqlstate_or_message: str, message: str | None = None, *, detail: str | None = None,
                 severity: str = "FATAL") -> None:
        if message is None:
            sqlstate, message = PROTOCOL_VIOLATION, sqlstate_or_message
        else:
            sqlstate = sqlstate_or_message
        super().__init__(sqlstate, message, detail=detail, severity=severity)
