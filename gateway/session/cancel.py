"""CancelRequest routing: (pid, secret) → the live connection, so a cancel stops one statement only."""

from __future__ import annotations

import secrets
from typing import Protocol


class Cancellable(Protocol):
    def request_cancel(self, reason: str) -> None: ...


class CancelRegistry:
    def __init__(self) -> None:
        self._by_pid: dict[int, tuple[int, Cancellable]] = {}
        self._next_pid = 10_000 + secrets.randbelow(20_000)

    def register(self, target: Cancellable) -> tuple[int, int]:
        """A fresh (pid, secret) pair for BackendKeyData."""
        while self._next_pid in self._by_pid:
            self._next_pid += 1
        pid = self._next_pid
        self._next_pid = 10_000 if self._next_pid >= 2**31 - 2 else self._next_pid + 1
        secret = secrets.randbits(32) - 2**31
        self._by_pid[pid] = (secret, target)
        return pid, secret

    def unregister(self, pid: int) -> None:
        self._by_pid.pop(pid, None)

    def cancel(self, pid: int, secret: int) -> bool:
        """Cancel the statement running on `pid` if the secret matches; a wrong key does nothing."""
        entry = self._by_pid.get(pid)
        if entry is None or not secrets.compare_digest(entry[0].to_bytes(4, "big", signed=True),
                                                       secret.to_bytes(4, "big", signed=True)):
            return False
        entry[1].request_cancel("user request")
        return True
