"""The vectorized encoder agrees with the per-value reference (pgvalue.py, itself checked against
PostgreSQL in test_rowenc_vs_postgres.py) on random Arrow data, for every chunking."""

from __future__ import annotations

import datetime as dt
import decimal
import math

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.protocol import pgvalue as pv
from gateway.protocol import rowenc
from gateway.protocol.codec import encode_data_row
from gateway.protocol.rowenc import RowEncoder
from virtual_schema import pgtypes as t
from virtual_schema.pgtypes import PgColumnType, numeric_typmod

ZONES = ["UTC", "Asia/Kolkata", "America/New_York", "Australia/Lord_Howe"]


def _reference(values: list[list[object]], cols: list[PgColumnType], fmt: int, zone: str) -> bytes:
    tz = pv.session_zone(zone)
    out = []
    for row in zip(*values, strict=True):
        cells: list[bytes | None] = []
        for v, c in zip(row, cols, strict=True):
            scale = (c.typmod - 4) & 0xFFFF if c.oid == t.NUMERIC and c.typmod >= 4 else None
            cells.append(None if v is None else pv.value_encoder(c.oid, fmt, tz, scale)(v))
        out.append(encode_data_row(tuple(cells)))
    return b"".join(out)


def nullable(s: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(st.none(), s, s, s)


floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.integers(-(10**9), 10**9).map(lambda i: i / 1000),
                   st.integers(-(10**6), 10**6).map(lambda i: i / 100))
decimals2 = st.integers(-(10**17), 10**17).map(lambda i: decimal.Decimal(i).scaleb(-2))
# beyond int64 once unscaled; exact (the default context would round them to 28 digits)
wide_decimals2 = st.integers(-(10**30), 10**30).map(lambda i: decimal.Decimal(i).scaleb(-2, decimal.Context(prec=40)))
timestamps = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30))
micro_ts = st.one_of(timestamps, timestamps.map(lambda d: d.replace(microsecond=0)))

COLUMNS: dict[str, tuple[PgColumnType, pa.DataType, st.SearchStrategy[object]]] = {
    "int8": (PgColumnType(t.INT8), pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "int4": (PgColumnType(t.INT4), pa.int32(), st.integers(-(2**31), 2**31 - 1)),
    "int2": (PgColumnType(t.INT2), pa.int16(), st.integers(-(2**15), 2**15 - 1)),
    "float8": (PgColumnType(t.FLOAT8), pa.float64(), floats),
    "numeric": (PgColumnType(t.NUMERIC, numeric_typmod(18, 2)), pa.decimal128(18, 2), decimals2),
    # a semantic measure: numeric without typmod over DECIMAL(38, s), some values beyond int64
    "numeric_sum": (PgColumnType(t.NUMERIC), pa.decimal128(38, 2), st.one_of(decimals2, wide_decimals2)),
    "numeric_count": (PgColumnType(t.NUMERIC), pa.decimal128(38, 0),
                      st.integers(-(10**20), 10**20).map(decimal.Decimal)),
    # an average or a quotient: a double the client is told is numeric
    "numeric_double": (PgColumnType(t.NUMERIC), pa.float64(), floats),
    "date": (PgColumnType(t.DATE), pa.date32(), st.dates()),
    "timestamp": (PgColumnType(t.TIMESTAMP), pa.timestamp("us"), micro_ts),
    "timestamptz": (PgColumnType(t.TIMESTAMPTZ), pa.timestamp("us", tz="UTC"),
                    micro_ts.map(lambda d: d.replace(tzinfo=dt.UTC))),
    "time": (PgColumnType(t.TIME), pa.time64("us"), st.times()),
    "text": (PgColumnType(t.TEXT), pa.string(), st.text(max_size=20)),
    "bool": (PgColumnType(t.BOOL), pa.bool_(), st.booleans()),
    "bytea": (PgColumnType(t.BYTEA), pa.binary(), st.binary(max_size=12)),
    "uuid": (PgColumnType(t.UUID), pa.binary(16), st.binary(min_size=16, max_size=16)),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data(), st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, max_size=5),
       st.integers(1, 40), st.sampled_from([0, 1]), st.sampled_from(ZONES), st.sampled_from([1, 3, 7, 16384]))
def test_vectorized_matches_reference(data: st.DataObject, names: list[str], nrows: int, fmt: int, zone: str,
                                      chunk: int) -> None:
    cols = [COLUMNS[n][0] for n in names]
    values = [data.draw(st.lists(nullable(COLUMNS[n][2]), min_size=nrows, max_size=nrows)) for n in names]
    batch = pa.record_batch([pa.array(v, COLUMNS[n][1]) for v, n in zip(values, names, strict=True)],
                            names=[f"c{i}" for i in range(len(names))])
    saved = rowenc.CHUNK_ROWS, rowenc.SMALL_BATCH_ROWS
    rowenc.CHUNK_ROWS = chunk
    try:
        rowenc.SMALL_BATCH_ROWS = 0  # vectorized kernels only
        vectorized = RowEncoder(cols, [fmt], timezone=zone).encode(batch)
        rowenc.SMALL_BATCH_ROWS = 10**9  # per-value path only
        small = RowEncoder(cols, [fmt], timezone=zone).encode(batch)
    finally:
        rowenc.CHUNK_ROWS, rowenc.SMALL_BATCH_ROWS = saved
    expected = _reference(values, cols, fmt, zone)
    assert vectorized == expected
    assert small == expected


def test_batch_slices_and_offsets() -> None:
    """Sliced arrays (non-zero Arrow offsets) encode like fresh ones."""
    base = pa.record_batch([pa.array(list(range(-50, 50)), pa.int64()), pa.array([f"s{i}" for i in range(100)]),
                            pa.array([i / 8 if i % 5 else None for i in range(100)])], names=["a", "b", "c"])
    cols = [PgColumnType(t.INT8), PgColumnType(t.TEXT), PgColumnType(t.FLOAT8)]
    for fmt in (0, 1):
        enc = RowEncoder(cols, [fmt])
        sliced = base.slice(37, 41)
        fresh = pa.RecordBatch.from_pylist(sliced.to_pylist(), schema=base.schema)
        assert enc.encode(sliced) == enc.encode(fresh)


def test_per_column_formats_and_empty_batches() -> None:
    batch = pa.record_batch([pa.array([1, None]), pa.array(["x", "y"])], names=["a", "b"])
    cols = [PgColumnType(t.INT4), PgColumnType(t.TEXT)]
    got = RowEncoder(cols, [1, 0]).encode(batch)
    assert got == encode_data_row((b"\x00\x00\x00\x01", b"x")) + encode_data_row((None, b"y"))
    assert RowEncoder(cols, []).encode(batch.slice(0, 0)) == b""


def test_catalog_strings_under_other_types() -> None:
    """Catalog answers hold regclass/oid/name values as strings: text format sends them as they are."""
    batch = pa.record_batch([pa.array(["pg_class", None]), pa.array(["1259", "16384"])], names=["a", "b"])
    got = RowEncoder([PgColumnType(t.REGCLASS), PgColumnType(t.OID)], [0]).encode(batch)
    assert got == encode_data_row((b"pg_class", b"1259")) + encode_data_row((None, b"16384"))
    binary = RowEncoder([PgColumnType(t.OID)], [1]).encode(batch.select([1]))
    assert binary == encode_data_row(((1259).to_bytes(4, "big"),)) + encode_data_row(((16384).to_bytes(4, "big"),))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_text_round_trips(x: float) -> None:
    text = pv.format_float(x)
    assert float(text) == x or (x == 0 and float(text) == 0)
    assert len(text.lstrip("-").replace(".", "").split("e")[0].strip("0")) <= len(repr(abs(x)).replace(".", ""))
    if math.copysign(1, x) < 0:
        assert text.startswith("-")
