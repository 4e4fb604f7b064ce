"""Binary send formats of types the gateway holds as PostgreSQL's output text (inet, timetz, bit, point, ...).

Catalog and constant answers carry such values as the text PostgreSQL prints (virtual_schema/catalog/
textvalues.py); a client asking for binary results (asyncpg always does, psycopg's binary cursors) must
get each type's own send format, as PostgreSQL's *_send functions write it, not the text bytes.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from collections.abc import Callable

_I4 = struct.Struct("!i")
_I8 = struct.Struct("!q")


def _inet(text: str, is_cidr: bool) -> bytes:
    iface = ipaddress.ip_interface(text.strip())
    addr = iface.ip.packed
    family = 2 if iface.version == 4 else 3  # PGSQL_AF_INET / PGSQL_AF_INET6
    return bytes([family, iface.network.prefixlen, int(is_cidr), len(addr)]) + addr


def _macaddr(text: str) -> bytes:
    return bytes.fromhex(re.sub(r"[:\-.]", "", text.strip()))


def _money(text: str) -> bytes:
    raw = text.strip()
    neg = raw.startswith("-") or raw.startswith("(")
    digits = re.sub(r"[^\d.]", "", raw)
    whole, _, frac = digits.partition(".")
    cents = int(whole or "0") * 100 + int((frac + "00")[:2])
    return _I8.pack(-cents if neg else cents)


def _bits(text: str) -> bytes:
    bits = text.strip()
    padded = bits + "0" * (-len(bits) % 8)
    data = bytes(int(padded[i : i + 8], 2) for i in range(0, len(padded), 8))
    return _I4.pack(len(bits)) + data


def _pg_lsn(text: str) -> bytes:
    hi, lo = text.strip().split("/")
    return struct.pack("!Q", (int(hi, 16) << 32) | int(lo, 16))


def _point(text: str) -> bytes:
    x, y = (float(p) for p in text.strip().strip("()").split(","))
    return struct.pack("!dd", x, y)


def _timetz(text: str) -> bytes:
    m = re.fullmatch(r"(\d+):(\d+):(\d+)(\.\d+)?([+-])(\d+)(?::(\d+))?(?::(\d+))?", text.strip())
    if m is None:
        raise ValueError(f"not a timetz: {text!r}")
    us = ((int(m.group(1)) * 60 + int(m.group(2))) * 60 + int(m.group(3))) * 1_000_000
    us += round(float(m.group(4) or 0) * 1_000_000)
    offset = int(m.group(6)) * 3600 + int(m.group(7) or 0) * 60 + int(m.group(8) or 0)
    east = offset if m.group(5) == "+" else -offset
    return _I8.pack(us) + _I4.pack(-east)  # PostgreSQL stores the zone as seconds west of UTC


def _int_range(width: int) -> Callable[[str], bytes]:
    pack = _I4 if width == 4 else _I8

    def send(text: str) -> bytes:
        raw = text.strip()
        if raw == "empty":
            return b"\x01"
        lo, hi = raw[1:-1].split(",")
        flags = (0x02 if raw[0] == "[" else 0) | (0x04 if raw[-1] == "]" else 0)
        flags |= (0x08 if lo == "" else 0) | (0x10 if hi == "" else 0)
        out = bytes([flags])
        for bound in (lo, hi):
            if bound != "":
                out += _I4.pack(width) + pack.pack(int(bound))
        return out

    return send


def _vector(elem_oid: int, width: int) -> Callable[[str], bytes]:
    """int2vector / oidvector: a one-dimensional array whose lower bound is 0."""
    fmt = "!h" if width == 2 else "!I"

    def send(text: str) -> bytes:
        items = [int(x) for x in text.split()]
        if not items:
            return struct.pack("!iiI", 0, 0, elem_oid)
        out = [struct.pack("!iiIii", 1, 0, elem_oid, len(items), 0)]
        out += [_I4.pack(width) + struct.pack(fmt, x) for x in items]
        return b"".join(out)

    return send


SENDERS: dict[int, Callable[[str], bytes]] = {
    869: lambda v: _inet(v, False),
    650: lambda v: _inet(v, True),
    829: _macaddr,
    790: _money,
    1560: _bits,
    1562: _bits,
    3220: _pg_lsn,
    600: _point,
    1266: _timetz,
    3904: _int_range(4),
    3926: _int_range(8),
    22: _vector(21, 2),
    30: _vector(26, 4),
}


def binary_from_text(oid: int, text: str) -> bytes | None:
    """The binary send format of a value given as PostgreSQL's output text, or None for other types."""
    send = SENDERS.get(oid)
    return send(text) if send is not None else None


__all__ = ["SENDERS", "binary_from_text"]
