"""A large result streams to a slow reader in bounded memory (issue 2, "Streaming pipeline").

A real gateway process serves a listing of 1.5 million narrow rows (~50 MB of DataRows) to a raw-socket
reader with a small receive buffer that sleeps between reads (at most 16 KB per 2 ms, 8 MB/s), so the
gateway produces far faster than the reader drains and only drain-based backpressure keeps the result out
of memory. The gateway's RSS is sampled from /proc while the rows flow; its growth must stay a small
fraction of the bytes streamed (a server that buffered the result would grow by more than the result
itself). The same listing is read once at full speed first, so DuckDB's block cache of the table is warm
and the growth measured is what the statement and the result pipeline hold.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import duckdb
import pytest

from gateway.protocol import messages as m
from gateway.protocol.codec import encode_frontend
from tests.pgwire import RawClient
from tests.server import GatewayProcess, start_gateway

ROWS = 2_500_000
SQL = "SELECT id, qty, label FROM stream_rows"


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("stream_memory")
    path = root / "rows.duckdb"
    con = duckdb.connect(str(path))
    con.execute(f"CREATE TABLE stream_rows AS SELECT i::BIGINT AS id, (i * 7 % 1000)::INTEGER AS qty, "
                f"'r-' || (i % 5000)::VARCHAR AS label FROM range({ROWS}) t(i)")
    con.close()
    models = root / "models"
    models.mkdir()
    (models / "stream_rows.yml").write_text(
        "name: stream_rows\nmodel: ref('stream_rows')\nentities:\n  - {name: id, type: primary}\n"
        "dimensions:\n  - {name: qty, type: categorical}\n  - {name: label, type: categorical}\n"
        "measures:\n  - {name: stream_rows_count, agg: count, expr: id}\n", encoding="utf-8")
    gp = start_gateway(["--models", str(models), "--duckdb", str(path), "--log-level", "warning"])
    try:
        yield gp
    finally:
        gp.stop()


def _read_all(sock: socket.socket, pause: float) -> tuple[int, int, bytes]:
    """Read one simple-query reply to its ReadyForQuery: (DataRow count, bytes, CommandComplete tag).
    Walks the message headers without decoding the rows; sleeps `pause` after every read."""
    buf = bytearray()
    pos = 0
    rows = 0
    total = 0
    tag = b""
    while True:
        chunk = sock.recv(16384)
        if not chunk:
            raise ConnectionError("gateway closed the connection")
        total += len(chunk)
        buf += chunk
        while len(buf) - pos >= 5:
            kind = buf[pos]
            (length,) = struct.unpack_from("!i", buf, pos + 1)
            end = pos + 1 + length
            if end > len(buf):
                break
            if kind == 0x44:  # 'D'
                rows += 1
            elif kind == 0x43:  # 'C'
                tag = bytes(buf[pos + 5 : end - 1])
            elif kind == 0x45:  # 'E'
                raise AssertionError(bytes(buf[pos:end]))
            elif kind == 0x5A:  # 'Z'
                return rows, total, tag
            pos = end
        del buf[:pos]
        pos = 0
        if pause:
            time.sleep(pause)


def test_slow_reader_streams_in_bounded_memory(gateway: GatewayProcess) -> None:
    fast = RawClient(gateway.host, gateway.port)
    fast.startup()
    fast.send(m.Query(SQL))
    data = b""
    while not data.endswith(b"Z\x00\x00\x00\x05I"):
        data = data[-64:] + fast.sock.recv(1 << 20)
    fast.close()
    assert f"SELECT {ROWS}".encode() in data

    slow = RawClient(gateway.host, gateway.port)
    slow.sock.close()  # reconnect with a small receive buffer: the kernel must not absorb the result
    slow.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    slow.sock.settimeout(60)
    slow.sock.connect((gateway.host, gateway.port))
    slow.startup()
    pid = gateway.proc.pid
    time.sleep(0.3)
    before = _rss(pid)
    peak = before
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _rss(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        slow.sock.sendall(encode_frontend(m.Query(SQL)))
        rows, nbytes, tag = _read_all(slow.sock, 0.002)
    finally:
        stop.set()
        sampler.join()
        slow.close()
    assert (rows, tag) == (ROWS, f"SELECT {ROWS}".encode())
    growth = peak - before
    # A server that buffered the result would grow by at least the result. What the gateway holds is a
    # few batches (DuckDB's per-thread execution state, one Arrow batch read ahead, one encoded batch in
    # the transport): a fixed few MB at the default 16,384 rows per batch, whatever the result's size.
    assert growth < nbytes * 0.25, f"RSS grew {growth / 2**20:.1f} MB while streaming {nbytes / 2**20:.1f} MB"



def test_client_gone_mid_result_leaves_no_trace(gateway: GatewayProcess) -> None:
    """Clients that reset their socket in the middle of a large result: the gateway interrupts the
    statements and releases their warehouse connections without an error escaping to its output, and keeps
    serving (tests/gateway/test_duckdb_backend.py pins the order of that release)."""
    for _ in range(3):
        gone = RawClient(gateway.host, gateway.port)
        gone.startup()
        gone.send(m.Query(SQL))
        assert gone.sock.recv(65536)
        gone.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, as a crash
        gone.close()
    time.sleep(1.0)
    after = RawClient(gateway.host, gateway.port)
    after.startup()
    after.send(m.Query("SELECT count(*) FROM stream_rows"))
    rows, _nbytes, tag = _read_all(after.sock, 0)
    after.close()
    assert (rows, tag) == (1, b"SELECT 1")
    assert not [line for line in gateway.log_lines if "Traceback" in line or "never retrieved" in line], \
        gateway.logs()
