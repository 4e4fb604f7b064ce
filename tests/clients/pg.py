"""A throwaway PostgreSQL 15 server for tests: initdb in a temp dir, 127.0.0.1, a free port, SCRAM user demo/demo.

The client matrix runs every driver against it first (to prove each harness asks the right questions and
asserts what PostgreSQL itself answers) and then against the gateway; `mirror_schema` creates tables
equivalent to a VirtualSchema so both targets expose the same relations.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.pgserver import PG_BIN, as_postgres, free_port


@dataclass
class PgServer:
    datadir: Path
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    database: str = "semantic"

    def dsn(self, **kw: str) -> str:
        params = {"host": self.host, "port": str(self.port), "user": "demo", "password": "demo",
                  "dbname": self.database, "sslmode": "disable"}
        params.update(kw)
        return " ".join(f"{k}={v}" for k, v in params.items())

    def url(self, user: str = "demo", password: str = "demo", db: str | None = None) -> str:
        return f"postgresql://{user}:{password}@{self.host}:{self.port}/{db or self.database}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: smart shutdown
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.datadir, ignore_errors=True)


def start_postgres(database: str = "semantic", timeout: float = 60) -> PgServer:
    """initdb + postgres on 127.0.0.1:<free port>; superuser `demo` with SCRAM password `demo`."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"PostgreSQL 15 binaries not found in {PG_BIN}")
    root = Path(tempfile.mkdtemp(prefix="pg15-"))
    datadir = root / "data"
    pwfile = root / "pw"
    pwfile.write_text("demo\n")
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for p in (root, pwfile):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    subprocess.run(as_postgres([str(PG_BIN / "initdb"), "-D", str(datadir), "-U", "demo", "--pwfile", str(pwfile),
                              "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]),
                   check=True, capture_output=True)
    port = free_port()
    opts = ["-c", "listen_addresses=127.0.0.1", "-p", str(port), "-c", f"unix_socket_directories={root}",
            "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
            "-c", "shared_buffers=16MB", "-c", "max_connections=40", "-c", "logging_collector=off"]
    log = open(root / "postgres.log", "wb")  # noqa: SIM115 - the server process owns it
    proc = subprocess.Popen(as_postgres([str(PG_BIN / "postgres"), "-D", str(datadir), *opts]),
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    server = PgServer(root, "127.0.0.1", port, proc, database)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("postgres exited:\n" + (root / "postgres.log").read_text(errors="replace"))
        r = subprocess.run([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True)
        if r.returncode == 0:
            break
        time.sleep(0.2)
    else:
        server.stop()
        raise RuntimeError("postgres did not start")
    import psycopg

    with psycopg.connect(server.dsn(dbname="postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    return server
