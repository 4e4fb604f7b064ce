"""Codec properties: every message survives a round trip, chunking never changes what is decoded, and
garbage only ever raises ProtocolViolation (08P01) or waits for more bytes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.protocol import messages as m
from gateway.protocol.codec import (
    BackendDecoder,
    FrontendDecoder,
    ProtocolViolation,
    encode_backend,
    encode_frontend,
    error_response,
)
from virtual_schema.errors import PgError

text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=30)
name = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), min_size=1, max_size=12)
blob = st.binary(max_size=40)
i16 = st.integers(-(2**15), 2**15 - 1)
i32 = st.integers(-(2**31), 2**31 - 1)
u32 = st.integers(0, 2**32 - 1)
kind = st.sampled_from(["S", "P"])


def small_tuple(s: st.SearchStrategy[object], n: int = 6) -> st.SearchStrategy[tuple[object, ...]]:
    return st.lists(s, max_size=n).map(tuple)


typed_frontend = st.one_of(
    st.builds(m.Query, text),
    st.builds(m.Parse, text, text, small_tuple(u32)),
    st.builds(m.Bind, text, text, small_tuple(i16), small_tuple(st.none() | blob), small_tuple(i16)),
    st.builds(m.Describe, kind, text),
    st.builds(m.Execute, text, i32),
    st.builds(m.Close, kind, text),
    st.builds(m.Flush),
    st.builds(m.Sync),
    st.builds(m.Terminate),
    st.builds(m.PasswordMessage, blob),
    st.builds(m.FunctionCall, blob),
    st.builds(m.CopyData, blob),
    st.builds(m.CopyDone),
    st.builds(m.CopyFail, text),
)
startup = st.builds(m.StartupMessage, st.integers(0, 0xFFFF).map(lambda minor: (3 << 16) | minor),
                    small_tuple(st.tuples(name, text)))
pre_startup = st.one_of(st.builds(m.SSLRequest), st.builds(m.GSSENCRequest))

field_desc = st.builds(m.FieldDescription, name, u32, i16, u32, i16, i32, i16)
err_fields = small_tuple(st.tuples(st.sampled_from(list("SVCMDHPWsctdnFLR")), text))
backend = st.one_of(
    st.builds(m.AuthenticationOk),
    st.builds(m.AuthenticationCleartextPassword),
    st.builds(m.AuthenticationSASL, small_tuple(name, 3)),
    st.builds(m.AuthenticationSASLContinue, blob),
    st.builds(m.AuthenticationSASLFinal, blob),
    st.builds(m.ParameterStatus, text, text),
    st.builds(m.BackendKeyData, i32, i32),
    st.builds(m.ReadyForQuery, st.sampled_from(["I", "T", "E"])),
    st.builds(m.RowDescription, small_tuple(field_desc)),
    st.builds(m.DataRow, small_tuple(st.none() | blob, 10)),
    st.builds(m.CommandComplete, text),
    st.builds(m.EmptyQueryResponse),
    st.builds(m.ErrorResponse, err_fields),
    st.builds(m.NoticeResponse, err_fields),
    st.builds(m.ParseComplete),
    st.builds(m.BindComplete),
    st.builds(m.CloseComplete),
    st.builds(m.NoData),
    st.builds(m.ParameterDescription, small_tuple(u32)),
    st.builds(m.PortalSuspended),
    st.builds(m.NegotiateProtocolVersion, i32, small_tuple(name, 3)),
)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@given(typed_frontend)
def test_frontend_round_trip(msg: m.FrontendMessage) -> None:
    dec = FrontendDecoder()
    dec.start_typed()
    assert dec.feed(encode_frontend(msg)) == [msg]


@given(st.one_of(startup, pre_startup, st.builds(m.CancelRequest, i32, i32)))
def test_startup_round_trip(msg: m.FrontendMessage) -> None:
    assert FrontendDecoder().feed(encode_frontend(msg)) == [msg]


@given(backend)
def test_backend_round_trip(msg: m.BackendMessage) -> None:
    assert BackendDecoder().feed(encode_backend(msg)) == [msg]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(pre_startup, max_size=2), startup, st.lists(typed_frontend, max_size=25),
       st.lists(st.integers(0, 10**6), max_size=30))
def test_frontend_chunking(pre: list[m.FrontendMessage], start: m.StartupMessage,
                           msgs: list[m.FrontendMessage], cuts: list[int]) -> None:
    stream = [*pre, start, *msgs]
    data = b"".join(encode_frontend(x) for x in stream)
    dec = FrontendDecoder()
    got: list[m.FrontendMessage] = []
    for piece in chunked(data, cuts):
        got.extend(dec.feed(piece))
    assert got == stream
    assert dec.buffered == 0


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(backend, max_size=25), st.lists(st.integers(0, 10**6), max_size=30))
def test_backend_chunking(msgs: list[m.BackendMessage], cuts: list[int]) -> None:
    data = b"".join(encode_backend(x) for x in msgs)
    dec = BackendDecoder()
    got: list[m.BackendMessage] = []
    for piece in chunked(data, cuts):
        got.extend(dec.feed(piece))
    assert got == msgs


def _feed_garbage(dec: FrontendDecoder, pieces: list[bytes]) -> None:
    try:
        for piece in pieces:
            for msg in dec.feed(piece):
                assert isinstance(msg, (m.StartupMessage, m.SSLRequest, m.GSSENCRequest, m.CancelRequest,
                                        *typed_frontend_types))
    except ProtocolViolation as e:
        assert isinstance(e, PgError)
        assert e.sqlstate == "08P01"


typed_frontend_types = (m.Query, m.Parse, m.Bind, m.Describe, m.Execute, m.Close, m.Flush, m.Sync, m.Terminate,
                        m.PasswordMessage, m.FunctionCall, m.CopyData, m.CopyDone, m.CopyFail)


@given(st.lists(st.binary(max_size=64), max_size=8))
def test_garbage_startup_phase(pieces: list[bytes]) -> None:
    _feed_garbage(FrontendDecoder(), pieces)


@given(st.lists(st.binary(max_size=64), max_size=8))
def test_garbage_typed_phase(pieces: list[bytes]) -> None:
    dec = FrontendDecoder()
    dec.start_typed()
    _feed_garbage(dec, pieces)


@given(typed_frontend, st.integers(0, 200), st.integers(0, 255))
def test_mutated_messages_only_violate(msg: m.FrontendMessage, where: int, value: int) -> None:
    """Flipping one byte of a valid message is the nastiest garbage: it must still only yield 08P01."""
    data = bytearray(encode_frontend(msg))
    data[where % len(data)] = value
    dec = FrontendDecoder()
    dec.start_typed()
    _feed_garbage(dec, [bytes(data)])


def test_violations() -> None:
    cases = [
        (b"\x00\x00\x00\x04", False),  # startup length below 8
        ((10001).to_bytes(4, "big") + b"\x00" * 4, False),  # startup packet too large
        ((8).to_bytes(4, "big") + (2 << 16).to_bytes(4, "big"), False),  # protocol 2.0
        (b"Z\x00\x00\x00\x04", True),  # unknown type byte
        (b"Q\x00\x00\x00\x03", True),  # length below 4
        (b"Q\x00\x00\x00\x06\xff\x00", True),  # invalid UTF-8
        (b"Q\x00\x00\x00\x06ab", True),  # string without terminator
        (b"S\x00\x00\x00\x05x", True),  # Sync with a body
        (b"D\x00\x00\x00\x07Xa\x00", True),  # bad Describe kind
        (b"E\x00\x00\x27\x20", True),  # Execute larger than the small-message limit
    ]
    for data, typed in cases:
        dec = FrontendDecoder()
        if typed:
            dec.start_typed()
        with pytest.raises(ProtocolViolation) as info:
            dec.feed(data)
        assert info.value.sqlstate == "08P01"
        with pytest.raises(ProtocolViolation):
            dec.feed(b"")  # a broken stream stays broken


def test_max_message_size() -> None:
    dec = FrontendDecoder(max_message_size=1024)
    dec.start_typed()
    assert dec.feed(encode_frontend(m.Query("x" * 1000))) == [m.Query("x" * 1000)]
    with pytest.raises(ProtocolViolation):
        dec.feed(b"Q" + (2000).to_bytes(4, "big"))  # refused before the body arrives


def test_startup_then_typed_and_ssl_stays_in_startup() -> None:
    dec = FrontendDecoder()
    assert dec.feed(encode_frontend(m.SSLRequest())) == [m.SSLRequest()]
    assert not dec.typed
    start = m.StartupMessage(196608, (("user", "u"), ("database", "d")))
    assert dec.feed(encode_frontend(start) + encode_frontend(m.Sync())) == [start, m.Sync()]
    assert start.param("database") == "d" and start.param("x", "dflt") == "dflt"


def test_auth_payload_helpers() -> None:
    assert m.parse_password(b"secret\x00") == "secret"
    with pytest.raises(ProtocolViolation):
        m.parse_password(b"sec\x00ret\x00")
    payload = b"n,,n=,r=abc"
    data = b"SCRAM-SHA-256\x00" + len(payload).to_bytes(4, "big") + payload
    assert m.parse_sasl_initial_response(data) == ("SCRAM-SHA-256", payload)
    with pytest.raises(ProtocolViolation):
        m.parse_sasl_initial_response(b"SCRAM-SHA-256\x00\x00\x00\x00\x09abc")


def test_error_response_fields() -> None:
    err = PgError("42601", "syntax error at or near \"x\"", hint="h", position=8)
    assert error_response(err).fields == (("S", "ERROR"), ("V", "ERROR"), ("C", "42601"),
                                          ("M", 'syntax error at or near "x"'), ("H", "h"), ("P", "8"))
    warn = error_response(PgError("25P01", "no transaction", severity="WARNING"), notice=True)
    assert isinstance(warn, m.NoticeResponse) and warn.fields[0] == ("S", "WARNING")
