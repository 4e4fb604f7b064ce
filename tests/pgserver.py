"""Throwaway PostgreSQL 15 servers for tests that compare the gateway with the real thing.

The helpers every throwaway server uses live here (binaries, free port, running as `postgres` when
root); tests/clients/pg.py (SCRAM user demo) and tests/catalog/pgserver.py (DDL mirroring a virtual
schema) build on them. This module's own server:

    port, stop = start_postgres(tmpdir)

initdb in `tmpdir`, trust authentication for user `postgres`, listening on 127.0.0.1 at a free port
with its unix socket inside `tmpdir`. Runs as the `postgres` OS user when the tests run as root
(initdb refuses root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def postgres_available() -> bool:
    return (PG_BIN / "initdb").exists() and (os.geteuid() != 0 or shutil.which("runuser") is not None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` OS user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _world_traversable(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents])


def start_postgres(tmpdir: str | Path) -> tuple[int, Callable[[], None]]:
    """Start PostgreSQL 15 in tmpdir; returns (port, stop).

    When the tests run as root and tmpdir is private (pytest's tmp dirs are 0700), the server's files go
    to a fresh directory under the system temp dir instead, removed again by stop()."""
    root = Path(tmpdir)
    root.mkdir(parents=True, exist_ok=True)
    own_root = os.geteuid() == 0 and not _world_traversable(root)
    if own_root:
        root = Path(tempfile.mkdtemp(prefix="pg15-"))
    os.chmod(root, 0o777)
    data = root / "data"
    subprocess.run(as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                 "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]),
                   check=True, capture_output=True)
    port = free_port()
    opts = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c shared_buffers=32MB")
    subprocess.run(as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"),
                                 "-w", "-t", "60", "start"]), check=True, capture_output=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)

    def stop() -> None:
        subprocess.run(as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True, check=False)
        if own_root:
            shutil.rmtree(root, ignore_errors=True)

    return port, stop
