"""Arrow record batches -> DataRow messages, column-wise: the result pipeline's hot path.

How: each column of a chunk of rows is rendered once into an (n, w) byte matrix (vecfmt.py: numpy
lookup tables for digits, dates and clocks; pyarrow casts for floats; padded strings), the matrices
are laid side by side behind a per-row header and length words, and one pyarrow `filter` over a
binary array whose elements alternate "bytes to keep" / "padding to drop" cuts every row out in C++.
No Python code runs per value for the common types; rare types (arrays, intervals as text, values
outside the vectorized ranges) go through pgvalue.py per value, which is also the reference.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from gateway.protocol import pgvalue as pv
from gateway.protocol import vecfmt as vf
from gateway.protocol.codec import encode_data_row
from gateway.protocol.messages import FieldDescription, RowDescription
from gateway.protocol.params import decode_text
from virtual_schema import pgtypes as t
from virtual_schema.pgtypes import PgColumnType
from virtual_schema.schema import ResultColumn

__all__ = ["KernelLoader", "RowEncoder", "describe_fields", "result_formats"]

CHUNK_ROWS = 65536
KERNEL_LOAD_ROWS = 8192  # a batch at least this large starts loading the compiled writer
KERNEL_CHUNK_CELLS = 1 << 19  # compiled path: rows per chunk x columns (its per-cell inputs take 17 bytes a cell)
_MAX_PAD_WIDTH = 256  # wider strings go through the per-row path instead of a padded matrix

Renderer = Callable[[pa.Array], vf.Field]

_TEXTLIKE = {t.TEXT, t.VARCHAR, t.BPCHAR, t.NAME, t.JSON, t.UNKNOWN, t.CHAR, 142, 194, 1790, 2275}
_OIDLIKE = {t.OID, t.REGCLASS, t.REGTYPE, t.REGPROC, 28, 29, 2202, 2203, 2204, 3734, 4089, 4096}
_INT_WIDTH = {t.INT2: ">i2", t.INT4: ">i4", t.INT8: ">i8"}


def result_formats(formats: Sequence[int], ncols: int) -> list[int]:
    """Bind's result-format rule: none = all text, one = for every column, else one per column."""
    if not formats:
        return [0] * ncols
    if len(formats) == 1:
        return [formats[0]] * ncols
    if len(formats) != ncols:
        from virtual_schema.errors import PROTOCOL_VIOLATION, PgError

        raise PgError(PROTOCOL_VIOLATION, f"bind message has {len(formats)} result formats but query has "
                      f"{ncols} columns")
    return list(formats)


def describe_fields(columns: Sequence[ResultColumn], formats: Sequence[int]) -> RowDescription:
    fmts = result_formats(formats, len(columns))
    return RowDescription(tuple(
        FieldDescription(c.name, c.table_oid, c.attnum, c.type.oid, c.type.typlen, c.type.typmod, f)
        for c, f in zip(columns, fmts, strict=True)
    ))


# ---------------------------------------------------------------------------------------------- arrow helpers


def _values(arr: pa.Array, dtype: type[np.generic] | str) -> npt.NDArray[Any]:
    """The value buffer of a primitive Arrow array as numpy (NULL slots hold whatever was there)."""
    d = np.dtype(dtype)
    buf = arr.buffers()[1]
    if buf is None:
        return np.zeros(len(arr), d)
    return np.frombuffer(buf, dtype=d, count=arr.offset + len(arr))[arr.offset :]


def _nulls(arr: pa.Array) -> npt.NDArray[np.bool_] | None:
    if arr.null_count == 0:
        return None
    return np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _normalize(arr: pa.Array) -> pa.Array:
    typ = arr.type
    if isinstance(typ, pa.ExtensionType):
        return _normalize(arr.storage)
    if pa.types.is_dictionary(typ):
        return _normalize(arr.dictionary_decode())
    if pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        return arr.cast(pa.string())
    if pa.types.is_large_binary(typ) or pa.types.is_binary_view(typ):
        return arr.cast(pa.binary())
    return arr


def _int64(arr: pa.Array) -> npt.NDArray[np.int64]:
    if arr.type == pa.int64():
        return _values(arr, np.int64)
    if pa.types.is_integer(arr.type):
        return _values(arr, arr.type.to_pandas_dtype()).astype(np.int64)
    return _values(arr.cast(pa.int64(), safe=False), np.int64)


def _with_nulls(field: vf.Field, arr: pa.Array) -> vf.Field:
    field.null = _nulls(arr)
    return field


def _strings(arr: pa.Array, prefix: bytes = b"") -> vf.Field:
    """Arrow string/binary values as a left-aligned padded matrix (pyarrow rpad for ASCII text)."""
    arr = _normalize(arr)
    if pa.types.is_fixed_size_binary(arr.type):
        arr = arr.cast(pa.binary())
    elif not (pa.types.is_string(arr.type) or pa.types.is_binary(arr.type)):
        arr = arr.cast(pa.string())
    n = len(arr)
    null = _nulls(arr)
    offsets = _values_offsets(arr)
    lens = np.diff(offsets)
    width = int(lens.max()) if n else 0
    data = arr.buffers()[2]
    if pa.types.is_string(arr.type) and not prefix and width and n:
        nbytes = int(offsets[-1] - offsets[0])
        filled = arr.fill_null("") if null is not None else arr
        if nbytes == int(pc.sum(pc.utf8_length(filled)).as_py() or 0):  # ASCII: characters == bytes
            padded = pc.utf8_rpad(filled, width=width, padding=" ")
            pbuf = padded.buffers()[2]
            start = int(_values_offsets(padded)[0])
            mat = np.frombuffer(pbuf, np.uint8, count=start + n * width)[start:].reshape(n, width)
            return vf.Field(mat, None, lens, null)
    raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    field = vf.var_matrix(offsets, raw, prefix)
    field.null = null
    return field


def _values_offsets(arr: pa.Array) -> npt.NDArray[np.int64]:
    buf = arr.buffers()[1]
    if buf is None:
        return np.zeros(len(arr) + 1, np.int64)
    return np.frombuffer(buf, np.int32, count=arr.offset + len(arr) + 1)[arr.offset :].astype(np.int64)


def _per_value(encode: Callable[[Any], bytes], prefix: bytes = b"") -> Renderer:
    """The complete but slow path: one Python call per value."""

    def render(arr: pa.Array) -> vf.Field:
        values = [None if v is None else prefix + encode(v) for v in _pylist(arr)]
        return _strings(pa.array(values, pa.binary()))

    return render


def _pylist(arr: pa.Array) -> list[Any]:
    if isinstance(arr.type, pa.ExtensionType):
        arr = arr.storage
    if pa.types.is_interval(arr.type):
        return [None if v is None else (v.months, v.days, v.nanoseconds) for v in arr.to_pylist()]
    values: list[Any] = arr.to_pylist()
    return values


# ---------------------------------------------------------------------------------------------- renderers


def _decimal_ints(arr: pa.Array) -> npt.NDArray[np.int64] | None:
    """Unscaled decimal128 values as int64, or None when one does not fit."""
    if not isinstance(arr.type, pa.Decimal128Type):
        return None
    buf = arr.buffers()[1]
    words = np.frombuffer(buf, np.int64, count=2 * (arr.offset + len(arr)))[2 * arr.offset :].reshape(-1, 2)
    low, high = words[:, 0], words[:, 1]
    null = _nulls(arr)
    ok = high == (low >> 63)
    if null is not None:
        ok |= null
        low = np.where(null, 0, low)
    return low if bool(ok.all()) else None


def _aligned(field: vf.Field) -> tuple[npt.NDArray[np.uint8], None, npt.NDArray[np.int64] | None]:
    assert field.lo is not None
    f = vf.left_align(field.mat, field.lo, field.hi)
    return f.mat, None, f.hi


def _patch_rows(field: vf.Field, rows: npt.NDArray[np.intp], texts: list[bytes]) -> vf.Field:
    """Replace the values of a few rows (left-aligned fields) by per-value output."""
    if not len(rows):
        return field
    if field.lo is not None:
        field = vf.Field(*_aligned(field), field.null)
    need = max(map(len, texts))
    mat = field.mat
    n, w = mat.shape
    if need > w:
        wider = np.zeros((n, need), np.uint8)
        wider[:, :w] = mat
        mat = wider
    else:
        mat = mat.copy()
    hi = np.full(n, w, np.int64) if field.hi is None else field.hi.copy()
    for r, text in zip(rows, texts, strict=True):
        mat[r, : len(text)] = np.frombuffer(text, np.uint8)
        hi[r] = len(text)
    return vf.Field(mat, None, hi, field.null)


def _float_text(single: bool, numeric: bool = False) -> Renderer:
    """float4/float8 text; `numeric`: doubles announced as numeric, which never print an exponent or -0."""
    def fmt(x: float) -> bytes:
        return (pv.format_float_numeric(x) if numeric else pv.format_float(x, single=single)).encode()

    def render(arr: pa.Array) -> vf.Field:
        arr = arr.cast(pa.float32() if single else pa.float64())
        vals = _values(arr, np.float32 if single else np.float64)
        null = _nulls(arr)
        if not single:
            field, covered = vf.float8_short(vals if null is None else np.where(null, 0.0, vals))
            rows = np.flatnonzero(~covered)
            if len(rows) <= max(64, len(vals) // 50):
                field.null = null
                return _patch_rows(field, rows, [fmt(float(vals[r])) for r in rows])
        strs = pc.cast(arr, pa.string())
        field = _strings(strs)
        with np.errstate(invalid="ignore"):
            a = np.abs(vals)
            fix = ~np.isfinite(vals) | ((a < 1e-4) & (a != 0)) | (a >= (1e6 if single else 1e15))
        if numeric:
            fix |= (vals == 0) & np.signbit(vals)
        fix |= np.asarray(pc.fill_null(pc.match_substring(strs, "e"), False).to_numpy(zero_copy_only=False))
        if field.null is not None:
            fix &= ~field.null
        rows = np.flatnonzero(fix)
        return _patch_rows(field, rows, [fmt(float(vals[r])) for r in rows])

    return render


def _bool_text(arr: pa.Array) -> vf.Field:
    v = np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    return vf.Field(np.where(v, 116, 102).astype(np.uint8).reshape(-1, 1), null=_nulls(arr))


def _bool_binary(arr: pa.Array) -> vf.Field:
    v = np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.uint8)
    return vf.Field(v.reshape(-1, 1), null=_nulls(arr))


def _int_text(arr: pa.Array) -> vf.Field:
    return _with_nulls(vf.int_text(_int64(arr)), arr)


def _int_binary(dtype: str) -> Renderer:
    def render(arr: pa.Array) -> vf.Field:
        if pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
            arr = arr.cast(pa.int64())
        return _with_nulls(vf.fixed_be(_int64(arr), dtype), arr)

    return render


def _uint64_text(arr: pa.Array) -> vf.Field:
    u = _values(arr, np.uint64)
    nd = vf.ndigits(u)
    groups = (int(nd.max()) + 3) // 4 if len(u) else 1
    return vf.Field(vf.digits_right(u, groups), 4 * groups - nd, None, _nulls(arr))


def _float_binary(dtype: str) -> Renderer:
    def render(arr: pa.Array) -> vf.Field:
        np_type = np.float32 if dtype == ">f4" else np.float64
        arr = arr.cast(pa.float32() if np_type is np.float32 else pa.float64())
        return _with_nulls(vf.fixed_be(_values(arr, np_type), dtype), arr)

    return render


def _date_days(arr: pa.Array) -> npt.NDArray[np.int64]:
    if arr.type == pa.date32():
        return _values(arr, np.int32).astype(np.int64)
    return _int64(arr.cast(pa.date32()).cast(pa.int32()))


def _date_text(arr: pa.Array) -> vf.Field:
    days = _date_days(arr)
    null = _nulls(arr)
    if null is not None:
        days = np.where(null, 0, days)
    if not vf.date_in_range(days):
        return _per_value(lambda v: pv.text_value(v, t.DATE).encode())(arr)
    return vf.Field(vf.date_text(days).mat, null=null)


def _micros(arr: pa.Array) -> npt.NDArray[np.int64]:
    """Microseconds since the Unix epoch (timestamps) or since midnight (times)."""
    typ = arr.type
    if pa.types.is_timestamp(typ):
        target = pa.timestamp("us", tz=typ.tz)
        if typ.unit != "us":
            arr = arr.cast(target, safe=False)
        return _values(arr, np.int64)
    if pa.types.is_time(typ):
        if typ != pa.time64("us"):
            arr = arr.cast(pa.time64("us"), safe=False)
        return _values(arr, np.int64)
    if pa.types.is_date(typ):
        return _date_days(arr) * vf.US_PER_DAY
    raise TypeError(typ)


def _zero_nulls(v: npt.NDArray[np.int64], null: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.int64]:
    return v if null is None else np.where(null, 0, v)


_ARROW_TZ_HORIZON_US = 2145916800 * 1_000_000  # 2038-01-01
_TS_MIN_US = -62135596800 * 1_000_000  # 0001-01-01
_TS_MAX_US = 253402300799 * 1_000_000  # 9999-12-31 23:59:59


def _timestamp_text(arr: pa.Array) -> vf.Field:
    null = _nulls(arr)
    us = _zero_nulls(_micros(arr), null)
    if len(us) and (us.min() < _TS_MIN_US or us.max() > _TS_MAX_US):
        return _per_value(lambda v: pv.format_timestamp(v).encode())(arr)
    field = vf.timestamp_text(us)
    field.null = null
    return field


def _zone_offset(zone: dt.tzinfo, us: int) -> int:
    when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)
    try:
        off = when.astimezone(zone).utcoffset()
    except OverflowError:
        off = zone.utcoffset(when.replace(tzinfo=None, year=9999 if when.year > 9000 else 2))
    return int(off.total_seconds()) if off is not None else 0


def _timestamptz_text(zone_name: str) -> Renderer:
    zone = pv.session_zone(zone_name)

    def render(arr: pa.Array) -> vf.Field:
        null = _nulls(arr)
        if not pa.types.is_timestamp(arr.type):
            arr = arr.cast(pa.timestamp("us", tz="UTC"))
        us = _zero_nulls(_micros(arr), null)
        if len(us) and (us.min() < _TS_MIN_US + vf.US_PER_DAY or us.max() > _TS_MAX_US - vf.US_PER_DAY):
            return _per_value(lambda v: pv.format_timestamptz(v, zone).encode())(arr)
        if zone is dt.UTC:
            offsets = np.zeros(len(us), np.int64)
        else:
            try:
                tzarr = pa.Array.from_buffers(pa.timestamp("us", tz=zone_name), len(us),
                                              [None, pa.py_buffer(us)])
                local = _values(pc.local_timestamp(tzarr), np.int64)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return _per_value(lambda v: pv.format_timestamptz(v, zone).encode())(arr)
            offsets = (local - us) // 1_000_000
            # Arrow's time zone rules stop at 2037 (the TZif transition table); zoneinfo and PostgreSQL
            # continue with the zone's POSIX rule, so later instants take their offset from zoneinfo.
            late = np.flatnonzero(us >= _ARROW_TZ_HORIZON_US)
            if len(late):
                distinct, where = np.unique(us[late], return_inverse=True)
                fixed = np.array([_zone_offset(zone, int(v)) for v in distinct], np.int64)
                offsets[late] = fixed[where]
            us = us + offsets * 1_000_000
        field = vf.timestamp_text(us, offsets)
        field.null = null
        return field

    return render


def _time_text(arr: pa.Array) -> vf.Field:
    null = _nulls(arr)
    field = vf.time_text(_zero_nulls(_micros(arr), null))
    field.null = null
    return field


def _numeric_text(scale_hint: int | None) -> Renderer:
    def render(arr: pa.Array) -> vf.Field:
        typ = arr.type
        if pa.types.is_integer(typ):
            return _uint64_text(arr) if typ == pa.uint64() else _int_text(arr)
        if pa.types.is_floating(typ):
            return _float_text(False, numeric=True)(arr)
        ints = _decimal_ints(arr)
        if ints is not None and typ.scale <= 18:
            return _with_nulls(vf.scaled_text(ints, typ.scale), arr)
        scale = typ.scale if pa.types.is_decimal(typ) else scale_hint
        return _per_value(lambda v: pv.format_numeric(v, scale).encode())(arr)

    return render


def _numeric_binary(scale_hint: int | None) -> Renderer:
    def render(arr: pa.Array) -> vf.Field:
        typ = arr.type
        if pa.types.is_integer(typ) and typ != pa.uint64():
            field = vf.numeric_binary(_zero_nulls(_int64(arr), _nulls(arr)), 0)
            if field is not None:
                return _with_nulls(field, arr)
        ints = _decimal_ints(arr)
        if ints is not None:
            field = vf.numeric_binary(ints, typ.scale)
            if field is not None:
                return _with_nulls(field, arr)
        scale = typ.scale if pa.types.is_decimal(typ) else scale_hint
        return _per_value(lambda v: pv.numeric_binary(v, scale))(arr)

    return render


def _date_binary(arr: pa.Array) -> vf.Field:
    return _with_nulls(vf.fixed_be(_date_days(arr) - pv.UNIX_TO_PG_DAYS, ">i4"), arr)


def _timestamp_binary(arr: pa.Array) -> vf.Field:
    return _with_nulls(vf.fixed_be(_micros(arr) - pv.UNIX_TO_PG_US, ">i8"), arr)


def _time_binary(arr: pa.Array) -> vf.Field:
    return _with_nulls(vf.fixed_be(_micros(arr), ">i8"), arr)


def _interval_binary(arr: pa.Array) -> vf.Field:
    n = len(arr)
    out = np.zeros(n, dtype=[("us", ">i8"), ("days", ">i4"), ("months", ">i4")])
    if pa.types.is_interval(arr.type):
        raw = np.frombuffer(arr.buffers()[1], dtype=[("m", "<i4"), ("d", "<i4"), ("ns", "<i8")],
                            count=arr.offset + n)[arr.offset :]
        out["us"] = raw["ns"] // 1000
        out["days"] = raw["d"]
        out["months"] = raw["m"]
    elif pa.types.is_duration(arr.type):
        out["us"] = _values(arr.cast(pa.duration("us")), np.int64)
    else:
        return _per_value(lambda v: pv.binary_value(v, t.INTERVAL))(arr)
    return vf.Field(out.view(np.uint8).reshape(n, 16), null=_nulls(arr))


def _uuid_text(arr: pa.Array) -> vf.Field:
    if pa.types.is_fixed_size_binary(arr.type) and arr.type.byte_width == 16:
        raw = np.frombuffer(arr.buffers()[1], np.uint8, count=16 * (arr.offset + len(arr)))[16 * arr.offset :]
        return _with_nulls(vf.uuid_text(raw.reshape(-1, 16)), arr)
    return _strings(arr)


def _uuid_binary(arr: pa.Array) -> vf.Field:
    if pa.types.is_fixed_size_binary(arr.type) and arr.type.byte_width == 16:
        raw = np.frombuffer(arr.buffers()[1], np.uint8, count=16 * (arr.offset + len(arr)))[16 * arr.offset :]
        return vf.Field(raw.reshape(-1, 16), null=_nulls(arr))
    if pa.types.is_string(arr.type):
        padded = _strings(arr.fill_null("00000000-0000-0000-0000-000000000000"))
        if padded.hi is None or bool((padded.hi == padded.mat.shape[1]).all()):
            parsed = vf.uuid_parse(padded.mat)
            if parsed is not None:
                return vf.Field(parsed, null=_nulls(arr))
    return _per_value(lambda v: pv.binary_value(v, t.UUID))(arr)


def _bytea_text(arr: pa.Array) -> vf.Field:
    if not pa.types.is_binary(arr.type) and not pa.types.is_fixed_size_binary(arr.type):
        return _strings(arr)
    if pa.types.is_fixed_size_binary(arr.type):
        arr = arr.cast(pa.binary())
    offsets = _values_offsets(arr)
    data = arr.buffers()[2]
    raw = np.frombuffer(data, np.uint8)[offsets[0] : offsets[-1]] if data is not None else np.zeros(0, np.uint8)
    hexed = vf.HEX2[raw].view(np.uint8)
    field = vf.var_matrix((offsets - offsets[0]) * 2, hexed, b"\\x")
    field.null = _nulls(arr)
    return field


def _oid_binary(arr: pa.Array) -> vf.Field:
    if pa.types.is_integer(arr.type):
        return _with_nulls(vf.fixed_be(_int64(arr), ">u4"), arr)
    return _per_value(lambda v: struct.pack("!I", int(v)))(arr)


def _text_binary_to(oid: int, scale: int | None) -> Renderer:
    """Binary output of a column the warehouse returned as strings (constants, catalog answers): run
    PostgreSQL's input rules on the text, then send the binary form."""
    def convert(v: Any) -> bytes:
        return pv.binary_value(decode_text(str(v), oid), oid, scale)

    return _per_value(convert)


def _numeric_scale(col: PgColumnType) -> int | None:
    if col.oid == t.NUMERIC and col.typmod >= 4:
        return (col.typmod - 4) & 0xFFFF
    return None


def _renderer(col: PgColumnType, fmt: int, arrow_type: pa.DataType, zone_name: str) -> Renderer:
    """Choose how one column is rendered, from its declared type, result format and Arrow type."""
    oid = col.oid
    zone = pv.session_zone(zone_name)
    scale = _numeric_scale(col)
    is_str = pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) \
        or pa.types.is_string_view(arrow_type)
    pgt = t.TYPES_BY_OID.get(oid)
    if pa.types.is_null(arrow_type):
        return lambda arr: vf.Field(np.zeros((len(arr), 0), np.uint8), null=np.ones(len(arr), bool))
    if pgt is not None and pgt.element_oid:
        return _per_value(pv.value_encoder(oid, fmt, zone, scale))
    if fmt == 0:
        if is_str:
            return _strings
        if oid == t.BOOL and pa.types.is_boolean(arrow_type):
            return _bool_text
        if oid in (t.INT2, t.INT4, t.INT8, *_OIDLIKE) and pa.types.is_integer(arrow_type):
            return _uint64_text if arrow_type == pa.uint64() else _int_text
        if oid in (t.FLOAT4, t.FLOAT8) and (pa.types.is_floating(arrow_type) or pa.types.is_integer(arrow_type)):
            return _float_text(oid == t.FLOAT4)
        if oid == t.NUMERIC and (pa.types.is_decimal(arrow_type) or pa.types.is_integer(arrow_type)
                                 or pa.types.is_floating(arrow_type)):
            return _numeric_text(scale)
        if oid == t.DATE and pa.types.is_date(arrow_type):
            return _date_text
        if oid == t.TIMESTAMP and pa.types.is_timestamp(arrow_type):
            return _timestamp_text
        if oid == t.TIMESTAMPTZ and pa.types.is_timestamp(arrow_type):
            return _timestamptz_text(zone_name)
        if oid == t.TIME and pa.types.is_time(arrow_type):
            return _time_text
        if oid == t.UUID:
            return _uuid_text
        if oid == t.BYTEA:
            return _bytea_text
        if pa.types.is_integer(arrow_type) and oid not in (t.BOOL,):
            return _uint64_text if arrow_type == pa.uint64() else _int_text
        return _per_value(pv.value_encoder(oid, 0, zone, scale))
    # binary
    if oid == t.BYTEA and not is_str:
        return _strings
    if oid in _TEXTLIKE:
        if is_str or pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
            return _strings
        return _per_value(pv.value_encoder(oid, 1, zone, scale))
    if oid == t.JSONB and is_str:
        return lambda arr: _strings(arr, b"\x01")
    if is_str and oid not in (t.UUID, t.INTERVAL):
        return _text_binary_to(oid, scale)
    if oid == t.BOOL and pa.types.is_boolean(arrow_type):
        return _bool_binary
    if oid in _INT_WIDTH and (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
                              or pa.types.is_decimal(arrow_type)):
        return _int_binary(_INT_WIDTH[oid])
    if oid in _OIDLIKE and pa.types.is_integer(arrow_type):
        return _oid_binary
    if oid in (t.FLOAT4, t.FLOAT8) and (pa.types.is_floating(arrow_type) or pa.types.is_integer(arrow_type)
                                        or pa.types.is_decimal(arrow_type)):
        return _float_binary(">f4" if oid == t.FLOAT4 else ">f8")
    if oid == t.NUMERIC:
        return _numeric_binary(scale)
    if oid == t.DATE and pa.types.is_date(arrow_type):
        return _date_binary
    if oid in (t.TIMESTAMP, t.TIMESTAMPTZ) and pa.types.is_timestamp(arrow_type):
        return _timestamp_binary
    if oid == t.TIME and pa.types.is_time(arrow_type):
        return _time_binary
    if oid == t.INTERVAL:
        return _interval_binary
    if oid == t.UUID:
        return _uuid_binary
    return _per_value(pv.value_encoder(oid, 1, zone, scale))


# ---------------------------------------------------------------------------------------------- assembly

_HEADER = np.dtype([("t", "u1"), ("len", ">i4"), ("n", ">u2")])  # 'D', message length, column count
_ZERO = np.zeros(0, np.int64)
_KEEP_DROP_BITS = np.full(1 << 16, 0x55, np.uint8)  # element i is kept iff i is even


def _copy_cols(dst: npt.NDArray[np.uint8], col: int, src: npt.NDArray[np.uint8]) -> None:
    """dst[:, col:col+w] = src, as one w-byte item per row (numpy copies narrow 2-D slices slowly)."""
    w = src.shape[1]
    if w == 0:
        return
    if not src.flags.c_contiguous:
        src = np.ascontiguousarray(src)
    dst[:, col : col + w].view(f"V{w}")[:, 0] = src.view(f"V{w}")[:, 0]


def _assemble(fields: list[vf.Field], n: int) -> pa.Buffer | bytes:
    """DataRow messages for n rows from rendered (left-aligned) columns: the header, then per column
    a length word (-1 for NULL) and the value bytes."""
    ncols = len(fields)
    his: list[npt.NDArray[np.int64] | None] = []
    total = np.full(n, 6 + 4 * ncols, np.int64)
    width = 7 + sum(4 + f.mat.shape[1] for f in fields)
    m = np.empty((n, width), np.uint8)
    pos = 7
    for f in fields:
        w = f.mat.shape[1]
        if f.lo is not None:
            # right-aligned values (digits): gather each row's window straight into its slot
            rows_w = np.arange(0, n * w, w, dtype=np.int64)
            if w:
                m[:, pos + 4 : pos + 4 + w].view(f"V{w}")[:, 0] = vf.window_items(f.mat)[rows_w + f.lo]
            f = vf.Field(f.mat, None, (w if f.hi is None else f.hi) - f.lo, f.null)
            copied = True
        else:
            copied = False
        hi: npt.NDArray[np.int64] | None = f.hi
        if f.null is not None:
            hi = np.where(f.null, 0, w if hi is None else hi)
        if hi is None:
            m[:, pos : pos + 4].view("V4")[:, 0] = np.frombuffer(struct.pack("!i", w), "V4")[0]
            total += w
        else:
            word = hi if f.null is None else np.where(f.null, -1, hi)
            _copy_cols(m, pos, word.astype(">i4").view(np.uint8).reshape(n, 4))
            total += hi
        if not copied:
            _copy_cols(m, pos + 4, f.mat)
        his.append(hi)
        pos += 4 + w
    head = np.empty(n, _HEADER)
    head["t"] = 68
    head["len"] = total
    head["n"] = ncols
    m[:, 0:7].view("V7")[:, 0] = head.view("V7")
    # Elements alternate: kept bytes, then dropped padding after each value whose end varies.
    rel: list[tuple[npt.NDArray[np.int64], int]] = []
    pos = 7
    for f, hi in zip(fields, his, strict=True):
        w = f.mat.shape[1]
        if hi is not None:
            rel.append((hi, pos + 4))
            rel.append((_ZERO, pos + 4 + w))
        pos += 4 + w
    if not rel:
        return m.tobytes()
    per_row = len(rel)
    index_type: type[np.signedinteger[Any]] = np.int32 if n * width < 2**31 else np.int64
    rowstart: npt.NDArray[np.signedinteger[Any]] = np.arange(0, n * width, width, dtype=index_type)
    cols = np.empty((per_row, n), index_type)
    for j, (arr, const) in enumerate(rel):
        np.add(rowstart, const, out=cols[j])
        if arr is not _ZERO:
            cols[j] += arr.astype(index_type)
    offsets = np.empty(n * per_row + 2, index_type)
    offsets[1:-1].reshape(n, per_row)[:] = cols.T
    offsets[0] = 0
    offsets[-1] = n * width
    nelem = n * per_row + 1
    btype = pa.binary() if index_type is np.int32 else pa.large_binary()
    elems = pa.Array.from_buffers(btype, nelem, [None, pa.py_buffer(offsets), pa.py_buffer(m)])
    nbytes = (nelem + 7) // 8
    bits = _KEEP_DROP_BITS[:nbytes] if nbytes <= len(_KEEP_DROP_BITS) else np.full(nbytes, 0x55, np.uint8)
    keep = pa.Array.from_buffers(pa.bool_(), nelem, [None, pa.py_buffer(bits)])
    out: pa.Buffer = pc.filter(elems, keep).buffers()[2]
    size = int(total.sum()) + n
    return out if out.size == size else out.slice(0, size)


def _small_encoder(col: PgColumnType, fmt: int, arrow_type: pa.DataType, zone_name: str) -> Callable[[Any], bytes]:
    """Per-value encoder with the same output as the vectorized renderer of this column (small batches)."""
    oid = col.oid
    zone = pv.session_zone(zone_name)
    is_str = pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) \
        or pa.types.is_string_view(arrow_type)
    pgt = t.TYPES_BY_OID.get(oid)
    is_array = pgt is not None and bool(pgt.element_oid)
    if is_str and not is_array and oid not in _TEXTLIKE:
        if fmt == 0:
            return lambda v: str(v).encode("utf-8")
        if oid == t.JSONB:
            return lambda v: b"\x01" + str(v).encode("utf-8")
        if oid not in (t.UUID, t.INTERVAL):
            scale = _numeric_scale(col)
            return lambda v: pv.binary_value(decode_text(str(v), oid), oid, scale)
    if oid == t.NUMERIC and pa.types.is_floating(arrow_type):
        if fmt == 0:
            return lambda v: pv.format_float_numeric(float(v)).encode()
        return pv.value_encoder(oid, fmt, zone, _numeric_scale(col))
    return pv.value_encoder(oid, fmt, zone, None)


def _small_column(col: PgColumnType, fmt: int, arrow_type: pa.DataType,
                  zone_name: str) -> Callable[[pa.Array], list[bytes | None]]:
    """How the small-batch path encodes one column: each value through its per-value encoder, except a
    decimal column (sums and averages, in nearly every semantic result), which is encoded from its unscaled
    integers: Python Decimal objects cost more than the rest of a small result together."""
    scale = _numeric_scale(col)
    if (col.oid == t.NUMERIC and isinstance(arrow_type, pa.Decimal128Type)
            and scale in (None, arrow_type.scale)):
        fast = _small_decimal_column(fmt, arrow_type.scale)
        slow = _small_column_per_value(col, fmt, arrow_type, zone_name)

        def decimals(arr: pa.Array) -> list[bytes | None]:
            ints = _decimal_ints(arr)
            return slow(arr) if ints is None else fast(ints, _nulls(arr))

        return decimals
    return _small_column_per_value(col, fmt, arrow_type, zone_name)


def _small_decimal_column(fmt: int, scale: int) -> Callable[[npt.NDArray[np.int64], npt.NDArray[np.bool_] | None],
                                                            list[bytes | None]]:
    """numeric output of unscaled int64 values: numeric_send in binary, PostgreSQL's numeric_out in text
    (exactly `scale` digits after the point, as for a Decimal of that exponent)."""
    if fmt == 1:
        def encode(v: int) -> bytes:
            return pv.numeric_binary_scaled(v, scale)
    elif scale == 0:
        def encode(v: int) -> bytes:
            return str(v).encode()
    else:
        unit = 10 ** scale

        def encode(v: int) -> bytes:
            q, r = divmod(-v if v < 0 else v, unit)
            return f"{'-' if v < 0 else ''}{q}.{r:0{scale}d}".encode()

    def column(ints: npt.NDArray[np.int64], null: npt.NDArray[np.bool_] | None) -> list[bytes | None]:
        values = ints.tolist()
        if null is None:
            return [encode(v) for v in values]
        return [None if n else encode(v) for v, n in zip(values, null.tolist(), strict=True)]

    return column


def _small_column_per_value(col: PgColumnType, fmt: int, arrow_type: pa.DataType,
                            zone_name: str) -> Callable[[pa.Array], list[bytes | None]]:
    norm = _small_values_type(arrow_type)
    enc = _small_encoder(col, fmt, norm, zone_name)
    plain = norm == arrow_type

    def column(arr: pa.Array) -> list[bytes | None]:
        values = arr.to_pylist() if plain else _small_values(arr)
        return [None if v is None else enc(v) for v in values]

    return column


def _small_values_type(typ: pa.DataType) -> pa.DataType:
    """The Arrow type _small_values converts a column to (equal to typ when to_pylist() suffices)."""
    if isinstance(typ, pa.ExtensionType):
        return _small_values_type(typ.storage_type)
    if pa.types.is_dictionary(typ):
        return _small_values_type(typ.value_type)
    if pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        return pa.string()
    if pa.types.is_large_binary(typ) or pa.types.is_binary_view(typ):
        return pa.binary()
    if pa.types.is_timestamp(typ) and typ.unit != "us":
        return pa.timestamp("us", tz=typ.tz)
    if pa.types.is_time(typ) and typ != pa.time64("us"):
        return pa.time64("us")
    if pa.types.is_interval(typ):
        return pa.null()  # never equal: MonthDayNano values go through _pylist
    return typ


def _small_values(arr: pa.Array) -> list[Any]:
    arr = _normalize(arr)
    typ = arr.type
    if pa.types.is_timestamp(typ) and typ.unit != "us":
        arr = arr.cast(pa.timestamp("us", tz=typ.tz), safe=False)
    elif pa.types.is_time(typ) and typ != pa.time64("us"):
        arr = arr.cast(pa.time64("us"), safe=False)
    return _pylist(arr)


# ---------------------------------------------------------------------------------------------- compiled path

USE_KERNEL = True  # tests switch it off to compare with the numpy assembler


class KernelLoader:
    """A numba module (rowkern.py, copykern.py) is imported and its functions compiled (or loaded from numba's
    cache) in a background thread the first time a large batch asks for them: importing numba takes a fraction of
    a second and a cold compile several seconds, which neither a process that never streams a large result nor the
    first large result should wait for. Until it is ready the caller uses its numpy or Python path."""

    def __init__(self, module: str, warm: Callable[[ModuleType], None]) -> None:
        self._name = module
        self._warm = warm
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._module: ModuleType | None = None
        self._started = False

    def get(self, *, wait: bool = False, load: bool = True) -> ModuleType | None:
        if self._done.is_set() or not (load or wait):
            return self._module
        with self._lock:
            if not self._started:
                self._started = True
                threading.Thread(target=self._load, name=f"{self._name}-compile", daemon=True).start()
        if wait:
            self._done.wait()
        return self._module

    def _load(self) -> None:
        try:
            module = importlib.import_module(self._name)
            self._warm(module)
            self._module = module
        except (ImportError, RuntimeError, OSError):  # no numba, or no usable cache directory
            self._module = None
        finally:
            self._done.set()


def _warm(kern: ModuleType) -> None:
    """Compile (or load) the writer for the argument types encode_view passes."""
    one = np.zeros((1, 1), np.int64)
    kern.encode_rows(np.zeros(1, np.int64), np.zeros(1, np.int64), one, one.copy(), np.zeros((1, 1), np.uint8),
                     np.zeros(8, np.uint8), _day_bytes(), np.zeros(64, np.uint8), 0, np.zeros(1, np.int64), 0, 1)
    kern.float_scales(np.zeros(1), np.zeros(1, np.uint8), 8, np.zeros(1, np.int64), np.zeros(1, np.int64))


_LOADER = KernelLoader("gateway.protocol.rowkern", _warm)


def _kernel(*, wait: bool = False, load: bool = True) -> ModuleType | None:
    """The compiled writer when it is ready (see KernelLoader); None: use the numpy assembler. With
    load=False an absent writer is not asked for."""
    return _LOADER.get(wait=wait, load=load)


@functools.cache
def _day_bytes() -> npt.NDArray[np.uint8]:
    """vecfmt's 'YYYY-MM-DD' table (1900..2099) as flat bytes, as rowkern.encode_rows reads it."""
    return vf._day_table().view(np.uint8).reshape(-1)


@dataclass(frozen=True, slots=True)
class _Plan:
    """One column of a chunk as the compiled writer takes it (see rowkern.py for kinds)."""

    kind: int
    param: int = 0
    values: npt.NDArray[Any] | None = None  # per-row value (INT/DEC/DATE/TS/BOOL/BE) or byte offset (BYTES)
    lens: npt.NDArray[np.int64] | None = None  # BYTES: per-row length
    data: npt.NDArray[np.uint8] | None = None  # BYTES: the bytes the offsets point into
    null: npt.NDArray[np.bool_] | None = None
    width: int = 0  # widest value in bytes, for the output bound (BYTES: unused, lens are summed)


Planner = Callable[[pa.Array], "_Plan | None"]  # None: render this chunk of the column with numpy


def _plan_field(f: vf.Field) -> _Plan:
    """A numpy-rendered column as BYTES windows into its (contiguous) matrix."""
    n, w = f.mat.shape
    mat = f.mat if f.mat.flags.c_contiguous else np.ascontiguousarray(f.mat)
    starts = np.arange(n, dtype=np.int64) * w  # w may be 0: every value empty or NULL
    if f.lo is not None:
        starts += f.lo
    hi = np.full(n, w, np.int64) if f.hi is None else f.hi.astype(np.int64, copy=False)
    lens = hi if f.lo is None else hi - f.lo
    return _Plan(0, values=starts, lens=lens, data=mat.reshape(-1), null=f.null)


def _plan_strings(arr: pa.Array) -> _Plan | None:
    arr = _normalize(arr)
    if not (pa.types.is_string(arr.type) or pa.types.is_binary(arr.type)):
        return None
    offsets = _values_offsets(arr)
    data = arr.buffers()[2]
    first, last = int(offsets[0]), int(offsets[-1])
    raw = np.frombuffer(data, np.uint8)[first:last] if data is not None and last > first else np.zeros(0, np.uint8)
    return _Plan(0, values=offsets[:-1] - first, lens=np.diff(offsets), data=raw, null=_nulls(arr))


def _plan_int_text(arr: pa.Array) -> _Plan | None:
    if not pa.types.is_integer(arr.type) or arr.type == pa.uint64():
        return None
    return _Plan(1, values=_values(arr, arr.type.to_pandas_dtype()), null=_nulls(arr), width=20)


def _plan_numeric_text(arr: pa.Array) -> _Plan | None:
    if pa.types.is_integer(arr.type):
        return _plan_int_text(arr)
    ints = _decimal_ints(arr)
    if ints is None or not 0 <= arr.type.scale <= 18:
        return None
    if arr.type.scale == 0:
        return _Plan(1, values=ints, null=_nulls(arr), width=20)
    if len(ints) and int(ints.min()) == -(2**63):
        return None
    return _Plan(2, arr.type.scale, ints, null=_nulls(arr), width=21 + arr.type.scale)


def _plan_date_text(arr: pa.Array) -> _Plan | None:
    if arr.type != pa.date32():
        return None
    days = _values(arr, np.int32)
    null = _nulls(arr)
    if not vf.date_in_range(_zero_nulls(days.astype(np.int64), null)):
        return None
    return _Plan(3, values=days, null=null, width=10)


def _plan_timestamp_text(arr: pa.Array) -> _Plan | None:
    if not pa.types.is_timestamp(arr.type):
        return None
    null = _nulls(arr)
    us = _zero_nulls(_micros(arr), null)
    if len(us) and (us.min() < _TS_MIN_US or us.max() > _TS_MAX_US):
        return None
    return _Plan(4, values=us, null=null, width=26)


def _plan_float8_text(arr: pa.Array) -> _Plan | None:
    """Doubles the compiled writer prints itself (shortest round trip in fixed notation), the few others
    (exponent form, infinities, -0, long fractions) rendered here per value; mostly such values: numpy/pyarrow."""
    return _plan_float_text(arr, pv.format_float)


def _plan_float_numeric_text(arr: pa.Array) -> _Plan | None:
    """Doubles announced as numeric: the same, but the values float8out would print with an exponent are
    printed in fixed notation, as numeric_out prints every value."""
    return _plan_float_text(arr, pv.format_float_numeric)


def _plan_float_text(arr: pa.Array, render: Callable[[float], str]) -> _Plan | None:
    kern = _kernel()
    if kern is None or not pa.types.is_floating(arr.type):
        return None
    if arr.type != pa.float64():
        arr = arr.cast(pa.float64())
    n = len(arr)
    x = _values(arr, np.float64)
    null = _nulls(arr)
    ys = np.empty(n, np.int64)
    ks = np.empty(n, np.int64)
    misses = kern.float_scales(x, np.zeros(n, np.uint8) if null is None else null.view(np.uint8), 8, ys, ks)
    if misses > max(64, n // 50):
        return None
    stream = np.zeros(0, np.uint8)
    if misses:
        texts = [render(float(x[r])).encode() for r in np.flatnonzero(ks < 0)]
        if any(len(b) > 255 for b in texts):  # (a one-byte length each: 1e-300 in fixed notation is not)
            return None
        stream = np.frombuffer(b"".join(bytes([len(b)]) + b for b in texts), np.uint8)
    return _Plan(7, values=ys, lens=ks, data=stream, null=null, width=24)


def _plan_bool(kind: int) -> Planner:
    def plan(arr: pa.Array) -> _Plan | None:
        if not pa.types.is_boolean(arr.type):
            return None
        v = np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.int64)
        return _Plan(kind, 1, v, null=_nulls(arr), width=1)

    return plan


def _plan_be(width: int, shift: int = 0) -> Planner:
    """Binary fixed-width integers (and dates/timestamps shifted to PostgreSQL's epoch)."""
    def plan(arr: pa.Array) -> _Plan | None:
        typ = arr.type
        if pa.types.is_integer(typ) and typ != pa.uint64():
            v: npt.NDArray[Any] = _values(arr, typ.to_pandas_dtype())
        elif pa.types.is_date(typ):
            v = _date_days(arr)
        elif pa.types.is_timestamp(typ) or pa.types.is_time(typ):
            v = _micros(arr)
        else:
            return None
        if shift:
            v = v.astype(np.int64) - shift
        return _Plan(6, width, v, null=_nulls(arr), width=width)

    return plan


def _plan_numeric_binary(arr: pa.Array) -> _Plan | None:
    typ = arr.type
    if pa.types.is_integer(typ) and typ != pa.uint64():
        ints: npt.NDArray[Any] | None = _values(arr, typ.to_pandas_dtype())
        scale = 0
    else:
        ints = _decimal_ints(arr)
        scale = typ.scale if pa.types.is_decimal(typ) else -1
    if ints is None or not 0 <= scale <= 16:
        return None
    null = _nulls(arr)
    if len(ints) and int(_zero_nulls(ints.astype(np.int64, copy=False), null).min()) == -(2**63):
        return None
    return _Plan(8, scale, ints, null=null, width=8 + 2 * 10)


def _plan_float_binary(width: int) -> Planner:
    def plan(arr: pa.Array) -> _Plan | None:
        if not pa.types.is_floating(arr.type):
            return None
        arr = arr.cast(pa.float32() if width == 4 else pa.float64())
        bits = _values(arr, np.int32 if width == 4 else np.int64)
        return _Plan(6, width, bits, null=_nulls(arr), width=width)

    return plan


def _planner(col: PgColumnType, fmt: int, arrow_type: pa.DataType) -> Planner | None:
    """How the compiled writer takes a column directly (None: through its numpy renderer)."""
    oid = col.oid
    pgt = t.TYPES_BY_OID.get(oid)
    if pa.types.is_null(arrow_type) or (pgt is not None and pgt.element_oid):
        return None
    is_str = pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) \
        or pa.types.is_string_view(arrow_type)
    if fmt == 0:
        if is_str:
            return _plan_strings
        if oid == t.BOOL:
            return _plan_bool(5)
        if oid in (t.INT2, t.INT4, t.INT8, *_OIDLIKE):
            return _plan_int_text
        if oid == t.NUMERIC and (pa.types.is_decimal(arrow_type) or pa.types.is_integer(arrow_type)):
            return _plan_numeric_text
        if oid == t.FLOAT8 and pa.types.is_floating(arrow_type):
            return _plan_float8_text
        if oid == t.NUMERIC and pa.types.is_floating(arrow_type):
            return _plan_float_numeric_text
        if oid == t.DATE:
            return _plan_date_text
        if oid == t.TIMESTAMP:
            return _plan_timestamp_text
        return None
    if oid in _TEXTLIKE and (is_str or pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type)):
        return _plan_strings
    if oid == t.BYTEA and pa.types.is_binary(arrow_type):
        return _plan_strings
    if oid == t.BOOL:
        return _plan_bool(6)
    if oid in _INT_WIDTH and pa.types.is_integer(arrow_type):
        return _plan_be(int(_INT_WIDTH[oid][-1]))
    if oid in (t.FLOAT4, t.FLOAT8):
        return _plan_float_binary(4 if oid == t.FLOAT4 else 8)
    if oid == t.NUMERIC:
        return _plan_numeric_binary
    if oid == t.DATE and pa.types.is_date(arrow_type):
        return _plan_be(4, pv.UNIX_TO_PG_DAYS)
    if oid in (t.TIMESTAMP, t.TIMESTAMPTZ) and pa.types.is_timestamp(arrow_type):
        return _plan_be(8, pv.UNIX_TO_PG_US)
    if oid == t.TIME and pa.types.is_time(arrow_type):
        return _plan_be(8)
    return None


_KernelArgs = tuple[npt.NDArray[Any], ...]


def _kernel_args(plans: list[_Plan], n: int) -> tuple[_KernelArgs, int]:
    """rowkern.encode_rows' inputs for one chunk of planned columns, and the most bytes it can write."""
    ncols = len(plans)
    kinds = np.array([p.kind for p in plans], np.int64)
    params = np.array([p.param for p in plans], np.int64)
    vals = np.empty((n, ncols), np.int64)
    lens = np.zeros((n, ncols), np.int64)
    nulls = np.zeros((n, ncols), np.uint8)
    datas: list[npt.NDArray[np.uint8]] = []
    base = 0
    bound = n * (7 + 4 * ncols) + 8
    for k, p in enumerate(plans):
        assert p.values is not None
        if p.kind == 0:
            assert p.lens is not None and p.data is not None
            np.add(p.values, base, out=vals[:, k])
            lens[:, k] = p.lens
            datas.append(p.data)
            base += len(p.data)
            bound += len(p.data)
        elif p.kind == 7:
            assert p.lens is not None and p.data is not None
            vals[:, k] = p.values
            lens[:, k] = p.lens
            params[k] = base
            datas.append(p.data)
            base += len(p.data)
            bound += len(p.data) + n * p.width
        else:
            vals[:, k] = p.values
            bound += n * p.width
        if p.null is not None:
            nulls[:, k] = p.null
    datas.append(np.zeros(8, np.uint8))
    buf = np.concatenate(datas) if len(datas) > 1 else datas[0]
    return (kinds, params, vals, lens, nulls, buf, _day_bytes()), bound


SMALL_BATCH_ROWS = 24  # below this, per-value Python beats the fixed cost of the vectorized kernels


class RowEncoder:
    """Encodes record batches of one result into DataRow messages (text or binary per column)."""

    def __init__(self, types: Sequence[PgColumnType], formats: Sequence[int], *, timezone: str = "UTC") -> None:
        self.types = list(types)
        self.formats = result_formats(formats, len(self.types))
        self.timezone = timezone or "UTC"
        self._renderers: dict[tuple[int, pa.DataType], Renderer] = {}
        self._planners: dict[tuple[int, pa.DataType], Planner | None] = {}
        self._small: dict[tuple[int, pa.DataType], Callable[[pa.Array], list[bytes | None]]] = {}

    def _encode_small(self, batch: pa.RecordBatch) -> bytes:
        """Few rows (catalog answers, SELECT 1): one Python call per value is cheaper than the kernels."""
        columns: list[list[bytes | None]] = []
        for i in range(batch.num_columns):
            arr = batch.column(i)
            key = (i, arr.type)
            column = self._small.get(key)
            if column is None:
                column = self._small[key] = _small_column(self.types[i], self.formats[i], arr.type, self.timezone)
            columns.append(column(arr))
        return b"".join([encode_data_row(row) for row in zip(*columns, strict=True)])

    def _render(self, i: int, arr: pa.Array) -> vf.Field:
        arr = _normalize(arr)
        key = (i, arr.type)
        r = self._renderers.get(key)
        if r is None:
            r = _renderer(self.types[i], self.formats[i], arr.type, self.timezone)
            self._renderers[key] = r
        return r(arr)

    def _plan(self, i: int, arr: pa.Array) -> _Plan:
        arr = _normalize(arr)
        key = (i, arr.type)
        if key in self._planners:
            planner = self._planners[key]
        else:
            planner = self._planners[key] = _planner(self.types[i], self.formats[i], arr.type)
        plan = planner(arr) if planner is not None else None
        return plan if plan is not None else _plan_field(self._render(i, arr))

    def encode(self, batch: pa.RecordBatch) -> bytes:
        """The concatenated DataRow messages for every row of the batch."""
        data = self.encode_view(batch)
        return data if isinstance(data, bytes) else bytes(data)

    def encode_view(self, batch: pa.RecordBatch) -> bytes | memoryview:
        """encode(), without copying the compiled writer's output buffer (socket writes take either)."""
        n = int(batch.num_rows)
        if n == 0:
            return b""
        if batch.num_columns != len(self.types):
            raise ValueError(f"batch has {batch.num_columns} columns, result has {len(self.types)}")
        if batch.num_columns == 0:
            return b"D\x00\x00\x00\x06\x00\x00" * n
        if n < SMALL_BATCH_ROWS:
            return self._encode_small(batch)
        # Loading numba costs seconds of CPU once per process: only a large result (a batch this big) asks
        # for it; catalog answers and small results stay on numpy until then.
        kern = _kernel(load=n >= KERNEL_LOAD_ROWS) if USE_KERNEL else None
        if kern is not None:
            return self._encode_compiled(kern, batch)
        parts: list[Any] = []
        step = min(CHUNK_ROWS, 16384)  # the numpy assembler's matrices: a few MB per chunk
        for start in range(0, n, step):
            chunk = batch.slice(start, min(step, n - start))
            fields = [self._render(i, chunk.column(i)) for i in range(chunk.num_columns)]
            parts.append(_assemble(fields, chunk.num_rows))
        if len(parts) == 1:
            only: bytes = parts[0] if isinstance(parts[0], bytes) else bytes(parts[0])
            return only
        return b"".join(parts)

    def encode_pieces(self, batch: pa.RecordBatch, piece_rows: int) -> Iterator[bytes | memoryview]:
        """The batch's DataRows in pieces of `piece_rows` rows, each yielded as soon as it is written.

        A caller that sends every piece at once lets the client parse the first rows while later ones are
        still being encoded, as PostgreSQL does by sending every 8 kB; that overlap is what a client
        fetching in round trips (a fetch size, a cursor) waits on. Each column is prepared once for the
        whole chunk and the compiled writer resumes where the previous piece stopped, so pieces cost no
        more than one call. Without the compiled writer the batch comes as one piece."""
        n = int(batch.num_rows)
        kern = _kernel(load=n >= KERNEL_LOAD_ROWS) if USE_KERNEL and n > piece_rows else None
        if kern is None or batch.num_columns == 0 or batch.num_columns != len(self.types):
            yield self.encode_view(batch)
            return
        for _start, rows, args, bound in self._kernel_chunks(batch):
            out = np.empty(bound, np.uint8)  # a new buffer per chunk: pieces already sent may still be queued
            cursor = args[1].copy()
            pos = 0
            for lo in range(0, rows, piece_rows):
                end = kern.encode_rows(*args, out, pos, cursor, lo, min(lo + piece_rows, rows))
                yield out[pos:end].data
                pos = end

    def _kernel_chunks(self, batch: pa.RecordBatch) -> Iterator[tuple[int, int, _KernelArgs, int]]:
        """(first row, rows, the compiled writer's inputs, most bytes it can write) chunk by chunk: a chunk's
        per-cell inputs stay a few MB whatever the batch's size."""
        n = int(batch.num_rows)
        step = min(CHUNK_ROWS, max(1024, KERNEL_CHUNK_CELLS // batch.num_columns))
        for start in range(0, n, step):
            chunk = batch.slice(start, min(step, n - start))
            args, bound = _kernel_args([self._plan(i, chunk.column(i)) for i in range(chunk.num_columns)],
                                       chunk.num_rows)
            yield start, chunk.num_rows, args, bound

    def _encode_compiled(self, kern: ModuleType, batch: pa.RecordBatch) -> memoryview:
        """Chunk by chunk into one output buffer (grown in the rare case a later chunk needs more)."""
        n = int(batch.num_rows)
        out: npt.NDArray[np.uint8] | None = None
        size = 0
        for start, rows, args, bound in self._kernel_chunks(batch):
            if out is None or size + bound > len(out):
                left = (n - start + rows - 1) // rows
                grown = np.empty(size + bound * left, np.uint8)
                if out is not None:
                    grown[:size] = out[:size]
                out = grown
            size = kern.encode_rows(*args, out, size, args[1].copy(), 0, rows)
        assert out is not None
        view: memoryview = out[:size].data
        return view
