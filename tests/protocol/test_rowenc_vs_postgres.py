"""The row encoder must produce exactly PostgreSQL 15's DataRow bytes, text and binary.

Each case selects the same values from a real PostgreSQL (cast from text literals, so PostgreSQL's
own output functions produce the bytes) and encodes them from Arrow with RowEncoder.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from gateway.protocol import messages as m
from gateway.protocol import rowenc
from gateway.protocol.codec import BackendDecoder
from gateway.protocol.rowenc import RowEncoder, describe_fields
from tests.protocol.conftest import RawPg
from virtual_schema import pgtypes as t
from virtual_schema.pgtypes import PgColumnType, numeric_typmod
from virtual_schema.schema import ResultColumn

D = decimal.Decimal


def _array_literal(items: list[str | None]) -> str:
    def one(x: str | None) -> str:
        if x is None:
            return "NULL"
        return '"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "{" + ",".join(one(x) for x in items) + "}"


@dataclass
class Case:
    name: str
    sql_type: str
    col: PgColumnType
    values: pa.Array
    literals: list[str | None]


def _float_lit(x: float | None) -> str | None:
    if x is None:
        return None
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return repr(x)


F8 = [0.1, 1 / 3, 1e15, 1e16, 123456789012345.6, 1e-5, 0.0001, 1.7976931348623157e308, 5e-324, -0.0, math.inf,
      -math.inf, math.nan, 100.0, 1e22, 2.5e-7, -123.456, 12.99, 1e9 + 0.5, 10000000000.5, None, 0.0, 42.0]
F4 = [1.5, 0.1, 1e6, 100000.0, 1234567.0, 1e-5, 0.0001, 3.4028235e38, 1.4e-45, -0.0, math.inf, math.nan, 123.456,
      None, 0.3, 16777217.0]
F4 = [None if x is None else float(np.float32(x)) for x in F4]

INTERVALS = [(14, 3, 14706000000000), (0, 0, 0), (-1, -2, -3_000_000), (1, 0, 0), (0, 1, 0),
             (0, 0, 2 * 86_400_000_000_000 + 5000), (-14, 3, -1000), (25, -3, 1000), (0, -1, 3_600_000_000_000),
             (-25, 0, 0), None]


def _interval_lit(v: tuple[int, int, int] | None) -> str | None:
    return None if v is None else f"{v[0]} mons {v[1]} days {v[2] // 1000} microseconds"


def _ts(*a: int) -> dt.datetime:
    return dt.datetime(*a)  # type: ignore[arg-type]


TIMESTAMPS = [_ts(2024, 1, 2, 3, 4, 5), _ts(2024, 1, 2, 3, 4, 5, 500000), _ts(2024, 1, 2, 3, 4, 5, 123),
              _ts(1999, 12, 31, 23, 59, 59, 999999), _ts(1, 1, 1), _ts(9999, 12, 31, 23, 59, 59),
              _ts(2000, 1, 1), _ts(1969, 7, 20, 20, 17, 40, 10), None, _ts(1890, 6, 1, 12, 0)]
TZ_TIMES = [None if x is None else x.replace(tzinfo=dt.UTC) for x in TIMESTAMPS if x is None or x.year > 1]
TZ_TIMES += [_ts(2024, 7, 1, 12).replace(tzinfo=dt.UTC), _ts(2024, 3, 10, 7, 30).replace(tzinfo=dt.UTC)]
UUIDS = [uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), None]
TEXTS = ["hello", "", "ü€ and more", 'a"b\\c', None, "x" * 300, "NULL", "with space"]


def cases() -> list[Case]:
    c: list[Case] = []

    def add(name: str, sql_type: str, col: PgColumnType, values: pa.Array, literals: list[Any]) -> None:
        c.append(Case(name, sql_type, col, values, [None if x is None else str(x) for x in literals]))

    ints2 = [0, 1, -1, 32767, -32768, None, 42]
    ints4 = [0, 1, -1, 2147483647, -2147483648, None, 1000000]
    ints8 = [0, 1, -1, 2**63 - 1, -(2**63), None, 1234567890123, 10, 99, 100]
    add("int2", "int2", PgColumnType(t.INT2), pa.array(ints2, pa.int16()), ints2)
    add("int4", "int4", PgColumnType(t.INT4), pa.array(ints4, pa.int32()), ints4)
    add("int8", "int8", PgColumnType(t.INT8), pa.array(ints8, pa.int64()), ints8)
    add("int8 from int32", "int8", PgColumnType(t.INT8), pa.array(ints4, pa.int32()), ints4)
    add("int4 from int64", "int4", PgColumnType(t.INT4), pa.array(ints4, pa.int64()), ints4)
    add("oid", "oid", PgColumnType(t.OID), pa.array([0, 1, 4294967295, None], pa.int64()), [0, 1, 4294967295, None])
    add("float8", "float8", PgColumnType(t.FLOAT8), pa.array(F8, pa.float64()), [_float_lit(x) for x in F8])
    add("float4", "float4", PgColumnType(t.FLOAT4), pa.array(F4, pa.float32()), [_float_lit(x) for x in F4])
    dec2 = [D("12.50"), D("-0.05"), D("0.00"), D("99999999999999.99"), D("-1.00"), None, D("0.10"), D("10000.00")]
    add("numeric(18,2)", "numeric(18,2)", PgColumnType(t.NUMERIC, numeric_typmod(18, 2)),
        pa.array(dec2, pa.decimal128(18, 2)), dec2)
    dec0 = [D(0), D(1), D(-10000), D(9999999999), D(100000000), None]
    add("numeric(10,0)", "numeric(10,0)", PgColumnType(t.NUMERIC, numeric_typmod(10, 0)),
        pa.array(dec0, pa.decimal128(10, 0)), dec0)
    dec10 = [D("0E-10"), D("1.0000000001"), D("-12.5000000000"), D("0.0000000001"), None]
    add("numeric(20,10)", "numeric(20,10)", PgColumnType(t.NUMERIC, numeric_typmod(20, 10)),
        pa.array(dec10, pa.decimal128(20, 10)), dec10)
    dec17 = [D("0.12345678901234567"), D("-1.00000000000000001"), D(0).quantize(D("1E-17"))]
    add("numeric(19,17)", "numeric(19,17)", PgColumnType(t.NUMERIC, numeric_typmod(19, 17)),
        pa.array(dec17, pa.decimal128(19, 17)), dec17)
    big = [D("12345678901234567890123.123456"), D("-0.000001"), D("100000000000000000000000.000000"), None]
    add("numeric(38,6)", "numeric(38,6)", PgColumnType(t.NUMERIC, numeric_typmod(38, 6)),
        pa.array(big, pa.decimal128(38, 6)), big)
    dec3 = [D("1.500"), D("-2.000"), D("0.000"), D("123456.789")]
    add("numeric from decimal(38,3)", "numeric", PgColumnType(t.NUMERIC), pa.array(dec3, pa.decimal128(38, 3)),
        dec3)
    add("numeric from int64", "numeric", PgColumnType(t.NUMERIC), pa.array(ints8, pa.int64()), ints8)
    # an average or a quotient the warehouse computes in double precision, announced as numeric: PostgreSQL's
    # numeric of the double's shortest significant digits (1e15 is 1E+15, not 1000000000000000.0), printed
    # by numeric_out (no exponent, no -0)
    add("numeric from float8", "numeric", PgColumnType(t.NUMERIC), pa.array(F8, pa.float64()),
        [str(D(repr(x)).normalize()) if x is not None and math.isfinite(x) else _float_lit(x) for x in F8])
    dates = [dt.date(2024, 1, 2), dt.date(1970, 1, 1), dt.date(1, 1, 1), dt.date(9999, 12, 31),
             dt.date(2000, 2, 29), None, dt.date(1899, 12, 31)]
    add("date", "date", PgColumnType(t.DATE), pa.array(dates, pa.date32()), [x and x.isoformat() for x in dates])
    times = [dt.time(0, 0), dt.time(23, 59, 59, 999999), dt.time(12, 30, 0, 500000), None, dt.time(1, 2, 3, 40)]
    add("time", "time", PgColumnType(t.TIME), pa.array(times, pa.time64("us")), [x and x.isoformat() for x in times])
    add("timestamp", "timestamp", PgColumnType(t.TIMESTAMP), pa.array(TIMESTAMPS, pa.timestamp("us")),
        [x and x.isoformat(" ") for x in TIMESTAMPS])
    secs = [x for x in TIMESTAMPS if x is None or x.microsecond % 1000 == 0]
    add("timestamp from ms", "timestamp", PgColumnType(t.TIMESTAMP), pa.array(secs, pa.timestamp("ms")),
        [x and x.isoformat(" ") for x in secs])
    add("timestamptz", "timestamptz", PgColumnType(t.TIMESTAMPTZ), pa.array(TZ_TIMES, pa.timestamp("us", tz="UTC")),
        [x and x.isoformat(" ") for x in TZ_TIMES])
    add("interval", "interval", PgColumnType(t.INTERVAL), pa.array(
        [None if v is None else pa.MonthDayNano(list(v)) for v in INTERVALS], pa.month_day_nano_interval()),
        [_interval_lit(v) for v in INTERVALS])
    blobs = [b"\x0a\x0b", b"", b"\x00\xff", None, bytes(range(256))]
    add("bytea", "bytea", PgColumnType(t.BYTEA), pa.array(blobs, pa.binary()),
        [None if b is None else "\\x" + b.hex() for b in blobs])
    add("uuid from string", "uuid", PgColumnType(t.UUID), pa.array([u and str(u) for u in UUIDS], pa.string()),
        UUIDS)
    add("uuid from bytes", "uuid", PgColumnType(t.UUID), pa.array([u and u.bytes for u in UUIDS], pa.binary(16)),
        UUIDS)
    js = ['{"a": 1}', "[1, 2]", None, '"x"']
    add("json", "json", PgColumnType(t.JSON), pa.array(js), js)
    add("jsonb", "jsonb", PgColumnType(t.JSONB), pa.array(js), js)
    add("text", "text", PgColumnType(t.TEXT), pa.array(TEXTS), TEXTS)
    add("varchar", "varchar", PgColumnType(t.VARCHAR), pa.array(TEXTS, pa.large_string()), TEXTS)
    add("name", "name", PgColumnType(t.NAME), pa.array(["pg_class", "x", None]), ["pg_class", "x", None])
    add('"char"', '"char"', PgColumnType(t.CHAR), pa.array(["a", "r", None]), ["a", "r", None])
    bools = [True, False, None, True]
    add("bool", "bool", PgColumnType(t.BOOL), pa.array(bools), [None if b is None else str(b).lower() for b in bools])
    arr_i = [[1, 2, None], [], None, [-5]]
    add("int4[]", "int4[]", PgColumnType(t.INT4_ARRAY), pa.array(arr_i, pa.list_(pa.int32())),
        [None if a is None else "{" + ",".join("NULL" if x is None else str(x) for x in a) + "}" for a in arr_i])
    arr_t = [["a", "b c", "NULL", "", 'x"y', "back\\slash", None], ["plain"]]
    add("text[]", "text[]", PgColumnType(t.TEXT_ARRAY), pa.array(arr_t, pa.list_(pa.string())),
        [_array_literal(a) for a in arr_t])
    arr_f = [[1.5, None, 0.1, 1e-7], []]
    add("float8[]", "float8[]", PgColumnType(t.FLOAT8_ARRAY), pa.array(arr_f, pa.list_(pa.float64())),
        ["{" + ",".join("NULL" if x is None else repr(x) for x in a) + "}" for a in arr_f])
    return c


CASES = cases()


def _encode(case: Case, fmt: int, timezone: str = "UTC") -> list[m.DataRow]:
    """Our DataRows for the case, through the vectorized kernels and the small-batch path (both must agree)."""
    batch = pa.record_batch([case.values], names=["v"])
    outputs = []
    saved = rowenc.SMALL_BATCH_ROWS
    try:
        for threshold in (0, 10**9):
            rowenc.SMALL_BATCH_ROWS = threshold
            outputs.append(RowEncoder([case.col], [fmt], timezone=timezone).encode(batch))
    finally:
        rowenc.SMALL_BATCH_ROWS = saved
    assert outputs[0] == outputs[1]
    msgs = BackendDecoder().feed(outputs[0])
    assert all(isinstance(x, m.DataRow) for x in msgs)
    return msgs  # type: ignore[return-value]


def _select(pg: RawPg, case: Case, fmt: int) -> tuple[m.RowDescription, list[m.DataRow]]:
    sql = f"SELECT v::{case.sql_type} FROM unnest($1::text[]) WITH ORDINALITY AS u(v, i) ORDER BY i"
    return pg.rows(sql, (_array_literal(case.literals).encode(),), (0,), fmt)


@pytest.mark.parametrize("fmt", [0, 1], ids=["text", "binary"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_matches_postgres(pg: RawPg, case: Case, fmt: int) -> None:
    desc, expected = _select(pg, case, fmt)
    assert _encode(case, fmt) == expected
    ours = describe_fields([ResultColumn("v", case.col)], [fmt]).fields[0]
    theirs = desc.fields[0]
    assert (ours.type_oid, ours.typlen, ours.typmod, ours.format) == (
        theirs.type_oid, theirs.typlen, theirs.typmod, theirs.format)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/New_York", "Europe/Amsterdam", "Asia/Kathmandu"])
def test_timestamptz_in_session_zone(pg: RawPg, zone: str) -> None:
    values = [*TZ_TIMES, dt.datetime(1890, 6, 1, 12, tzinfo=dt.UTC), dt.datetime(1937, 6, 1, 12, tzinfo=dt.UTC)]
    case = Case("tz", "timestamptz", PgColumnType(t.TIMESTAMPTZ), pa.array(values, pa.timestamp("us", tz="UTC")),
                [None if x is None else x.isoformat(" ") for x in values])
    pg.query(f"SET TimeZone = '{zone}'")
    for fmt in (0, 1):
        _, expected = _select(pg, case, fmt)
        assert _encode(case, fmt, timezone=zone) == expected, zone


def test_many_rows_mixed_columns_match_postgres(pg: RawPg) -> None:
    """Several columns at once and more rows than one encoder chunk (assembly across chunks)."""
    rng = np.random.default_rng(3)
    n = 20000
    ids = rng.integers(-(10**12), 10**12, n)
    names = [None if i % 97 == 0 else f"name_{i % 1000}" for i in range(n)]
    cents = rng.integers(-10**8, 10**8, n)
    floats = np.round(rng.random(n) * 1000, int(rng.integers(0, 6)))
    days = rng.integers(-1000, 20000, n)
    micro = rng.integers(-2 * 10**9, 4 * 10**9, n) * 10**6 + np.where(rng.random(n) < 0.5, 0,
                                                                       rng.integers(0, 10**6, n))
    pg.query("CREATE TEMP TABLE mix (id int8, name text, amount numeric(18,2), ratio float8, day date, "
             "ts timestamp, flag bool)")
    rows = []
    for i in range(n):
        day = dt.date(1970, 1, 1) + dt.timedelta(days=int(days[i]))
        ts = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=int(micro[i]))
        name = "NULL" if names[i] is None else f"'{names[i]}'"
        rows.append(f"({ids[i]}, {name}, {D(int(cents[i])).scaleb(-2)}, {float(floats[i])!r}, '{day}', '{ts}', "
                    f"{'true' if i % 3 else 'false'})")
    pg.query("INSERT INTO mix VALUES " + ",".join(rows))
    cols = [PgColumnType(t.INT8), PgColumnType(t.TEXT), PgColumnType(t.NUMERIC, numeric_typmod(18, 2)),
            PgColumnType(t.FLOAT8), PgColumnType(t.DATE), PgColumnType(t.TIMESTAMP), PgColumnType(t.BOOL)]
    words = np.empty((n, 2), np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63
    batch = pa.record_batch([
        pa.array(ids), pa.array(names), pa.Array.from_buffers(pa.decimal128(18, 2), n, [None, pa.py_buffer(words)]),
        pa.array(floats), pa.array(days.astype(np.int32), pa.date32()), pa.array(micro, pa.timestamp("us")),
        pa.array([bool(i % 3) for i in range(n)]),
    ], names=["id", "name", "amount", "ratio", "day", "ts", "flag"])
    for fmt in (0, 1):
        _, expected = pg.rows("SELECT * FROM mix", fmt=fmt)
        got = BackendDecoder().feed(RowEncoder(cols, [fmt]).encode(batch))
        assert len(got) == len(expected)
        assert got == expected
