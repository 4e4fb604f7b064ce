"""Protocol behaviour PostgreSQL clients rely on, driven message by message over a real socket."""

from __future__ import annotations

import socket
import struct
import threading
import time

import psycopg
import pytest

from gateway.protocol import messages as m
from tests.pgwire import RawClient, error_code, kinds, rows
from tests.server import GatewayProcess


@pytest.fixture
def client(gateway: GatewayProcess):
    c = RawClient(gateway.host, gateway.port)
    msgs = c.startup()
    assert isinstance(msgs[-1], m.ReadyForQuery), msgs
    yield c
    c.close()


def test_startup_reports_parameters_and_key(client: RawClient) -> None:
    for name in ("server_version", "server_encoding", "client_encoding", "DateStyle", "TimeZone",
                 "integer_datetimes", "standard_conforming_strings", "IntervalStyle", "is_superuser",
                 "session_authorization", "application_name"):
        assert name in client.params
    assert client.params["client_encoding"] == "UTF8"
    assert client.params["integer_datetimes"] == "on"
    assert client.params["session_authorization"] == "demo"
    assert client.pid > 0


def test_wrong_password_is_28P01(gateway: GatewayProcess) -> None:
    c = RawClient(gateway.host, gateway.port)
    msgs = c.startup(password="nope")
    assert error_code(msgs[-1]) == "28P01"
    assert dict(msgs[-1].fields)["S"] == "FATAL"  # type: ignore[union-attr]
    assert c.closed_by_server()


def test_unknown_user_is_28P01(gateway: GatewayProcess) -> None:
    c = RawClient(gateway.host, gateway.port)
    msgs = c.startup(user="mallory", password="demo")
    assert error_code(msgs[-1]) == "28P01"


def test_newer_minor_protocol_is_negotiated(gateway: GatewayProcess) -> None:
    c = RawClient(gateway.host, gateway.port)
    msgs = c.startup(protocol=(3 << 16) | 2, **{"_pq_.compression": "on"})
    neg = [x for x in msgs if isinstance(x, m.NegotiateProtocolVersion)]
    assert neg and neg[0].newest_minor == 0 and neg[0].unrecognized == ("_pq_.compression",)
    assert isinstance(msgs[-1], m.ReadyForQuery)
    c.close()


def test_ssl_and_gssenc_requests_answered_n_without_tls(gateway: GatewayProcess) -> None:
    s = socket.create_connection((gateway.host, gateway.port))
    s.sendall(struct.pack("!ii", 8, 80877104))
    assert s.recv(1) == b"N"
    s.sendall(struct.pack("!ii", 8, 80877103))
    assert s.recv(1) == b"N"
    s.close()


def test_multiple_statements_and_empty_query(client: RawClient) -> None:
    msgs = client.query("SELECT 1 AS a; SELECT 2 AS b, 3 AS c")
    assert kinds(msgs) == ["RowDescription", "DataRow", "CommandComplete",
                           "RowDescription", "DataRow", "CommandComplete", "ReadyForQuery"]
    assert rows(msgs) == [("1",), ("2", "3")]
    msgs = client.query("")
    assert kinds(msgs) == ["EmptyQueryResponse", "ReadyForQuery"]
    msgs = client.query("  ;  ")
    assert kinds(msgs) == ["EmptyQueryResponse", "ReadyForQuery"]


def test_error_in_simple_query_skips_rest(client: RawClient) -> None:
    msgs = client.query("SELECT 1; SELECT * FROM no_such_table; SELECT 3")
    assert kinds(msgs) == ["RowDescription", "DataRow", "CommandComplete", "ErrorResponse", "ReadyForQuery"]
    assert error_code(msgs[3]) == "42P01"
    assert msgs[-1].status == "I"  # type: ignore[union-attr]


def test_syntax_error_has_position(client: RawClient) -> None:
    msgs = client.query("SELECT 1 FROM WHERE")
    err = msgs[0]
    assert error_code(err) == "42601"
    assert dict(err.fields)["P"] == "15"  # type: ignore[union-attr]


def test_transaction_status(client: RawClient) -> None:
    assert client.query("BEGIN")[-1].status == "T"  # type: ignore[union-attr]
    msgs = client.query("SELECT * FROM no_such_table")
    assert msgs[-1].status == "E"  # type: ignore[union-attr]
    msgs = client.query("SELECT 1")
    assert error_code(msgs[0]) == "25P02"
    msgs = client.query("COMMIT")
    assert [x.tag for x in msgs if isinstance(x, m.CommandComplete)] == ["ROLLBACK"]
    assert msgs[-1].status == "I"  # type: ignore[union-attr]


def test_error_then_sync_recovery(client: RawClient) -> None:
    client.send(m.Parse("", "SELEC 1", ()), m.Bind("", "", (), (), ()), m.Describe("P", ""),
                m.Execute("", 0), m.Sync())
    msgs = client.recv_until_ready()
    assert kinds(msgs) == ["ErrorResponse", "ReadyForQuery"]
    assert error_code(msgs[0]) == "42601"
    client.send(m.Parse("", "SELECT 41 + 1 AS answer", ()), m.Bind("", "", (), (), ()),
                m.Describe("P", ""), m.Execute("", 0), m.Sync())
    msgs = client.recv_until_ready()
    assert kinds(msgs) == ["ParseComplete", "BindComplete", "RowDescription", "DataRow",
                           "CommandComplete", "ReadyForQuery"]
    assert rows(msgs) == [("42",)]


def test_portal_suspension_and_resumption(client: RawClient) -> None:
    sql = "SELECT g AS n FROM generate_series(1, 10) AS t(g) ORDER BY g"
    client.query("BEGIN")
    client.send(m.Parse("s1", sql, ()), m.Bind("p1", "s1", (), (), ()), m.Execute("p1", 4), m.Sync())
    msgs = client.recv_until_ready()
    assert kinds(msgs) == ["ParseComplete", "BindComplete"] + ["DataRow"] * 4 + ["PortalSuspended",
                                                                                 "ReadyForQuery"]
    got = rows(msgs)
    for _ in range(3):
        client.send(m.Execute("p1", 4), m.Sync())
        msgs = client.recv_until_ready()
        got += rows(msgs)
        if any(isinstance(x, m.CommandComplete) for x in msgs):
            break
    assert [int(r[0]) for r in got] == list(range(1, 11))
    assert [x.tag for x in msgs if isinstance(x, m.CommandComplete)] == ["SELECT 10"]
    client.query("COMMIT")


def test_describe_statement_reports_params_and_columns(client: RawClient) -> None:
    client.send(m.Parse("d1", "SELECT $1::int4 + 1 AS x, 'a'::text AS y", (0,)), m.Describe("S", "d1"), m.Sync())
    msgs = client.recv_until_ready()
    assert kinds(msgs) == ["ParseComplete", "ParameterDescription", "RowDescription", "ReadyForQuery"]
    assert msgs[1].type_oids == (23,)  # type: ignore[union-attr]
    assert [(f.name, f.type_oid) for f in msgs[2].fields] == [("x", 23), ("y", 25)]  # type: ignore[union-attr]


def test_function_call_refused(client: RawClient) -> None:
    client.send(m.FunctionCall(b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"), m.Sync())
    msgs = client.recv_until_ready()
    assert error_code(msgs[0]) == "0A000"
    assert rows(client.query("SELECT 1")) == [("1",)]


def test_copy_out_message_sequence(client: RawClient) -> None:
    """COPY … TO STDOUT answers a Query with CopyOutResponse, one CopyData per row, CopyDone, `COPY n`, and
    ReadyForQuery; stray COPY messages from the client outside COPY mode are ignored, as PostgreSQL does."""
    msgs = client.query("COPY (SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, NULL) TO STDOUT")
    assert msgs == [m.CopyOutResponse(0, (0, 0)), m.CopyData(b"1\tx\n"), m.CopyData(b"2\t\\N\n"), m.CopyDone(),
                    m.CommandComplete("COPY 2"), m.ReadyForQuery("I")]
    client.send(m.CopyData(b"stray"), m.CopyDone())
    assert rows(client.query("SELECT 1")) == [("1",)]


def test_writes_are_refused_read_only(client: RawClient) -> None:
    for sql in ("CREATE TABLE t (a int)", "UPDATE orders SET x = 1", "DELETE FROM orders", "DROP TABLE orders"):
        msgs = client.query(sql)
        assert error_code(msgs[0]) in ("25006", "42P01"), (sql, msgs)


def _other_session_works(gateway: GatewayProcess) -> None:
    with psycopg.connect(gateway.dsn(), autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_malformed_frame_closes_only_that_connection(gateway: GatewayProcess) -> None:
    bystander = psycopg.connect(gateway.dsn(), autocommit=True)
    c = RawClient(gateway.host, gateway.port)
    c.startup()
    c.send_raw(b"Q\x00\x00\x00\x02")  # length smaller than the length field itself
    msg = c.recv()
    assert error_code(msg) == "08P01"
    assert c.closed_by_server()
    assert bystander.execute("SELECT 2").fetchone() == (2,)
    bystander.close()


def test_oversized_frame_is_08P01(gateway: GatewayProcess) -> None:
    c = RawClient(gateway.host, gateway.port)
    c.startup()
    c.send_raw(b"Q" + struct.pack("!i", 2**30))
    msg = c.recv()
    assert error_code(msg) == "08P01"
    assert c.closed_by_server()
    _other_session_works(gateway)


def test_garbage_startup_is_08P01(gateway: GatewayProcess) -> None:
    c = RawClient(gateway.host, gateway.port)
    c.send_raw(struct.pack("!ii", 8, 12345))
    msg = c.recv()
    assert error_code(msg) == "08P01"
    _other_session_works(gateway)


def test_terminate_closes_socket(client: RawClient) -> None:
    client.send(m.Terminate())
    assert client.closed_by_server()


def test_cancel_request_with_wrong_key_does_nothing_right_key_cancels(gateway: GatewayProcess) -> None:
    c = RawClient(gateway.host, gateway.port)
    c.startup()
    slow = "SELECT count(*) FROM generate_series(1, 20000000000) AS t(g)"
    results: list[list[m.BackendMessage]] = []
    t = threading.Thread(target=lambda: results.append(c.query(slow)))
    t.start()
    time.sleep(0.5)
    for secret in (c.secret ^ 1, c.secret):
        s = socket.create_connection((gateway.host, gateway.port))
        s.sendall(struct.pack("!iiii", 16, 80877102, c.pid, secret))
        s.recv(1)
        s.close()
        time.sleep(0.5)
        if secret != c.secret:
            assert not results, "a wrong cancel key must not cancel"
    t.join(30)
    assert results
    assert [error_code(x) for x in results[0] if isinstance(x, m.ErrorResponse)] == ["57014"]
    assert rows(c.query("SELECT 7")) == [("7",)]
    c.close()
