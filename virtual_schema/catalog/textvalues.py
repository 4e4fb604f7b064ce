"""PostgreSQL's input → output text of constants whose types DuckDB cannot hold (inet, jsonb, timetz, money, ...).

`'…'::inet` in a catalog query is answered as the text PostgreSQL's output function would print for it,
typed with PostgreSQL's OID; the row encoder sends that text as is. Invalid input raises 22P02 like
PostgreSQL's input function.
"""

from __future__ import annotations

import decimal
import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any

from virtual_schema import errors as E
from virtual_schema.errors import PgError


def _bad(type_name: str, text: str) -> PgError:
    return PgError(E.INVALID_TEXT_REPRESENTATION, f'invalid input syntax for type {type_name}: "{text}"')


def _float_out(v: float) -> str:
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _inet(text: str, _typmod: int) -> str:
    try:
        iface = ipaddress.ip_interface(text.strip())
    except ValueError:
        raise _bad("inet", text) from None
    full = iface.network.max_prefixlen
    return str(iface.ip) if iface.network.prefixlen == full else f"{iface.ip}/{iface.network.prefixlen}"


def _cidr(text: str, _typmod: int) -> str:
    try:
        net = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        raise _bad("cidr", text) from None
    return f"{net.network_address}/{net.prefixlen}"


def _macaddr(text: str, _typmod: int) -> str:
    digits = re.sub(r"[:\-.]", "", text.strip())
    if not re.fullmatch(r"[0-9a-fA-F]{12}", digits):
        raise _bad("macaddr", text)
    d = digits.lower()
    return ":".join(d[i : i + 2] for i in range(0, 12, 2))


def _money(text: str, _typmod: int) -> str:
    raw = text.strip().replace(",", "").replace("$", "")
    neg = raw.startswith("-") or (raw.startswith("(") and raw.endswith(")"))
    raw = raw.strip("()-+ ")
    try:
        v = decimal.Decimal(raw).quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_UP)
    except decimal.InvalidOperation:
        raise _bad("money", text) from None
    return ("-" if neg and v != 0 else "") + f"${v:,.2f}"


def _bits(text: str, typmod: int, fixed: bool) -> str:
    v = text.strip()
    if v[:1] in ("b", "B"):
        v = v[1:]
    elif v[:1] in ("x", "X"):
        v = "".join(f"{int(c, 16):04b}" for c in v[1:])
    if not re.fullmatch(r"[01]*", v):
        raise PgError(E.INVALID_TEXT_REPRESENTATION, f'"{v[0] if v else ""}" is not a valid binary digit')
    if typmod > 0 and len(v) > typmod:
        v = v[:typmod]  # an explicit cast truncates (bit and bit varying) ...
    if fixed and typmod > 0:
        v = v.ljust(typmod, "0")  # ... and zero-pads bit(n)
    return v


def _pg_lsn(text: str, _typmod: int) -> str:
    m = re.fullmatch(r"\s*([0-9a-fA-F]{1,8})/([0-9a-fA-F]{1,8})\s*", text)
    if not m:
        raise _bad("pg_lsn", text)
    return f"{int(m.group(1), 16):X}/{int(m.group(2), 16):X}"


def _point(text: str, _typmod: int) -> str:
    m = re.fullmatch(r"\s*\(?\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)?\s*", text)
    if not m:
        raise _bad("point", text)
    try:
        x, y = float(m.group(1)), float(m.group(2))
    except ValueError:
        raise _bad("point", text) from None
    return f"({_float_out(x)},{_float_out(y)})"


def _timetz(text: str, _typmod: int) -> str:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(?:([+-])(\d{1,2})(?::?(\d{2}))?)?\s*", text)
    if not m:
        raise _bad("time with time zone", text)
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    frac = (m.group(4) or "").rstrip("0").rstrip(".")
    if frac and len(frac) > 7:
        frac = frac[:7]
    out = f"{h:02d}:{mi:02d}:{s:02d}{frac}"
    sign, oh, om = m.group(5) or "+", int(m.group(6) or 0), int(m.group(7) or 0)
    return out + f"{sign}{oh:02d}" + (f":{om:02d}" if om else "")


def jsonb_text(value: Any) -> str:
    """jsonb's output: keys sorted by length then bytes, last duplicate wins, ', ' and ': ' separators."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {jsonb_text(value[k])}" for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(jsonb_text(v) for v in value) + "]"
    if isinstance(value, decimal.Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _jsonb(text: str, _typmod: int) -> str:
    try:
        return jsonb_text(json.loads(text, parse_float=decimal.Decimal, parse_int=decimal.Decimal))
    except ValueError:
        raise PgError(E.INVALID_TEXT_REPRESENTATION, "invalid input syntax for type json") from None


def _json(text: str, _typmod: int) -> str:
    try:
        json.loads(text)
    except ValueError:
        raise PgError(E.INVALID_TEXT_REPRESENTATION, "invalid input syntax for type json") from None
    return text


def _discrete_range() -> Callable[[str, int], str]:
    def conv(text: str, _typmod: int) -> str:
        raw = text.strip()
        if raw.lower() == "empty":
            return "empty"
        m = re.fullmatch(r"([\[(])\s*([+-]?\d*)\s*,\s*([+-]?\d*)\s*([\])])", raw)
        if not m:
            raise PgError(E.INVALID_TEXT_REPRESENTATION, f'malformed range literal: "{text}"')
        if m.group(2) and m.group(3) and int(m.group(2)) > int(m.group(3)):
            raise PgError(E.DATA_EXCEPTION, "range lower bound must be less than or equal to range upper bound")
        lo = int(m.group(2)) + (m.group(1) == "(") if m.group(2) else None
        hi = int(m.group(3)) + (m.group(4) == "]") if m.group(3) else None
        if lo is not None and hi is not None and lo >= hi:
            return "empty"
        return f"{'[' if lo is not None else '('}{'' if lo is None else lo},{'' if hi is None else hi})"

    return conv


def _verbatim(text: str, _typmod: int) -> str:
    return text


# type oid -> PostgreSQL's input+output of a literal of that type
CONVERTERS: dict[int, Callable[[str, int], str]] = {
    869: _inet,
    650: _cidr,
    829: _macaddr,
    790: _money,
    1560: lambda t, m: _bits(t, m if m > 0 else 1, True),
    1562: lambda t, m: _bits(t, m, False),
    3220: _pg_lsn,
    600: _point,
    1266: _timetz,
    3802: _jsonb,
    114: _json,
    142: _verbatim,
    3904: _discrete_range(),
    3926: _discrete_range(),
}


def literal_text(oid: int, typmod: int, text: str) -> str | None:
    """PostgreSQL's output text for `'text'::type`, or None when this type is not handled here."""
    conv = CONVERTERS.get(oid)
    return conv(text, typmod) if conv is not None else None


__all__ = ["CONVERTERS", "jsonb_text", "literal_text"]
