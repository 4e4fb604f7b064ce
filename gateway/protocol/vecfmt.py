"""Vectorized PostgreSQL output formatting into fixed-width byte matrices.

Every function renders one column of n values into an (n, w) uint8 matrix plus, per row, the window
[lo, hi) of bytes that hold the value (None = the whole width). Digits come from lookup tables of
2- and 4-character groups so a 9-digit integer costs three numpy passes, not nine Python calls; the
row assembler (rowenc.py) then cuts the windows out of the matrix in one C++ filter.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

U8 = np.uint8
Mat = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

T4 = np.frombuffer(b"".join(b"%04d" % i for i in range(10000)), dtype=np.uint32)
T2 = np.frombuffer(b"".join(b"%02d" % i for i in range(100)), dtype=np.uint16)
HEX2 = np.frombuffer(b"".join(b"%02x" % i for i in range(256)), dtype=np.uint16)
POW10_U64 = np.array([10**i for i in range(1, 20)], dtype=np.uint64)
US_PER_DAY = 86_400_000_000


_TABLE_FIRST_DAY = -25567  # 1900-01-01
_TABLE_DAYS = 73049  # through 2099-12-31


@functools.cache
def _day_table() -> npt.NDArray[np.void]:
    """'YYYY-MM-DD' for every day of 1900..2099 as 10-byte items (one gather formats a date column)."""
    days = np.arange(_TABLE_FIRST_DAY, _TABLE_FIRST_DAY + _TABLE_DAYS, dtype=np.int64)
    mat = np.empty((len(days), 10), U8)
    _write_date_arith(mat, 0, days)
    return mat.view("V10")[:, 0].copy()


@functools.cache
def _clock_table() -> npt.NDArray[np.void]:
    """'HH:MM:SS' for every second of a day as 8-byte items."""
    secs = np.arange(86400, dtype=np.int64)
    mat = np.empty((86400, 8), U8)
    hh, rest = np.divmod(secs, 3600)
    mm, ss = np.divmod(rest, 60)
    mat[:, 0:2] = T2[hh].view(U8).reshape(-1, 2)
    mat[:, 2] = 58
    mat[:, 3:5] = T2[mm].view(U8).reshape(-1, 2)
    mat[:, 5] = 58
    mat[:, 6:8] = T2[ss].view(U8).reshape(-1, 2)
    return mat.view("V8")[:, 0].copy()


def put(mat: Mat, col: int, items: npt.NDArray[np.void]) -> None:
    """mat[:, col:col+k] = k-byte items, one item per row (fast; numpy copies narrow slices slowly)."""
    k = items.dtype.itemsize
    mat[:, col : col + k].view(f"V{k}")[:, 0] = items


@dataclass(slots=True)
class Field:
    """One column of a chunk rendered as bytes: row r's value is mat[r, lo[r]:hi[r]]."""

    mat: Mat
    lo: I64 | None = None  # None: every value starts at column 0
    hi: I64 | None = None  # None: every value ends at the last column
    null: Bools | None = None  # None: no NULLs


def window_items(mat: Mat) -> npt.NDArray[np.void]:
    """Overlapping w-byte items starting at every byte of mat's rows: item r*w + lo is row r shifted
    left by lo. Uses the spare row producers allocate after the matrix, or copies into a padded buffer."""
    n, w = mat.shape
    base = mat.base
    if (isinstance(base, np.ndarray) and mat.flags.c_contiguous and base.flags.c_contiguous
            and base.nbytes >= (n + 1) * w and mat.ctypes.data == base.ctypes.data):
        buf = base.reshape(-1).view(U8)
    else:
        buf = np.empty((n + 1) * w, U8)
        buf[: n * w] = mat.reshape(-1)
    return np.ndarray((n * w,), dtype=f"V{w}", buffer=buf, strides=(1,))


def left_align(mat: Mat, lo: I64, hi: I64 | None = None) -> Field:
    """Shift each row's window [lo, hi) to start at column 0 with one gather of w-byte items."""
    n, w = mat.shape
    if n == 0 or w == 0:
        return Field(mat, None, (w if hi is None else hi) - lo if n else None)
    out = window_items(mat)[np.arange(0, n * w, w, dtype=np.int64) + lo]
    return Field(out.view(U8).reshape(n, w), None, (w if hi is None else hi) - lo)


def ndigits(u: npt.NDArray[np.uint64]) -> I64:
    """Number of decimal digits of each value (0 has one): one comparison per possible digit, which
    beats a binary search (searchsorted) by an order of magnitude on short numbers."""
    n = len(u)
    nd = np.ones(n, np.int64)
    if n == 0:
        return nd
    top = int(u.max())
    x = u.astype(np.uint32) if top < 2**32 else u
    for p in POW10_U64:
        if int(p) > top:
            break
        nd += x >= x.dtype.type(p)
    return nd


def digits_right(u: npt.NDArray[np.uint64], groups: int) -> Mat:
    """(n, 4*groups) ASCII digits of u, right-aligned and zero-padded on the left."""
    n = len(u)
    out = np.empty((n + 1, groups), dtype=np.uint32)[:n]  # spare row: see window_items
    q: npt.NDArray[np.unsignedinteger[Any]] = u
    if groups <= 2 or (n and int(u.max()) < 2**32):
        q = u.astype(np.uint32)  # 32-bit division is about twice as fast
    ten4 = q.dtype.type(10000)
    for g in range(groups - 1, 0, -1):
        nxt = q // ten4
        out[:, g] = T4[(q - nxt * ten4).astype(np.intp)]
        q = nxt
    out[:, 0] = T4[(q % ten4).astype(np.intp)]
    return out.view(U8).reshape(n, 4 * groups)


def abs_u64(v: I64) -> tuple[npt.NDArray[np.uint64], Bools]:
    # abs(-2**63) wraps to -2**63, which viewed as uint64 is 2**63: right.
    return np.abs(v).view(np.uint64), v < 0


def place_minus(mat: Mat, lo: I64, neg: Bools) -> I64:
    """Write '-' before the digits of negative rows; returns the new window starts."""
    if neg.any():
        rows = np.flatnonzero(neg)
        lo = lo - neg
        mat[rows, lo[rows]] = 45
    return lo


def int_text(v: I64) -> Field:
    n = len(v)
    if n == 0:
        return Field(np.empty((0, 0), U8))
    u, neg = abs_u64(v)
    nd = ndigits(u)
    width = int(nd.max()) + int(bool(neg.any()))
    groups = (width + 3) // 4
    mat = digits_right(u, groups)
    w = 4 * groups
    lo = place_minus(mat, w - nd, neg)
    return Field(mat, lo, None)


def _fixed_point(u: npt.NDArray[np.uint64], neg: Bools, scale: int) -> tuple[Mat, I64, int]:
    """Right-aligned '[-]int.frac' of u / 10**scale with `scale` fraction digits; (matrix, starts, width
    of the integer part)."""
    n = len(u)
    ip, fp = np.divmod(u, np.uint64(10**scale))
    nd = ndigits(ip)
    groups = (int(nd.max()) + int(bool(neg.any())) + 3) // 4 if n else 1
    wi = 4 * groups
    mat = np.empty((n + 1, wi + 1 + scale), U8)[:n]  # spare row: see window_items
    put(mat, 0, digits_right(ip, groups).view(f"V{wi}")[:, 0])
    mat[:, wi] = 46
    fgroups = (scale + 3) // 4
    fmat = digits_right(fp, fgroups)
    tail = np.ndarray((n,), dtype=f"V{scale}", buffer=fmat, offset=4 * fgroups - scale, strides=(4 * fgroups,))
    put(mat, wi + 1, tail)
    return mat, place_minus(mat, wi - nd, neg), wi


def scaled_text(v: I64, scale: int) -> Field:
    """Fixed-point text of v / 10**scale with exactly `scale` fraction digits (numeric output)."""
    if scale <= 0:
        return int_text(v)
    u, neg = abs_u64(v)
    mat, lo, _ = _fixed_point(u, neg, scale)
    return Field(mat, lo, None)


_P10 = np.array([10.0**k for k in range(23)])


def float8_short(x: npt.NDArray[np.float64], max_decimals: int = 8) -> tuple[Field, Bools]:
    """Shortest round-trip text of doubles that have at most `max_decimals` decimals and |x| in
    [1e-4, 1e15) (PostgreSQL's fixed-notation range), with no per-value Python.

    The first k for which round(x * 10**k) / 10**k == x gives the shortest digits: a string with k
    decimals round-trips, and none with fewer decimals does (and at one magnitude, fewer decimals means
    fewer significant digits). Division by an exact power of ten is correctly rounded, so the check is
    exactly "this decimal parses back to x". Returns the field and which rows it covers; the others
    (zero's sign, infinities, NaN, long fractions, exponent range) are left to the caller."""
    with np.errstate(invalid="ignore", over="ignore"):
        n = len(x)
        a = np.abs(x)
        todo = ((a >= 1e-4) & (a < 1e15)) | ((x == 0) & ~np.signbit(x))
        ks = np.full(n, -1, np.int64)
        done = ~todo
        for k in range(max_decimals + 1):
            y = np.round(x * _P10[k])
            ok = (y / _P10[k] == x) & ~done
            ks[ok] = k
            done |= ok
            if done.all():
                break
        kmax = int(ks.max()) if n else 0
        # One scale for every row: exact while |x| * 10**kmax < 2**53 (then x * 10**kmax is within half
        # an ulp < 0.5 of the integer it stands for).
        covered = (ks >= 0) & (a * _P10[max(kmax, 0)] < 2.0**53)
        kmax = max(kmax, 0)
        big = np.round(np.where(covered, x, 0.0) * _P10[kmax]).astype(np.int64)
    if kmax == 0:
        return int_text(big), covered
    u, neg = abs_u64(big)
    mat, lo, wi = _fixed_point(u, neg, kmax)
    hi = np.where(ks > 0, wi + 1 + ks, wi)
    return Field(mat, lo, hi), covered


def civil(days: I64) -> tuple[I64, I64, I64]:
    """(year, month, day) of days since 1970-01-01, proleptic Gregorian (H. Hinnant's algorithm)."""
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = yoe + era * 400 + (m <= 2)
    return y, m, d


def date_in_range(days: I64) -> bool:
    """Whether every date prints as a plain YYYY-MM-DD (years 1..9999)."""
    return bool(len(days) == 0 or (days.min() >= -719162 and days.max() <= 2932896))


def write_date(mat: Mat, col: int, days: I64) -> None:
    if len(days) and days.min() >= _TABLE_FIRST_DAY and days.max() < _TABLE_FIRST_DAY + _TABLE_DAYS:
        put(mat, col, _day_table()[days - _TABLE_FIRST_DAY])
        return
    _write_date_arith(mat, col, days)


def _write_date_arith(mat: Mat, col: int, days: I64) -> None:
    n = len(days)
    y, m, d = civil(days)
    mat[:, col : col + 4] = T4[y].view(U8).reshape(n, 4)
    mat[:, col + 4] = 45
    mat[:, col + 5 : col + 7] = T2[m].view(U8).reshape(n, 2)
    mat[:, col + 7] = 45
    mat[:, col + 8 : col + 10] = T2[d].view(U8).reshape(n, 2)


def write_clock(mat: Mat, col: int, us: I64, width: int) -> I64 | None:
    """HH:MM:SS[.ffffff] of microseconds into the day at mat[:, col:]; returns per-row ends or None (fixed)."""
    n = len(us)
    secs, frac = np.divmod(us, 1_000_000)
    put(mat, col, _clock_table()[secs])
    if width <= 8:
        return None
    mat[:, col + 8] = 46
    hi4, lo2 = np.divmod(frac, 100)
    put(mat, col + 9, T4[hi4].view("V4"))
    put(mat, col + 13, T2[lo2].view("V2"))
    zeros = np.zeros(n, np.int64)
    for p in (10, 100, 1000, 10000, 100000):
        zeros += frac % p == 0
    return np.where(frac == 0, col + 8, col + 15 - zeros)


def clock_width(us: I64) -> int:
    return 8 if len(us) == 0 or not (us % 1_000_000).any() else 15


def date_text(days: I64) -> Field:
    mat = np.empty((len(days), 10), U8)
    write_date(mat, 0, days)
    return Field(mat)


def time_text(us: I64) -> Field:
    cw = clock_width(us)
    mat = np.empty((len(us), cw), U8)
    return Field(mat, None, write_clock(mat, 0, us, cw))


def timestamp_text(us: I64, offsets: I64 | None = None) -> Field:
    """'YYYY-MM-DD HH:MM:SS[.ffffff]' of local microseconds since 1970; with offsets (seconds east of UTC)
    the '+HH[:MM[:SS]]' suffix of timestamptz follows the fraction."""
    n = len(us)
    days, tod = np.divmod(us, US_PER_DAY)
    cw = clock_width(tod)
    suffix = _offset_suffix(offsets) if offsets is not None else None
    sw = suffix[0].shape[1] if suffix is not None else 0
    mat = np.empty((n, 11 + cw + sw), U8)
    write_date(mat, 0, days)
    mat[:, 10] = 32
    hi = write_clock(mat, 11, tod, cw)
    if suffix is None:
        return Field(mat, None, hi)
    smat, slen = suffix
    if hi is None:
        mat[:, 11 + cw :] = smat
        return Field(mat, None, None if bool((slen == sw).all()) else 11 + cw + slen)
    flat = mat.reshape(-1)
    base = np.arange(n, dtype=np.int64) * mat.shape[1] + hi
    for k in range(sw):
        rows = np.flatnonzero(slen > k)
        flat[base[rows] + k] = smat[rows, k]
    return Field(mat, None, hi + slen)


def _offset_suffix(offsets: I64) -> tuple[Mat, I64]:
    n = len(offsets)
    neg = offsets < 0
    a = np.abs(offsets)
    hh, rest = np.divmod(a, 3600)
    mm, ss = np.divmod(rest, 60)
    width = 9 if ss.any() else (6 if mm.any() else 3)
    mat = np.empty((n, width), U8)
    mat[:, 0] = np.where(neg, 45, 43)
    mat[:, 1:3] = T2[hh].view(U8).reshape(n, 2)
    if width > 3:
        mat[:, 3] = 58
        mat[:, 4:6] = T2[mm].view(U8).reshape(n, 2)
    if width > 6:
        mat[:, 6] = 58
        mat[:, 7:9] = T2[ss].view(U8).reshape(n, 2)
    slen = np.where(ss != 0, 9, np.where(mm != 0, 6, 3)).astype(np.int64)
    return mat, slen


def uuid_text(raw: Mat) -> Field:
    """Canonical 8-4-4-4-12 lowercase hex of (n, 16) bytes."""
    n = len(raw)
    hexed = HEX2[raw].view(U8).reshape(n, 32)
    mat = np.empty((n, 36), U8)
    mat[:, 0:8] = hexed[:, 0:8]
    mat[:, 9:13] = hexed[:, 8:12]
    mat[:, 14:18] = hexed[:, 12:16]
    mat[:, 19:23] = hexed[:, 16:20]
    mat[:, 24:36] = hexed[:, 20:32]
    mat[:, [8, 13, 18, 23]] = 45
    return Field(mat)


_NIBBLE = np.full(256, 255, np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _NIBBLE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _NIBBLE[_c] = 10 + _i


def uuid_parse(text: Mat) -> Mat | None:
    """(n, 16) bytes from (n, 36) canonical UUID text, or None when any row is not canonical."""
    if text.shape[1] != 36:
        return None
    if len(text) and not (text[:, [8, 13, 18, 23]] == 45).all():
        return None
    hexed = np.concatenate([text[:, 0:8], text[:, 9:13], text[:, 14:18], text[:, 19:23], text[:, 24:36]], axis=1)
    nib = _NIBBLE[hexed]
    if (nib == 255).any():
        return None
    out: Mat = (nib[:, 0::2] << 4) | nib[:, 1::2]
    return out


def numeric_binary(v: I64, scale: int) -> Field | None:
    """numeric_send of v / 10**scale (base-10000 digits, leading/trailing zero digits stripped);
    None when the values do not fit the vectorized path (scale > 16)."""
    if scale < 0 or scale > 16:
        return None
    n = len(v)
    u, neg = abs_u64(v)
    k = (scale + 3) // 4  # fraction groups
    ip, fp = np.divmod(u, np.uint64(10**scale))
    fp = fp * np.uint64(10 ** (4 * k - scale))
    gi = 1
    top = int(ip.max()) if n else 0
    while top >= 10000**gi:
        gi += 1
    g = gi + k
    # groups[:, j] = base-10000 digit j (most significant first); g zero columns after them let every
    # row read g digits starting at its first non-zero one.
    groups = np.zeros((n, 2 * g), np.int64)
    q = ip
    for j in range(gi - 1, -1, -1):
        q, r = np.divmod(q, np.uint64(10000))
        groups[:, j] = r
    q = fp
    for j in range(g - 1, gi - 1, -1):
        q, r = np.divmod(q, np.uint64(10000))
        groups[:, j] = r
    first = np.full(n, g, np.int64)
    last = np.full(n, -1, np.int64)
    for j in range(g):
        nz = groups[:, j] != 0
        first = np.where(nz & (first == g), j, first)
        last = np.where(nz, j, last)
    zero = last < 0
    first[zero] = 0
    ndig = np.where(zero, 0, last - first + 1)
    out = np.zeros(n, np.dtype([("h", ">i2", (4,)), ("d", ">i2", (g,))]))
    out["h"][:, 0] = ndig
    out["h"][:, 1] = np.where(zero, 0, gi - 1 - first)
    out["h"][:, 2] = np.where(neg & ~zero, 0x4000, 0)
    out["h"][:, 3] = scale
    flat = groups.reshape(-1)
    start = np.arange(n, dtype=np.int64) * (2 * g) + first
    for j in range(g):
        out["d"][:, j] = flat[start + j]
    mat = out.view(U8).reshape(n, 8 + 2 * g)
    return Field(mat, None, 8 + 2 * ndig)


def fixed_be(v: npt.NDArray[np.generic], dtype: str) -> Field:
    arr = np.ascontiguousarray(v.astype(dtype))
    return Field(arr.view(U8).reshape(len(v), arr.dtype.itemsize))


def var_matrix(offsets: npt.NDArray[np.int64], data: Mat, prefix: bytes = b"") -> Field:
    """Pad variable-length values (Arrow offsets + data) into a left-aligned matrix by scatter."""
    n = len(offsets) - 1
    lens = np.diff(offsets)
    p = len(prefix)
    w = int(lens.max()) + p if n else p
    mat = np.zeros((n, w), U8)
    if p:
        mat[:, :p] = np.frombuffer(prefix, U8)
    total = int(offsets[-1] - offsets[0]) if n else 0
    if total:
        dst = np.repeat(np.arange(n, dtype=np.int64) * w + p - (offsets[:-1] - offsets[0]), lens)
        dst += np.arange(total, dtype=np.int64)
        mat.reshape(-1)[dst] = data[offsets[0] : offsets[-1]]
    return Field(mat, None, lens + p)
