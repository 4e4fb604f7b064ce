"""Compiled COPY TO writers: DataRow messages (as rowenc.py writes them) → CopyData messages, one per row.

Why from DataRows: a value's COPY text is its text output function's result, which is exactly what a text DataRow
carries, and a binary COPY tuple is byte for byte the body of a binary DataRow. So the result pipeline's fast
encoder does the formatting, and these loops only frame, escape and quote, in one pass over the bytes. Imported
lazily by copyfmt.py (numba); it has a Python implementation of the same rules to fall back on.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Text format: control characters written as backslash escapes (\b \f \n \r \t \v); 0 = written as they are.
TEXT_ESCAPES = np.zeros(32, np.uint8)
for _c, _e in ((8, "b"), (12, "f"), (10, "n"), (13, "r"), (9, "t"), (11, "v")):
    TEXT_ESCAPES[_c] = ord(_e)


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _u32(src: np.ndarray, p: int) -> int:
    """The big-endian unsigned 32-bit word at src[p] (a message or field length; -1 reads as 0xFFFFFFFF)."""
    return int((np.int64(src[p]) << 24) | (np.int64(src[p + 1]) << 16) | (np.int64(src[p + 2]) << 8) | src[p + 3])


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _u16(src: np.ndarray, p: int) -> int:
    """The big-endian unsigned 16-bit word at src[p]."""
    return int((np.int64(src[p]) << 8) | src[p + 1])


@njit(cache=True, nogil=True, boundscheck=False)
def text_rows(src: np.ndarray, out: np.ndarray, csv: bool, delim: int, null: np.ndarray, quote: int, escape: int,
              force: np.ndarray, escapes: np.ndarray) -> tuple[int, int]:
    """Every DataRow of `src` as a CopyData line in `out` (sized by the caller: at most twice `src` plus the NULL
    strings); returns (bytes written, rows)."""
    p = 0
    o = 0
    rows = 0
    n = src.shape[0]
    nnull = null.shape[0]
    while p < n:
        length = _u32(src, p + 1)
        nf = _u16(src, p + 5)
        q = p + 7
        start = o
        out[o] = 100  # 'd'
        o += 5
        for k in range(nf):
            if k:
                out[o] = delim
                o += 1
            L = _u32(src, q)
            q += 4
            if L >= 0x80000000:  # -1: NULL
                for i in range(nnull):
                    out[o + i] = null[i]
                o += nnull
                continue
            end = q + L
            if not csv:
                for i in range(q, end):
                    c = src[i]
                    e = 0  # the byte written after a backslash, if this one is escaped
                    if c < 32:
                        e = escapes[c]
                        if e == 0 and c == delim:
                            e = c
                    elif c == 92 or c == delim:
                        e = c
                    if e != 0:
                        out[o] = 92
                        out[o + 1] = e
                        o += 2
                    else:
                        out[o] = c
                        o += 1
            else:
                use = force[k] != 0
                if not use and nnull == L:  # a value that reads as the NULL string is quoted
                    same = True
                    for i in range(nnull):
                        if src[q + i] != null[i]:
                            same = False
                            break
                    use = same
                if not use and nf == 1 and L == 2 and src[q] == 92 and src[q + 1] == 46:  # \. alone on a line
                    use = True
                if not use:
                    for i in range(q, end):
                        c = src[i]
                        if c == delim or c == quote or c == 10 or c == 13:  # noqa: SIM109 (numba)
                            use = True
                            break
                if use:
                    out[o] = quote
                    o += 1
                    for i in range(q, end):
                        c = src[i]
                        if c == quote or c == escape:  # noqa: SIM109 (numba)
                            out[o] = escape
                            o += 1
                        out[o] = c
                        o += 1
                    out[o] = quote
                    o += 1
                else:
                    for i in range(q, end):
                        out[o] = src[i]
                        o += 1
            q = end
        out[o] = 10
        o += 1
        size = o - start - 1
        out[start + 1] = (size >> 24) & 255
        out[start + 2] = (size >> 16) & 255
        out[start + 3] = (size >> 8) & 255
        out[start + 4] = size & 255
        p += 1 + length
        rows += 1
    return o, rows


@njit(cache=True, nogil=True, boundscheck=False)
def binary_rows(src: np.ndarray, out: np.ndarray, o: int) -> tuple[int, int]:
    """Binary DataRows of `src` as CopyData tuples written into `out` from offset `o`: the same bytes with the
    message type changed; returns (end offset, rows)."""
    n = src.shape[0]
    out[o:o + n] = src
    p = 0
    rows = 0
    while p < n:
        out[o + p] = 100  # 'd'
        length = _u32(src, p + 1)
        p += 1 + length
        rows += 1
    return o + n, rows


@njit(cache=True, nogil=True, boundscheck=False)
def binary_fields(src: np.ndarray, pos: int, ncols: int, offs: np.ndarray, lens: np.ndarray) -> tuple[int, int, int]:
    """Binary COPY tuples of `src` from `pos`: each field's offset and length (-1: NULL) into offs / lens, row by row,
    up to the trailer, a tuple not wholly in `src` yet, or the rows' capacity. Returns (offset after the last whole
    tuple, tuples, status): status 0 more may follow, 1 the trailer was read, else a tuple's field count (not
    `ncols`: the caller reports it)."""
    n = src.shape[0]
    rows = 0
    cap = offs.shape[0]
    while rows < cap and n - pos >= 2:
        nf = _u16(src, pos)
        if nf == 0xFFFF:
            return pos + 2, rows, 1
        if nf != ncols:
            return pos, rows, 2 + nf
        p = pos + 2
        whole = True
        for k in range(ncols):
            if n - p < 4:
                whole = False
                break
            size = _u32(src, p)
            p += 4
            if size >= 0x80000000:
                offs[rows, k] = p
                lens[rows, k] = -1
                continue
            if n - p < size:
                whole = False
                break
            offs[rows, k] = p
            lens[rows, k] = size
            p += size
        if not whole:
            break
        pos = p
        rows += 1
    return pos, rows, 0


@njit(cache=True, nogil=True, boundscheck=False)
def gather(src: np.ndarray, offs: np.ndarray, lens: np.ndarray, out_offsets: np.ndarray, out: np.ndarray) -> None:
    """Copy each value src[offs[i]:offs[i]+lens[i]] (lens < 0: NULL, nothing) after the previous one into `out`,
    with Arrow's offsets (out_offsets[i]..out_offsets[i+1])."""
    o = 0
    for i in range(offs.shape[0]):
        out_offsets[i] = o
        size = lens[i]
        if size > 0:
            start = offs[i]
            for j in range(size):
                out[o + j] = src[start + j]
            o += size
    out_offsets[offs.shape[0]] = o


@njit(cache=True, nogil=True, boundscheck=False)
def numeric_fields(src: np.ndarray, offs: np.ndarray, lens: np.ndarray, unscaled: np.ndarray) -> int:
    """Binary numerics (numeric_send: ndigits, weight, sign, dscale, base-10000 digits) as int64 values unscaled to
    the column's largest dscale, which is returned; -1 when a value is NaN/infinite or does not fit an int64 there
    (the caller then decodes the column value by value)."""
    n = offs.shape[0]
    scale = 0
    for i in range(n):
        if lens[i] < 0:
            continue
        p = offs[i]
        dscale = _u16(src, p + 6)
        if dscale > scale:
            scale = dscale
    if scale > 18:
        return -1
    for i in range(n):
        if lens[i] < 0:
            unscaled[i] = 0
            continue
        p = offs[i]
        ndigits = _u16(src, p)
        weight = _u16(src, p + 2)
        if weight >= 0x8000:
            weight -= 0x10000
        sign = _u16(src, p + 4)
        if sign != 0 and sign != 0x4000:  # NaN, +/-Infinity
            return -1
        if lens[i] != 8 + 2 * ndigits:
            return -1
        mant = np.int64(0)
        for d in range(ndigits):
            digit = _u16(src, p + 8 + 2 * d)
            if mant > 922337203685477:  # mant * 10000 would overflow
                return -1
            mant = mant * 10000 + digit
        exp10 = 4 * (weight - ndigits + 1) + scale
        if exp10 >= 0:
            for _ in range(exp10):
                if mant > 922337203685477580 or mant < -922337203685477580:
                    return -1
                mant *= 10
        else:
            for _ in range(-exp10):
                if mant % 10 != 0:
                    return -1
                mant //= 10
        unscaled[i] = -mant if sign == 0x4000 else mant
    return scale
