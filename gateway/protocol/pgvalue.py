"""Per-value PostgreSQL text and binary output for Python values.

This is the reference the vectorized encoder (rowenc.py) must agree with, and its fallback for rare
types (arrays, intervals, values outside the vectorized ranges). It follows PostgreSQL 15's output
functions with the default settings drivers see: DateStyle ISO, IntervalStyle postgres,
extra_float_digits >= 1 (shortest round-trip floats), bytea_output hex.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import struct
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.protocol.textbinary import SENDERS
from virtual_schema import pgtypes as t

PG_EPOCH_DATE = dt.date(2000, 1, 1)
PG_EPOCH = dt.datetime(2000, 1, 1)
PG_EPOCH_TZ = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
UNIX_TO_PG_DAYS = 10957
UNIX_TO_PG_US = UNIX_TO_PG_DAYS * 86_400_000_000

_TEXT_LIKE = {t.TEXT, t.VARCHAR, t.BPCHAR, t.NAME, t.JSON, t.UNKNOWN, 2275, 142, 194, 1790}


def session_zone(name: str | None) -> dt.tzinfo:
    """The tzinfo for a session TimeZone setting; UTC when unknown."""
    if not name or name.upper() in ("UTC", "GMT", "Z", "ZULU", "ETC/UTC"):
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


# ---------------------------------------------------------------------------------------------- text


def _shortest_parts(text: str) -> tuple[str, int]:
    """Digits (no leading/trailing zeros) and the decimal exponent of the first digit of repr text."""
    d = decimal.Decimal(text).as_tuple()
    digits = "".join(map(str, d.digits)).lstrip("0")
    exp = int(d.exponent)
    stripped = digits.rstrip("0")
    exp += len(digits) - len(stripped)
    if not stripped:
        return "0", 0
    return stripped, len(stripped) - 1 + exp


def format_float(x: float, *, single: bool = False) -> str:
    """float4out/float8out with extra_float_digits > 0: shortest round-trip digits, %g-like layout."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    if single:
        import numpy as np

        text = np.format_float_scientific(np.float32(x), unique=True)
    else:
        text = repr(x)
    sign = "-" if x < 0 else ""
    digits, exp = _shortest_parts(text.lstrip("-"))
    high = 6 if single else 15
    if -4 <= exp < high:
        return sign + _positional(digits, exp)
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def format_float_numeric(x: float) -> str:
    """A double the client was told is numeric (an average, a quotient): its shortest round-trip digits laid
    out as numeric_out lays them out, never with an exponent (4.2e-09 is 0.0000000042); numeric has no -0."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    digits, exp = _shortest_parts(repr(abs(x)))
    return ("-" if x < 0 else "") + _positional(digits, exp)


def _positional(digits: str, exp: int) -> str:
    """Significant digits d1d2… times 10**exp in fixed notation."""
    if exp < 0:
        return f"0.{'0' * (-exp - 1)}{digits}"
    if len(digits) <= exp + 1:
        return digits + "0" * (exp + 1 - len(digits))
    return f"{digits[: exp + 1]}.{digits[exp + 1 :]}"


def format_numeric(value: decimal.Decimal | int | float, scale: int | None = None) -> str:
    if isinstance(value, float):
        if scale is None or not math.isfinite(value):
            return format_float_numeric(value)
        value = decimal.Decimal(repr(value))
    d = decimal.Decimal(value)
    if d.is_nan():
        return "NaN"
    if d.is_infinite():
        return "Infinity" if d > 0 else "-Infinity"
    if scale is not None:
        d = d.quantize(decimal.Decimal(1).scaleb(-scale), context=_WIDE)
    text = format(d, "f")
    if text.startswith("-") and not d.is_zero():
        return text
    return text.lstrip("-")


_WIDE = decimal.Context(prec=1000)  # numeric has up to 131072 digits before the point; quantize must not round


def _frac(us: int) -> str:
    return f".{us:06d}".rstrip("0") if us else ""


def format_date(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def format_time(v: dt.time) -> str:
    return f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}{_frac(v.microsecond)}"


def format_timestamp(v: dt.datetime) -> str:
    return f"{format_date(v)} {format_time(v.time())}"


def format_offset(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    hh, rest = divmod(seconds, 3600)
    mm, ss = divmod(rest, 60)
    text = f"{sign}{hh:02d}"
    if mm or ss:
        text += f":{mm:02d}"
    if ss:
        text += f":{ss:02d}"
    return text


def format_timestamptz(v: dt.datetime, zone: dt.tzinfo) -> str:
    if v.tzinfo is None:
        v = v.replace(tzinfo=dt.UTC)
    try:
        local = v.astimezone(zone)
    except OverflowError:  # the local time is in year 0 or 10000: PostgreSQL still prints it
        probe = v.replace(tzinfo=None).replace(year=2000 if v.year > 9000 else 2, month=1 if v.year > 9000 else 12)
        offset = zone.utcoffset(probe) or dt.timedelta(0)
        seconds = int(offset.total_seconds())
        us = _to_us(v.replace(tzinfo=None) - dt.datetime(1970, 1, 1)) + seconds * 1_000_000
        return format_micros(us, seconds)
    off = local.utcoffset()
    return format_timestamp(local.replace(tzinfo=None)) + format_offset(int(off.total_seconds()) if off else 0)


def _civil(days: int) -> tuple[int, int, int]:
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def format_micros(us: int, offset: int | None = None) -> str:
    """A timestamp given as local microseconds since 1970 (any year; BC as PostgreSQL prints it)."""
    days, tod = divmod(us, 86_400_000_000)
    y, mo, d = _civil(days)
    secs, frac = divmod(tod, 1_000_000)
    text = f"{y if y > 0 else 1 - y:04d}-{mo:02d}-{d:02d} {secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
    text += _frac(frac)
    if offset is not None:
        text += format_offset(offset)
    return text + (" BC" if y <= 0 else "")


def format_interval(months: int, days: int, us: int) -> str:
    """IntervalStyle postgres, as EncodeInterval prints it."""
    parts: list[str] = []
    is_before = False
    for value, unit in ((int(months / 12), "year"), (months - int(months / 12) * 12, "mon"), (days, "day")):
        if value == 0:
            continue
        plus = "+" if is_before and value > 0 else ""
        parts.append(f"{plus}{value} {unit}{'' if value == 1 else 's'}")
        is_before = value < 0
    if not parts or us != 0:
        minus = us < 0
        a = abs(us)
        hours, rest = divmod(a, 3_600_000_000)
        minutes, rest = divmod(rest, 60_000_000)
        secs, frac = divmod(rest, 1_000_000)
        sign = "-" if minus else ("+" if is_before else "")
        parts.append(f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}{_frac(frac)}")
    return " ".join(parts)


def interval_parts(v: Any) -> tuple[int, int, int]:
    """(months, days, microseconds) from a timedelta, pyarrow MonthDayNano or a 3-tuple."""
    if isinstance(v, dt.timedelta):
        us = (v.days * 86_400 + v.seconds) * 1_000_000 + v.microseconds
        return 0, 0, us
    months, days, nanos = v[0], v[1], v[2]
    return int(months), int(days), int(nanos) // 1000 if nanos >= 0 else -((-int(nanos)) // 1000)


def _array_item_text(item: Any, elem_oid: int, zone: dt.tzinfo) -> str:
    if item is None:
        return "NULL"
    if isinstance(item, (list, tuple)):
        return "{" + ",".join(_array_item_text(x, elem_oid, zone) for x in item) + "}"
    text = text_value(item, elem_oid, zone)
    if text == "" or text.upper() == "NULL" or any(c in text for c in '{},"\\ \t\n\r\v\f'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def text_value(value: Any, oid: int, zone: dt.tzinfo = dt.UTC, scale: int | None = None) -> str:
    """PostgreSQL's text output of one non-NULL value of type oid."""
    pgt = t.TYPES_BY_OID.get(oid)
    if pgt is not None and pgt.element_oid and isinstance(value, (list, tuple)):
        return "{" + ",".join(_array_item_text(x, pgt.element_oid, zone) for x in value) + "}"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "t" if value else "f"
    if oid in (t.FLOAT4, t.FLOAT8) and isinstance(value, (float, int)):
        return format_float(float(value), single=oid == t.FLOAT4)
    if oid == t.NUMERIC and isinstance(value, (decimal.Decimal, int, float)):
        return format_numeric(value, scale)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, decimal.Decimal):
        return format_numeric(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        if oid == t.TIMESTAMPTZ or (value.tzinfo is not None and oid != t.TIMESTAMP):
            return format_timestamptz(value, zone)
        return format_timestamp(value.replace(tzinfo=None))
    if isinstance(value, dt.date):
        return format_date(value)
    if isinstance(value, dt.time):
        return format_time(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if oid == t.UUID and len(raw) == 16:
            return str(uuid.UUID(bytes=raw))
        if oid in _TEXT_LIKE or oid == t.JSONB or oid == t.CHAR:
            return raw.decode("utf-8", "replace")
        return "\\x" + raw.hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.timedelta) or oid == t.INTERVAL:
        return format_interval(*interval_parts(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


# ---------------------------------------------------------------------------------------------- binary

_I16, _I32, _I64, _U32 = struct.Struct("!h"), struct.Struct("!i"), struct.Struct("!q"), struct.Struct("!I")


def numeric_binary(value: decimal.Decimal | int | float, scale: int | None = None) -> bytes:
    """numeric_send: ndigits, weight, sign, dscale, base-10000 digits (no leading/trailing zero digits)."""
    if isinstance(value, float):  # the digits of its text form (format_numeric), so dscale agrees with it
        value = decimal.Decimal(format_float_numeric(value) if scale is None else repr(value))
    d = decimal.Decimal(value)
    if d.is_nan():
        return struct.pack("!hhHh", 0, 0, 0xC000, 0)
    if d.is_infinite():
        # PostgreSQL's numeric_send reads dscale out of the special value's short header: 32 for ±Infinity
        return struct.pack("!hhHh", 0, 0, 0xD000 if d > 0 else 0xF000, 32)
    if scale is not None:
        d = d.quantize(decimal.Decimal(1).scaleb(-scale), context=_WIDE)
        if 0 <= scale <= 1000:
            return numeric_binary_scaled(int(d.scaleb(scale, context=_WIDE)), scale)
    sign_bit, digits_t, exp = d.as_tuple()
    assert isinstance(exp, int)
    dscale = max(0, -exp)
    digits = "".join(map(str, digits_t))
    # Place digits around the decimal point and pad both sides to multiples of 4.
    if exp >= 0:
        int_part, frac_part = digits + "0" * exp, ""
    else:
        int_part, frac_part = digits[:exp] or "0", digits[exp:].rjust(-exp, "0")
    int_part = int_part.lstrip("0")
    int_pad = (-len(int_part)) % 4
    int_part = "0" * int_pad + int_part
    frac_part = frac_part + "0" * ((-len(frac_part)) % 4)
    groups = [int(int_part[i : i + 4]) for i in range(0, len(int_part), 4)]
    groups += [int(frac_part[i : i + 4]) for i in range(0, len(frac_part), 4)]
    weight = len(int_part) // 4 - 1
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight = 0
    sign = 0x4000 if sign_bit and groups else 0
    return struct.pack(f"!hhHh{len(groups)}h", len(groups), weight, sign, dscale, *groups)


def numeric_binary_scaled(unscaled: int, scale: int) -> bytes:
    """numeric_send of unscaled / 10**scale with integer arithmetic: base-10000 digits straight from divmod
    (the string route above costs ~15 µs a value, which small binary results pay on the event loop)."""
    frac_groups = (scale + 3) // 4
    m = abs(unscaled) * 10 ** (frac_groups * 4 - scale)
    groups: list[int] = []
    while m:
        m, g = divmod(m, 10000)
        groups.append(g)
    if not groups:
        return struct.pack("!hhHh", 0, 0, 0, scale)
    weight = len(groups) - frac_groups - 1
    groups.reverse()
    while groups[-1] == 0:
        groups.pop()
    sign = 0x4000 if unscaled < 0 else 0
    return struct.pack(f"!hhHh{len(groups)}h", len(groups), weight, sign, scale, *groups)


def _array_binary(value: list[Any] | tuple[Any, ...], elem_oid: int) -> bytes:
    items = list(value)
    if not items:
        return struct.pack("!iiI", 0, 0, elem_oid)
    has_null = any(x is None for x in items)
    out = [struct.pack("!iiIii", 1, int(has_null), elem_oid, len(items), 1)]
    for x in items:
        if x is None:
            out.append(b"\xff\xff\xff\xff")
        else:
            b = binary_value(x, elem_oid)
            out.append(_I32.pack(len(b)) + b)
    return b"".join(out)


def _to_us(v: dt.timedelta) -> int:
    return (v.days * 86_400 + v.seconds) * 1_000_000 + v.microseconds


def binary_value(value: Any, oid: int, scale: int | None = None) -> bytes:
    """PostgreSQL's binary send format of one non-NULL value of type oid."""
    if isinstance(value, str) and oid in SENDERS:
        return SENDERS[oid](value)  # inet, timetz, bit, ... held as their output text
    pgt = t.TYPES_BY_OID.get(oid)
    if pgt is not None and pgt.element_oid:
        return _array_binary(value, pgt.element_oid)
    if oid == t.BOOL:
        return b"\x01" if value else b"\x00"
    if oid == t.INT2:
        return _I16.pack(int(value))
    if oid == t.INT4:
        return _I32.pack(int(value))
    if oid == t.INT8:
        return _I64.pack(int(value))
    if oid in (t.OID, t.REGCLASS, t.REGTYPE, t.REGPROC, 28, 29, 2202, 2203, 2204, 3734, 4089, 4096):
        return _U32.pack(int(value))
    if oid == t.FLOAT4:
        return struct.pack("!f", float(value))
    if oid == t.FLOAT8:
        return struct.pack("!d", float(value))
    if oid == t.NUMERIC:
        return numeric_binary(value, scale)
    if oid == t.DATE:
        return _I32.pack((value - PG_EPOCH_DATE).days)
    if oid == t.TIME:
        return _I64.pack(((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond)
    if oid == t.TIMESTAMP:
        return _I64.pack(_to_us(value.replace(tzinfo=None) - PG_EPOCH))
    if oid == t.TIMESTAMPTZ:
        v = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return _I64.pack(_to_us(v - PG_EPOCH_TZ))
    if oid == t.INTERVAL:
        months, days, us = interval_parts(value)
        return struct.pack("!qii", us, days, months)
    if oid == t.UUID:
        if isinstance(value, uuid.UUID):
            return value.bytes
        if isinstance(value, str):
            return uuid.UUID(value).bytes
        return bytes(value)
    if oid == t.JSONB:
        return b"\x01" + (value if isinstance(value, bytes) else text_value(value, t.JSON).encode())
    if oid == t.BYTEA:
        return bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else str(value).encode()
    if oid == t.CHAR:
        return value.encode("utf-8")[:1] if isinstance(value, str) else bytes(value)[:1]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return text_value(value, oid).encode("utf-8")


def value_encoder(oid: int, fmt: int, zone: dt.tzinfo, scale: int | None = None) -> Callable[[Any], bytes]:
    """A per-value encoder for one column (the slow, complete path), with shortcuts for the usual
    Python types of the common column types."""
    if fmt == 1:
        packer = {t.INT2: _I16, t.INT4: _I32, t.INT8: _I64}.get(oid)
        if packer is not None:
            pack = packer.pack
            return lambda v: pack(v) if type(v) is int else binary_value(v, oid, scale)
        return lambda v: binary_value(v, oid, scale)
    if oid in (t.INT2, t.INT4, t.INT8, t.OID):
        return lambda v: str(v).encode() if type(v) is int else text_value(v, oid, zone, scale).encode("utf-8")
    if oid in _TEXT_LIKE:
        return lambda v: v.encode("utf-8") if type(v) is str else text_value(v, oid, zone, scale).encode("utf-8")
    if oid == t.BOOL:
        return lambda v: (b"t" if v else b"f") if type(v) is bool else text_value(v, oid, zone, scale).encode()
    return lambda v: text_value(v, oid, zone, scale).encode("utf-8")
