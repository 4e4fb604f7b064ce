"""Bind parameter values (text or binary, by type OID) -> Python values a warehouse driver accepts.

PostgreSQL runs the type's input/receive function on each parameter; bad input fails the Bind with
22P02 (text) or 22P03 (binary) and never reaches the warehouse.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import struct
import uuid
from collections.abc import Callable
from typing import Any

from gateway.protocol import pgvalue as pv
from virtual_schema import pgtypes as t
from virtual_schema.errors import (
    INVALID_BINARY_REPRESENTATION,
    INVALID_PARAMETER_VALUE,
    INVALID_TEXT_REPRESENTATION,
    PgError,
)

NUMERIC_VALUE_OUT_OF_RANGE = "22003"
_INT_RANGE = {t.INT2: (-(2**15), 2**15 - 1), t.INT4: (-(2**31), 2**31 - 1), t.INT8: (-(2**63), 2**63 - 1)}
_OIDLIKE = {t.OID, t.REGCLASS, t.REGTYPE, t.REGPROC, 28, 29, 2202, 2203, 2204, 3734, 4089, 4096}
_TEXT_TYPES = {0, t.UNKNOWN, t.TEXT, t.VARCHAR, t.BPCHAR, t.NAME, t.JSON, t.JSONB, t.CHAR, 142, 1790, 2275}
_TYPE_NAMES = {t.INT2: "smallint", t.INT4: "integer", t.INT8: "bigint", t.FLOAT4: "real",
               t.FLOAT8: "double precision", t.BOOL: "boolean", t.NUMERIC: "numeric"}


def _type_name(oid: int) -> str:
    if oid in _TYPE_NAMES:
        return _TYPE_NAMES[oid]
    pgt = t.TYPES_BY_OID.get(oid)
    return pgt.name if pgt else str(oid)


def _bad_text(oid: int, text: str) -> PgError:
    return PgError(INVALID_TEXT_REPRESENTATION, f'invalid input syntax for type {_type_name(oid)}: "{text}"')


def _bad_binary(oid: int) -> PgError:
    return PgError(INVALID_BINARY_REPRESENTATION, f"incorrect binary data format in bind parameter "
                   f"(type {_type_name(oid)})")


def decode_param(value: bytes | None, type_oid: int, fmt: int) -> object:
    """The Python value of one Bind parameter; PgError 22P02 / 22P03 on bad input."""
    if value is None:
        return None
    if fmt == 0:
        try:
            text = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise PgError("22021", "invalid byte sequence for encoding \"UTF8\"") from None
        return decode_text(text, type_oid)
    if fmt == 1:
        return decode_binary(bytes(value), type_oid)
    raise PgError(INVALID_PARAMETER_VALUE, f"unsupported format code: {fmt}")


# ---------------------------------------------------------------------------------------------- text

_BOOL_WORDS = {"t": True, "f": False, "y": True, "n": False, "1": True, "0": False, "on": True, "of": False}


def _parse_bool(text: str) -> bool:
    s = text.strip().lower()
    if s in ("1", "0"):
        return s == "1"
    if s:
        for word, val in (("true", True), ("false", False), ("yes", True), ("no", False)):
            if word.startswith(s):
                return val
        if len(s) >= 2 and "on".startswith(s):
            return True
        if len(s) >= 2 and "off".startswith(s):
            return False
    raise _bad_text(t.BOOL, text)


def _parse_int(text: str, oid: int) -> int:
    s = text.strip()
    if not re.fullmatch(r"[+-]?\d+", s):
        raise _bad_text(oid, text)
    v = int(s)
    lo, hi = _INT_RANGE.get(oid, (0, 2**32 - 1))
    if not lo <= v <= hi:
        raise PgError(NUMERIC_VALUE_OUT_OF_RANGE, f'value "{text}" is out of range for type {_type_name(oid)}')
    return v


_FLOAT_SPECIAL = {"nan": math.nan, "infinity": math.inf, "+infinity": math.inf, "-infinity": -math.inf,
                  "inf": math.inf, "+inf": math.inf, "-inf": -math.inf}


def _parse_float(text: str, oid: int) -> float:
    s = text.strip()
    special = _FLOAT_SPECIAL.get(s.lower())
    if special is not None:
        return special
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", s):
        raise _bad_text(oid, text)
    return float(s)


def _parse_numeric(text: str) -> decimal.Decimal:
    s = text.strip()
    if s.lower() == "nan":
        return decimal.Decimal("NaN")
    if s.lower() in ("infinity", "+infinity", "-infinity", "inf", "+inf", "-inf"):
        return decimal.Decimal("-Infinity" if s.startswith("-") else "Infinity")
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", s):
        raise _bad_text(t.NUMERIC, text)
    return decimal.Decimal(s)


def _iso(text: str) -> str:
    s = text.strip()
    m = re.search(r"([+-]\d{2})$", s)
    if m and len(s) > 10 and s[-3] in "+-":
        s += ":00"  # PostgreSQL prints '+00'; fromisoformat wants '+00:00'
    return s


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise _bad_text(t.DATE, text) from None


def _parse_time(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text.strip())
    except ValueError:
        raise PgError(INVALID_TEXT_REPRESENTATION,
                      f'invalid input syntax for type time without time zone: "{text}"') from None


def _parse_timestamp(text: str, tz: bool) -> dt.datetime:
    try:
        v = dt.datetime.fromisoformat(_iso(text))
    except ValueError:
        name = "timestamp with time zone" if tz else "timestamp without time zone"
        raise PgError(INVALID_TEXT_REPRESENTATION, f'invalid input syntax for type {name}: "{text}"') from None
    if tz:
        return v if v.tzinfo is not None else v.replace(tzinfo=dt.UTC)
    return v.replace(tzinfo=None)


def _parse_bytea(text: str) -> bytes:
    if text.startswith("\\x"):
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            raise PgError(INVALID_TEXT_REPRESENTATION, "invalid hexadecimal data") from None
    out = bytearray()
    i = 0
    raw = text.encode("utf-8")
    while i < len(raw):
        c = raw[i]
        if c != 0x5C:
            out.append(c)
            i += 1
        elif raw[i + 1 : i + 2] == b"\\":
            out.append(0x5C)
            i += 2
        elif re.fullmatch(rb"[0-3][0-7][0-7]", raw[i + 1 : i + 4]):
            out.append(int(raw[i + 1 : i + 4], 8))
            i += 4
        else:
            raise PgError(INVALID_TEXT_REPRESENTATION, 'invalid input syntax for type bytea')
    return bytes(out)


def _parse_uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise _bad_text(t.UUID, text) from None


_PG_SPACE = " \t\n\r\v\f"  # what array_in skips around elements (Python's isspace() also takes \x1c-\x1f)


def _split_array(text: str, oid: int) -> list[str | None]:
    """Elements of a one-dimensional array literal '{a,"b c",NULL}' (nested braces kept as text)."""
    s = text.strip(_PG_SPACE)
    if s.startswith("[") and "=" in s:
        s = s.split("=", 1)[1].strip(_PG_SPACE)
    if not (s.startswith("{") and s.endswith("}")):
        raise PgError(INVALID_TEXT_REPRESENTATION, f'malformed array literal: "{text}"')
    body = s[1:-1]
    items: list[str | None] = []
    if not body.strip(_PG_SPACE):
        return items
    i, n = 0, len(body)
    while i <= n:
        while i < n and body[i] in _PG_SPACE:
            i += 1
        if i < n and body[i] == '"':
            i += 1
            buf = []
            while i < n and body[i] != '"':
                if body[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(body[i])
                i += 1
            if i >= n:
                raise PgError(INVALID_TEXT_REPRESENTATION, f'malformed array literal: "{text}"')
            i += 1
            items.append("".join(buf))
            while i < n and body[i] in _PG_SPACE:
                i += 1
        else:
            depth, start = 0, i
            while i < n and (depth or body[i] != ","):
                depth += {"{": 1, "}": -1}.get(body[i], 0)
                i += 1
            raw = body[start:i].strip(_PG_SPACE)
            items.append(None if raw.upper() == "NULL" else raw)
        if i < n and body[i] != ",":
            raise PgError(INVALID_TEXT_REPRESENTATION, f'malformed array literal: "{text}"')
        i += 1
    return items


def decode_text(text: str, oid: int) -> object:
    if oid in _TEXT_TYPES or oid == t.INTERVAL:
        return text  # interval: the warehouse parses PostgreSQL's interval strings itself
    if oid == t.BOOL:
        return _parse_bool(text)
    if oid in _INT_RANGE or oid in _OIDLIKE:
        if oid in _OIDLIKE and not re.fullmatch(r"\s*[+-]?\d+\s*", text):
            return text  # regclass etc. given by name
        return _parse_int(text, oid)
    if oid in (t.FLOAT4, t.FLOAT8):
        return _parse_float(text, oid)
    if oid == t.NUMERIC:
        return _parse_numeric(text)
    if oid == t.DATE:
        return _parse_date(text)
    if oid == t.TIME:
        return _parse_time(text)
    if oid in (t.TIMESTAMP, t.TIMESTAMPTZ):
        return _parse_timestamp(text, oid == t.TIMESTAMPTZ)
    if oid == t.BYTEA:
        return _parse_bytea(text)
    if oid == t.UUID:
        return _parse_uuid(text)
    pgt = t.TYPES_BY_OID.get(oid)
    if pgt is not None and pgt.element_oid:
        return [None if x is None else decode_text(x, pgt.element_oid) for x in _split_array(text, oid)]
    return text


# ---------------------------------------------------------------------------------------------- binary


def _unpack(fmt: str, data: bytes, oid: int) -> tuple[Any, ...]:
    try:
        return struct.unpack(fmt, data)
    except struct.error:
        raise _bad_binary(oid) from None


def _numeric_recv(data: bytes) -> decimal.Decimal:
    if len(data) < 8:
        raise _bad_binary(t.NUMERIC)
    ndigits, weight, sign, dscale = struct.unpack_from("!hhHh", data)
    if ndigits < 0 or len(data) != 8 + 2 * ndigits or dscale < 0:
        raise _bad_binary(t.NUMERIC)
    if sign == 0xC000:
        return decimal.Decimal("NaN")
    if sign == 0xD000:
        return decimal.Decimal("Infinity")
    if sign == 0xF000:
        return decimal.Decimal("-Infinity")
    if sign not in (0, 0x4000):
        raise _bad_binary(t.NUMERIC)
    digits = struct.unpack_from(f"!{ndigits}h", data, 8)
    if any(not 0 <= d < 10000 for d in digits):
        raise _bad_binary(t.NUMERIC)
    value = 0
    for d in digits:
        value = value * 10000 + d
    exp = 4 * (weight - ndigits + 1)
    result = decimal.Decimal(value).scaleb(exp) if value else decimal.Decimal(0)
    if sign == 0x4000:
        result = -result
    return result.quantize(decimal.Decimal(1).scaleb(-dscale), context=decimal.Context(prec=1000))


def _array_recv(data: bytes, oid: int) -> list[Any]:
    try:
        ndim, _flags, elem = struct.unpack_from("!iiI", data)
        if ndim == 0:
            return []
        if ndim != 1:
            raise _bad_binary(oid)
        size, _lbound = struct.unpack_from("!ii", data, 12)
        pos = 20
        out: list[Any] = []
        for _ in range(size):
            (n,) = struct.unpack_from("!i", data, pos)
            pos += 4
            if n == -1:
                out.append(None)
                continue
            if n < 0 or pos + n > len(data):
                raise _bad_binary(oid)
            out.append(decode_binary(data[pos : pos + n], elem))
            pos += n
        if pos != len(data):
            raise _bad_binary(oid)
        return out
    except struct.error:
        raise _bad_binary(oid) from None


_PG_EPOCH_ORDINAL = pv.PG_EPOCH_DATE.toordinal()

_FIXED: dict[int, Callable[[bytes], object]] = {
    t.BOOL: lambda d: _unpack("!?", d, t.BOOL)[0],
    t.INT2: lambda d: _unpack("!h", d, t.INT2)[0],
    t.INT4: lambda d: _unpack("!i", d, t.INT4)[0],
    t.INT8: lambda d: _unpack("!q", d, t.INT8)[0],
    t.FLOAT4: lambda d: _unpack("!f", d, t.FLOAT4)[0],
    t.FLOAT8: lambda d: _unpack("!d", d, t.FLOAT8)[0],
}


def decode_binary(data: bytes, oid: int) -> object:
    fixed = _FIXED.get(oid)
    if fixed is not None:
        return fixed(data)
    if oid in _OIDLIKE:
        return _unpack("!I", data, oid)[0]
    if oid == t.JSONB:
        if not data or data[0] != 1:
            raise _bad_binary(oid)
        data = data[1:]
    if oid in _TEXT_TYPES or oid == t.JSONB:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            if oid in (0, t.UNKNOWN):
                return data
            raise _bad_binary(oid) from None
    if oid == t.BYTEA:
        return data
    if oid == t.NUMERIC:
        return _numeric_recv(data)
    if oid == t.UUID:
        if len(data) != 16:
            raise _bad_binary(oid)
        return uuid.UUID(bytes=data)
    try:
        if oid == t.DATE:
            (days,) = _unpack("!i", data, oid)
            return dt.date.fromordinal(_PG_EPOCH_ORDINAL + days)
        if oid == t.TIME:
            (us,) = _unpack("!q", data, oid)
            secs, frac = divmod(us, 1_000_000)
            return dt.time(secs // 3600, secs // 60 % 60, secs % 60, frac)
        if oid == t.TIMESTAMP:
            (us,) = _unpack("!q", data, oid)
            return pv.PG_EPOCH + dt.timedelta(microseconds=us)
        if oid == t.TIMESTAMPTZ:
            (us,) = _unpack("!q", data, oid)
            return pv.PG_EPOCH_TZ + dt.timedelta(microseconds=us)
        if oid == t.INTERVAL:
            us, days, months = _unpack("!qii", data, oid)
            if months:
                return pv.format_interval(months, days, us)
            return dt.timedelta(days=days, microseconds=us)
    except (ValueError, OverflowError):
        raise PgError("22008", f"{_type_name(oid)} out of range") from None
    pgt = t.TYPES_BY_OID.get(oid)
    if pgt is not None and pgt.element_oid:
        return _array_recv(data, oid)
    raise PgError(INVALID_BINARY_REPRESENTATION, f"no binary input function available for type {_type_name(oid)}")
