"""Compiled DataRow writer: one pass over the rows of a chunk, formatting and framing every value.

Why: numpy renders a column in a few passes, but cutting rows out of padded matrices and laying
length words between them costs more than the formatting (one filter over ~10 elements per row).
A loop compiled by numba writes each row's header, length words and values straight into the
output buffer, formatting integers, fixed-point numerics, dates, timestamps and booleans itself
(PostgreSQL's text output for the ranges the caller checked) and copying the bytes of any other
column that numpy or pyarrow rendered first. Imported lazily by rowenc.py; without numba the
numpy assembler there is used instead.

Column kinds (`kinds[k]`, with `params[k]`) and what `vals[r, k]` holds:
  BYTES  copy lens[r, k] bytes of `buf` from offset vals[r, k]
  INT    signed integer, decimal text
  DEC    unscaled integer, text with params[k] (>= 1) fraction digits
  DATE   days since 1970-01-01, 'YYYY-MM-DD' (years 1..9999)
  TS     microseconds since 1970-01-01 00:00, 'YYYY-MM-DD HH:MM:SS[.ffffff]' (years 1..9999)
  BOOL   0/1 as 'f'/'t'
  BE     the low params[k] bytes of the value, big-endian (binary ints, floats' bits, dates, timestamps)
  FLT    a double as float_scales() splits it: lens[r, k] >= 0 is its number of decimals and vals[r, k]
         the value times 10**decimals; -1 takes the next text of the column's fallback stream in `buf`
         (from offset params[k]: one length byte, then the text, for each such row in order)
  NUMB   unscaled integer (not -2**63), numeric_send with params[k] (0..16) fraction digits
`nulls[r, k]` != 0 sends NULL (length -1) whatever the kind.
"""

from __future__ import annotations

import numpy as np
from numba import njit

BYTES, INT, DEC, DATE, TS, BOOL, BE, FLT, NUMB = range(9)

# Widest text each kind can produce (the caller sizes the output buffer from these).
MAX_WIDTH = {INT: 20, DATE: 10, TS: 26, BOOL: 1}

_D2 = np.frombuffer(b"".join(b"%02d" % i for i in range(100)), np.uint8).copy()
_D4 = np.frombuffer(b"".join(b"%04d" % i for i in range(10000)), np.uint8).copy()
_P10 = np.array([10**i for i in range(19)], np.int64)
_MIN_INT64 = np.frombuffer(b"-9223372036854775808", np.uint8).copy()
_US_PER_DAY = 86_400_000_000
_P10F = np.array([10.0**i for i in range(23)], np.float64)
TABLE_FIRST_DAY = -25567  # 1900-01-01: the caller's day table holds 'YYYY-MM-DD' from here on


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _ndigits(u: int) -> int:
    if u < 10000:
        if u < 100:
            return 1 if u < 10 else 2
        return 3 if u < 1000 else 4
    if u < 100000000:
        if u < 1000000:
            return 5 if u < 100000 else 6
        return 7 if u < 10000000 else 8
    nd = 9
    while nd < 19 and u >= _P10[nd]:
        nd += 1
    return nd


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _digits(out: np.ndarray, end: int, u: int, nd: int) -> None:
    """The nd lowest decimal digits of u (>= 0), zero-padded, ending just before out[end]."""
    q = end
    start = end - nd
    x = np.uint64(u)
    while q - start >= 4:
        nx = x // np.uint64(10000)
        r = np.int64(x - nx * np.uint64(10000)) * 4
        x = nx
        q -= 4
        out[q] = _D4[r]
        out[q + 1] = _D4[r + 1]
        out[q + 2] = _D4[r + 2]
        out[q + 3] = _D4[r + 3]
    left = q - start
    if left:
        r = np.int64(x) * 4 + 4 - left
        for j in range(left):
            out[start + j] = _D4[r + j]


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _date(out: np.ndarray, p: int, days: int, table: np.ndarray) -> None:
    """'YYYY-MM-DD' at out[p:p+10]: from the table where it reaches, else computed."""
    i = days - TABLE_FIRST_DAY
    if 0 <= i < len(table) // 10:
        i *= 10
        for j in range(10):
            out[p + j] = table[i + j]
        return
    _civil(out, p, days)


@njit(cache=True, nogil=True, boundscheck=False)
def _civil(out: np.ndarray, p: int, days: int) -> None:
    """'YYYY-MM-DD' at out[p:p+10] (proleptic Gregorian, H. Hinnant's civil_from_days)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    _digits(out, p + 4, y, 4)
    out[p + 4] = 45
    out[p + 5] = _D2[2 * m]
    out[p + 6] = _D2[2 * m + 1]
    out[p + 7] = 45
    out[p + 8] = _D2[2 * d]
    out[p + 9] = _D2[2 * d + 1]


@njit(cache=True, nogil=True, boundscheck=False)
def _numeric_send(out: np.ndarray, p: int, v: int, scale: int, groups: np.ndarray) -> int:
    """PostgreSQL's binary numeric of v / 10**scale at out[p:]: ndigits, weight, sign, dscale, then the
    base-10000 digits without leading or trailing zero groups; returns the new end."""
    neg = v < 0
    u = -v if neg else v
    ip = u // _P10[scale]
    fp = u - ip * _P10[scale]
    ni = 0
    t = ip
    while t > 0:
        ni += 1
        t //= 10000
    t = ip
    for j in range(ni - 1, -1, -1):
        groups[j] = t % 10000
        t //= 10000
    nf = (scale + 3) // 4
    t = fp * _P10[4 * nf - scale]
    for j in range(ni + nf - 1, ni - 1, -1):
        groups[j] = t % 10000
        t //= 10000
    total = ni + nf
    first = 0
    while first < total and groups[first] == 0:
        first += 1
    ndig = 0
    weight = 0
    sign = 0
    if first < total:
        last = total - 1
        while groups[last] == 0:
            last -= 1
        ndig = last - first + 1
        weight = ni - 1 - first
        sign = 0x4000 if neg else 0
    out[p] = (ndig >> 8) & 255
    out[p + 1] = ndig & 255
    out[p + 2] = (weight >> 8) & 255
    out[p + 3] = weight & 255
    out[p + 4] = (sign >> 8) & 255
    out[p + 5] = sign & 255
    out[p + 6] = (scale >> 8) & 255
    out[p + 7] = scale & 255
    p += 8
    for j in range(first, first + ndig):
        g = groups[j]
        out[p] = (g >> 8) & 255
        out[p + 1] = g & 255
        p += 2
    return p


@njit(cache=True, nogil=True, boundscheck=False)
def encode_rows(kinds: np.ndarray, params: np.ndarray, vals: np.ndarray, lens: np.ndarray, nulls: np.ndarray,
                buf: np.ndarray, table: np.ndarray, out: np.ndarray, start: int, cursor: np.ndarray,
                lo: int, hi: int) -> int:
    """DataRow messages for rows lo..hi-1 into `out` from offset `start`; returns the end offset.

    `cursor` starts as a copy of `params` and carries the FLT columns' read positions in `buf` from one
    row range to the next, so a chunk can be written in pieces. `out` must hold the largest possible
    output plus 8 bytes of slack, `buf` 8 bytes past its last value (BYTES values are copied in 8-byte
    steps)."""
    ncols = vals.shape[1]
    groups = np.zeros(16, np.int64)
    p = start
    for r in range(lo, hi):
        row = p
        out[p] = 68
        out[p + 5] = (ncols >> 8) & 255
        out[p + 6] = ncols & 255
        p += 7
        for k in range(ncols):
            if nulls[r, k]:
                out[p] = 255
                out[p + 1] = 255
                out[p + 2] = 255
                out[p + 3] = 255
                p += 4
                continue
            word = p
            p += 4
            kind = kinds[k]
            v = vals[r, k]
            if kind == FLT:
                scale = lens[r, k]
                if scale < 0:
                    c = cursor[k]
                    ln = buf[c]
                    for j in range(ln):
                        out[p + j] = buf[c + 1 + j]
                    cursor[k] = c + 1 + ln
                    p += ln
                    kind = -1
                else:
                    kind = INT if scale == 0 else DEC
            if kind == BYTES:
                ln = lens[r, k]
                for j in range(0, ln, 8):
                    b0 = buf[v + j]
                    b1 = buf[v + j + 1]
                    b2 = buf[v + j + 2]
                    b3 = buf[v + j + 3]
                    b4 = buf[v + j + 4]
                    b5 = buf[v + j + 5]
                    b6 = buf[v + j + 6]
                    b7 = buf[v + j + 7]
                    out[p + j] = b0
                    out[p + j + 1] = b1
                    out[p + j + 2] = b2
                    out[p + j + 3] = b3
                    out[p + j + 4] = b4
                    out[p + j + 5] = b5
                    out[p + j + 6] = b6
                    out[p + j + 7] = b7
                p += ln
            elif kind in (INT, DEC):
                if v < 0:
                    if v == -9223372036854775807 - 1 and kind == INT:
                        for j in range(20):
                            out[p + j] = _MIN_INT64[j]
                        p += 20
                        v = 0
                        kind = -1
                    else:
                        out[p] = 45
                        p += 1
                        v = -v
                if kind == INT:
                    nd = _ndigits(v)
                    _digits(out, p + nd, v, nd)
                    p += nd
                elif kind == DEC:
                    scale = params[k] if kinds[k] == DEC else lens[r, k]
                    ip = v // _P10[scale]
                    nd = _ndigits(ip)
                    _digits(out, p + nd, ip, nd)
                    p += nd
                    out[p] = 46
                    _digits(out, p + 1 + scale, v - ip * _P10[scale], scale)
                    p += 1 + scale
            elif kind == DATE:
                _date(out, p, v, table)
                p += 10
            elif kind == TS:
                days = v // _US_PER_DAY
                tod = v - days * _US_PER_DAY
                _date(out, p, days, table)
                out[p + 10] = 32
                secs = tod // 1_000_000
                frac = tod - secs * 1_000_000
                hh = secs // 3600
                mm = (secs // 60) % 60
                ss = secs % 60
                out[p + 11] = _D2[2 * hh]
                out[p + 12] = _D2[2 * hh + 1]
                out[p + 13] = 58
                out[p + 14] = _D2[2 * mm]
                out[p + 15] = _D2[2 * mm + 1]
                out[p + 16] = 58
                out[p + 17] = _D2[2 * ss]
                out[p + 18] = _D2[2 * ss + 1]
                p += 19
                if frac:
                    out[p] = 46
                    _digits(out, p + 7, frac, 6)
                    nd = 6
                    while frac % 10 == 0:
                        frac //= 10
                        nd -= 1
                    p += 1 + nd
            elif kind == BOOL:
                out[p] = 116 if v else 102
                p += 1
            elif kind == NUMB:
                p = _numeric_send(out, p, v, params[k], groups)
            elif kind == BE:
                width = params[k]
                if width == 8:
                    out[p] = (v >> 56) & 255
                    out[p + 1] = (v >> 48) & 255
                    out[p + 2] = (v >> 40) & 255
                    out[p + 3] = (v >> 32) & 255
                    out[p + 4] = (v >> 24) & 255
                    out[p + 5] = (v >> 16) & 255
                    out[p + 6] = (v >> 8) & 255
                    out[p + 7] = v & 255
                elif width == 4:
                    out[p] = (v >> 24) & 255
                    out[p + 1] = (v >> 16) & 255
                    out[p + 2] = (v >> 8) & 255
                    out[p + 3] = v & 255
                elif width == 2:
                    out[p] = (v >> 8) & 255
                    out[p + 1] = v & 255
                else:
                    out[p] = v & 255
                p += width
            ln = p - word - 4
            out[word] = (ln >> 24) & 255
            out[word + 1] = (ln >> 16) & 255
            out[word + 2] = (ln >> 8) & 255
            out[word + 3] = ln & 255
        total = p - row - 1
        out[row + 1] = (total >> 24) & 255
        out[row + 2] = (total >> 16) & 255
        out[row + 3] = (total >> 8) & 255
        out[row + 4] = total & 255
    return p


@njit(cache=True, nogil=True, boundscheck=False)
def float_scales(x: np.ndarray, null: np.ndarray, max_decimals: int, ys: np.ndarray, ks: np.ndarray) -> int:
    """Split doubles for FLT: the fewest decimals k <= max_decimals with which round(x * 10**k) / 10**k == x
    (so that decimal parses back to x, and none shorter does: PostgreSQL's shortest round-trip output) and
    |x| in [1e-4, 1e15), PostgreSQL's fixed-notation range. Division by an exact power of ten is correctly
    rounded and |y| < 2**53 keeps y exact, so the check is exact. ks[r] = -1 where it does not apply (zero's
    sign, infinities, NaN, long fractions, exponent form); returns how many rows that is."""
    misses = 0
    for r in range(len(x)):
        ks[r] = 0
        ys[r] = 0
        if null[r]:
            continue
        v = x[r]
        a = abs(v)
        if not ((a >= 1e-4 and a < 1e15) or (v == 0 and not np.signbit(v))):
            ks[r] = -1
            misses += 1
            continue
        found = -1
        for k in range(max_decimals + 1):
            y = np.rint(v * _P10F[k])
            if y / _P10F[k] == v:
                if abs(y) < 9007199254740992.0:
                    found = k
                    ys[r] = np.int64(y)
                break
        ks[r] = found
        if found < 0:
            misses += 1
    return misses
