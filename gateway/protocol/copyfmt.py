"""COPY TO STDOUT on the wire: CopyOutResponse, one CopyData message per row in PostgreSQL's text, CSV or binary
COPY format, and the binary trailer, made from the DataRow messages the row encoder writes.

A text COPY value is its type's text output with COPY's escapes (text) or quoting (CSV); a binary COPY tuple is
the body of a binary DataRow. So rowenc.RowEncoder formats the values and this module only reframes its output:
in one compiled pass (copykern.py) for large batches, in Python for small ones, for a non-UTF8 ENCODING, and
while the compiled pass is still loading.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

import numpy as np

from gateway.protocol import messages as m
from gateway.protocol.codec import COPY_DONE, BackendDecoder, encode_backend
from gateway.protocol.rowenc import KernelLoader
from virtual_schema import errors as E
from virtual_schema.errors import PgError

BINARY_MAGIC = b"PGCOPY\n\xff\r\n\x00"  # a binary COPY file's first 11 bytes
BINARY_SIGNATURE = BINARY_MAGIC + bytes(8)  # then the flags and the header extension's length, both zero
BINARY_TRAILER = b"\xff\xff"
KERNEL_MIN_BYTES = 64 * 1024  # below this the Python path is as quick as calling the compiled one
_I32 = struct.Struct("!i")
_TEXT_ESCAPES = {8: b"\\b", 12: b"\\f", 10: b"\\n", 13: b"\\r", 9: b"\\t", 11: b"\\v"}


def _warm(kern: ModuleType) -> None:
    one = np.frombuffer(b"D\x00\x00\x00\x0a\x00\x01\x00\x00\x00\x00", np.uint8)
    out = np.zeros(64, np.uint8)
    for csv in (False, True):
        kern.text_rows(one, out, csv, 9, np.zeros(2, np.uint8), 34, 34, np.zeros(1, np.uint8), kern.TEXT_ESCAPES)
    kern.binary_rows(one, out, 0)
    offs, lens = np.zeros((1, 1), np.int64), np.zeros((1, 1), np.int64)
    kern.binary_fields(one, 0, 1, offs, lens)
    kern.gather(one, offs[:, 0], lens[:, 0], np.zeros(2, np.int64), out)
    kern.numeric_fields(one, offs[:, 0], np.full(1, -1, np.int64), np.zeros(1, np.int64))


LOADER = KernelLoader("gateway.protocol.copykern", _warm)


@dataclass(frozen=True, slots=True)
class CopyFormat:
    """How rows are written: the checked COPY options, as bytes."""

    kind: Literal["text", "csv", "binary"]
    delimiter: bytes = b"\t"
    null: bytes = b"\\N"
    quote: bytes = b'"'
    escape: bytes = b'"'
    force: tuple[bool, ...] = ()  # CSV FORCE_QUOTE, per column
    header: bool = False
    encoding: str | None = None  # Python codec the lines are converted to (None: UTF8 as they are)
    encoding_name: str = "UTF8"  # PostgreSQL's name for it, for errors


def copy_out_response(kind: str, ncols: int) -> bytes:
    """CopyOutResponse: the overall format (0 text, 1 binary) and every column's."""
    fmt = 1 if kind == "binary" else 0
    return encode_backend(m.CopyOutResponse(fmt, (fmt,) * ncols))


def _copy_data(payload: bytes) -> bytes:
    return encode_backend(m.CopyData(payload))


class CopyWriter:
    """The CopyData messages of one COPY TO, batch by batch (begin, rows…, end)."""

    def __init__(self, fmt: CopyFormat, names: Sequence[str], *, use_kernel: bool = True) -> None:
        self.fmt = fmt
        self.names = list(names)
        self.ncols = len(self.names)
        self.use_kernel = use_kernel and fmt.encoding is None
        self._signed = False  # binary: the signature went out (with the first row)
        d = fmt.delimiter[0]
        specials = {**_TEXT_ESCAPES, 92: b"\\\\"}
        specials.setdefault(d, b"\\" + fmt.delimiter)
        self._text_subs = {bytes([k]): v for k, v in specials.items()}
        self._text_needs = re.compile(b"[" + b"".join(re.escape(bytes([k])) for k in specials) + b"]")
        self._csv_needs = re.compile(b"[" + b"".join(re.escape(c) for c in {fmt.delimiter, fmt.quote, b"\n", b"\r"})
                                     + b"]")
        self._csv_escapes = re.compile(b"[" + b"".join(re.escape(c) for c in {fmt.quote, fmt.escape}) + b"]")
        self._force = np.array([1 if f else 0 for f in (fmt.force or (False,) * self.ncols)], np.uint8)
        self._null = np.frombuffer(fmt.null, np.uint8)

    # -------------------------------------------------------------------------------------------- framing

    def begin(self) -> bytes:
        """CopyOutResponse, and the header line when HEADER was asked for."""
        out = copy_out_response(self.fmt.kind, self.ncols)
        if self.fmt.header:
            values = [self._text(n.encode()) if self.fmt.kind == "text" else self._csv(n.encode(), False)
                      for n in self.names]
            out += _copy_data(self._encode(self.fmt.delimiter.join(values) + b"\n"))
        return out

    def end(self) -> bytes:
        """Binary: the trailer (after the signature when no row carried it); then CopyDone."""
        if self.fmt.kind != "binary":
            return COPY_DONE
        trailer = BINARY_TRAILER if self._signed else BINARY_SIGNATURE + BINARY_TRAILER
        self._signed = True
        return _copy_data(trailer) + COPY_DONE

    def rows(self, datarows: bytes | memoryview) -> bytes | memoryview:
        """The CopyData messages of a run of DataRow messages (text DataRows for text and CSV, binary ones for
        binary), in the same order."""
        if not len(datarows):
            return b""
        kern = LOADER.get(load=len(datarows) >= KERNEL_MIN_BYTES) if self.use_kernel else None
        if self.fmt.kind == "binary":
            return self._binary(datarows, kern)
        if kern is not None:
            src = np.frombuffer(datarows, np.uint8)
            out = np.empty(2 * len(src) + (src.size // 7 + 1) * self.ncols * len(self.fmt.null) + 16, np.uint8)
            size, _ = kern.text_rows(src, out, self.fmt.kind == "csv", self.fmt.delimiter[0], self._null,
                                     self.fmt.quote[0], self.fmt.escape[0], self._force, kern.TEXT_ESCAPES)
            view: memoryview = out[:size].data
            return view
        rows = BackendDecoder().feed(bytes(datarows))  # the DataRows just written: the project's own decoder
        return b"".join(_copy_data(self._encode(self._line(row.values))) for row in rows
                        if isinstance(row, m.DataRow))

    def _binary(self, datarows: bytes | memoryview, kern: ModuleType | None) -> bytes | memoryview:
        src = memoryview(datarows).cast("B")
        first = b""
        if not self._signed:  # PostgreSQL sends the signature in the first row's CopyData
            self._signed = True
            length = _I32.unpack_from(src, 1)[0]
            first = _copy_data(BINARY_SIGNATURE + bytes(src[5 : 1 + length]))
            src = src[1 + length :]
        if kern is not None and len(src):
            arr = np.frombuffer(src, np.uint8)
            out = np.empty(len(first) + len(arr), np.uint8)
            out[: len(first)] = np.frombuffer(first, np.uint8)
            kern.binary_rows(arr, out, len(first))
            view: memoryview = out.data
            return view
        parts = [first]
        pos = 0
        while pos < len(src):
            length = _I32.unpack_from(src, pos + 1)[0]
            parts.append(b"d" + bytes(src[pos + 1 : pos + 1 + length]))
            pos += 1 + length
        return b"".join(parts)

    # ---------------------------------------------------------------------------------------- the rules

    def _line(self, values: Sequence[bytes | None]) -> bytes:
        null = self.fmt.null
        if self.fmt.kind == "text":
            cells = [null if v is None else self._text(v) for v in values]
        else:
            cells = [null if v is None else self._csv(v, bool(self._force[k]) if k < len(self._force) else False)
                     for k, v in enumerate(values)]
        return self.fmt.delimiter.join(cells) + b"\n"

    def _text(self, v: bytes) -> bytes:
        """Text format: backslash, the delimiter and \\b \\f \\n \\r \\t \\v escaped; other bytes as they are."""
        if not self._text_needs.search(v):
            return v
        subs = self._text_subs
        return self._text_needs.sub(lambda m: subs[m.group()], v)

    def _csv(self, v: bytes, force: bool) -> bytes:
        """CSV: quoted when forced, when it reads as the NULL string, when it is `\\.` alone on its line, or when
        it holds the delimiter, the quote or a line break; inside quotes the quote and escape characters are
        escaped."""
        f = self.fmt
        use = force or v == f.null or (self.ncols == 1 and v == b"\\.") or bool(self._csv_needs.search(v))
        if not use:
            return v
        return f.quote + self._csv_escapes.sub(lambda m: f.escape + m.group(), v) + f.quote

    def _encode(self, line: bytes) -> bytes:
        """The line in the ENCODING asked for (22P05 for a character it cannot hold, as PostgreSQL)."""
        if self.fmt.encoding is None:
            return line
        text = line.decode("utf-8")
        try:
            return text.encode(self.fmt.encoding)
        except UnicodeEncodeError as e:
            seq = " ".join(f"0x{b:02x}" for b in text[e.start].encode("utf-8"))
            raise PgError(E.UNTRANSLATABLE_CHARACTER, f'character with byte sequence {seq} in encoding "UTF8" has '
                          f'no equivalent in encoding "{self.fmt.encoding_name}"') from None
