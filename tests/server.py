"""Start a real gateway process on 127.0.0.1 for tests (port 0: the OS picks a free port)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_LISTENING = re.compile(r"listening on ([\d.]+):(\d+)")


@dataclass
class GatewayProcess:
    proc: subprocess.Popen[str]
    host: str
    port: int
    log_lines: list[str] = field(default_factory=list)

    def dsn(self, **kw: str) -> str:
        params = {"host": self.host, "port": str(self.port), "user": "demo", "password": "demo",
                  "dbname": "semantic", "sslmode": "disable"}
        params.update(kw)
        return " ".join(f"{k}={v}" for k, v in params.items())

    def url(self, user: str = "demo", password: str = "demo", db: str = "semantic") -> str:
        return f"postgresql://{user}:{password}@{self.host}:{self.port}/{db}"

    def logs(self) -> str:
        return "\n".join(self.log_lines)

    def routes(self, sql: str, wait: float = 5) -> set[str]:
        """The routes the gateway's JSON log gives for `sql` (constant, catalog, semantic, …), once logged."""
        deadline = time.monotonic() + wait
        found: set[str] = set()
        while time.monotonic() < deadline and not found:
            events = (json.loads(line) for line in list(self.log_lines) if line.startswith("{"))
            found = {str(e.get("route")) for e in events if e.get("event") == "statement" and e.get("sql") == sql}
            time.sleep(0.02)
        return found

    def sighup(self) -> None:
        self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_gateway(args: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 90) -> GatewayProcess:
    cmd = [sys.executable, str(ROOT / "start_sql_server.py"), "--host", "127.0.0.1", "--port", "0", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    port = 0
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError("gateway exited:\n" + "".join(lines))
            continue
        lines.append(line.rstrip("\n"))
        m = _LISTENING.search(line)
        if m:
            port = int(m.group(2))
            break
    if not port:
        proc.kill()
        raise RuntimeError("gateway did not start:\n" + "\n".join(lines))
    gp = GatewayProcess(proc, "127.0.0.1", port, lines)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if len(lines) > 20000:
                del lines[:10000]

    threading.Thread(target=pump, daemon=True).start()
    return gp
