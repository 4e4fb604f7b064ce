"""Connections to the warehouse, kept per identity and reused with idle expiry.

A databricks-sql-connector connection is a Thrift session opened with one credential, so it may
only ever serve the identity that opened it: the pool is keyed by a hash of the token (passthrough)
or by the service identity, and a connection is leased to one gateway session at a time. Every
method blocks (it may open or close Thrift sessions) and runs in the backend's worker threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

log = structlog.get_logger("gateway.databricks")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a connection acts for. `key` is safe to log; the token never is (repr hides it)."""

    key: str
    token: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def for_token(cls, token: str) -> Identity:
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]
        return cls(f"token:{digest}", token)

    @classmethod
    def service(cls) -> Identity:
        return cls("service")


@dataclass(slots=True)
class _Idle:
    conn: Any
    since: float


class ConnectionPool:
    def __init__(self, connect: Callable[[Identity], Any], *, idle_expiry_seconds: float,
                 max_idle_per_identity: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._connect = connect
        self._expiry = idle_expiry_seconds
        self._max_idle = max_idle_per_identity
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: dict[str, list[_Idle]] = {}
        self._leased: dict[int, tuple[str, Any]] = {}
        self._closed = False

    def acquire(self, identity: Identity, *, fresh: bool = False) -> Any:
        """An idle connection of this identity, or a new one (the warehouse checks the credential)."""
        self.expire()
        conn = None
        if not fresh:
            with self._lock:
                idle = self._idle.get(identity.key)
                if idle:
                    conn = idle.pop().conn
        if conn is None:
            conn = self._connect(identity)
            log.debug("databricks.connection.opened", identity=identity.key)
        with self._lock:
            self._leased[id(conn)] = (identity.key, conn)
        return conn

    def release(self, identity: Identity, conn: Any, *, reusable: bool = True) -> None:
        with self._lock:
            self._leased.pop(id(conn), None)
            keep = reusable and not self._closed and len(self._idle.get(identity.key, ())) < self._max_idle
            if keep:
                self._idle.setdefault(identity.key, []).append(_Idle(conn, self._clock()))
        if not keep:
            _close_quietly(conn)
        self.expire()

    def expire(self) -> None:
        """Close connections idle for longer than the expiry (called on every acquire/release)."""
        now = self._clock()
        stale: list[Any] = []
        with self._lock:
            for key in list(self._idle):
                keep = [i for i in self._idle[key] if now - i.since < self._expiry]
                stale.extend(i.conn for i in self._idle[key] if now - i.since >= self._expiry)
                if keep:
                    self._idle[key] = keep
                else:
                    del self._idle[key]
        for conn in stale:
            _close_quietly(conn)

    def counts(self) -> dict[str, int]:
        """Idle connections per identity key (for tests and metrics)."""
        with self._lock:
            return {k: len(v) for k, v in self._idle.items()}

    def close_all(self) -> None:
        with self._lock:
            self._closed = True
            conns = [i.conn for idle in self._idle.values() for i in idle]
            conns += [c for _, c in self._leased.values()]
            self._idle.clear()
            self._leased.clear()
        for conn in conns:
            _close_quietly(conn)


def _close_quietly(conn: Any) -> None:
    # A connection that is already broken cannot be closed cleanly; nothing else to do with it.
    with contextlib.suppress(Exception):
        conn.close()
