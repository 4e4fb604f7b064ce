"""COPY FROM STDIN data → Arrow record batches, by PostgreSQL's rules for the text, CSV and binary formats.

The client's CopyData messages split the stream anywhere; CopyReader takes them as they come and hands out
record batches of whole rows: from text and CSV every column a string (NULL where COPY says NULL), which the
catalog engine casts to the table's declared types when it inserts them, as PostgreSQL's input functions would;
from binary data the values each column's receive rules decode.

Text format: one row per line, the delimiter between columns, `\\N` (the NULL string, matched before escapes
are read) for NULL, backslash escapes (\\b \\f \\n \\r \\t \\v, octal \\ooo, hex \\xhh, any other character
stands for itself), `\\.` alone on a line ends the data. CSV: pyarrow's CSV parser (quotes, the escape
character, line breaks inside quotes); an unquoted NULL string is NULL, a quoted one is text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from gateway.protocol import pgvalue as pv
from gateway.protocol.copyfmt import BINARY_MAGIC, LOADER
from gateway.protocol.params import decode_binary
from virtual_schema import errors as E
from virtual_schema import pgtypes as t
from virtual_schema.errors import PgError

BATCH_ROWS = 65536
PARSE_BYTES = 1 << 20  # text data is parsed once this much has arrived (and at CopyDone)
_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)", re.DOTALL)
_LETTERS = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def _unescape(m: re.Match[bytes]) -> bytes:
    e = m.group(1)
    if e in _LETTERS:
        return _LETTERS[e]
    if e[:1] == b"x" and len(e) > 1:
        return bytes([int(e[1:], 16)])
    if e[:1].isdigit() and e[:1] < b"8":
        return bytes([int(e, 8) & 0xFF])
    return e


class CopyReader:
    """Accumulates COPY FROM data and yields batches of parsed rows: feed() each CopyData (cheap), take() the whole
    rows once feed() says so, finish() at CopyDone. Parsing is CPU work the caller can run off the event loop."""

    def __init__(self, kind: str, names: Sequence[str], table: str, *, delimiter: bytes, null: bytes,
                 header: bool, quote: bytes = b'"', escape: bytes = b'"', type_oids: Sequence[int] = ()) -> None:
        self.kind = kind
        self.names = list(names)
        self.table = table
        self.delimiter = delimiter
        self.null = null
        self.skip_header = header
        self.quote = quote
        self.escape = escape
        self.line = 0  # lines read, for errors' CONTEXT
        self.ended = False  # `\.` seen: the rest of the data is ignored
        self._buf = bytearray()
        self._rows: list[list[object]] = []  # text (str | None), or decoded binary values
        self._lines: list[int] = []  # each pending row's line number
        self._split = re.compile(rb"\\.|" + re.escape(delimiter), re.DOTALL)
        self._oids = list(type_oids)  # binary: how each column's values are decoded
        self._signed = False  # binary: the file header was read

    # ------------------------------------------------------------------------------------------ feeding

    def feed(self, data: bytes) -> bool:
        """Take one CopyData message (clients send as little as a line each, psql does); True once enough has
        arrived to be worth parsing (take())."""
        if not self.ended:
            self._buf += data
        return self.kind != "csv" and len(self._buf) >= PARSE_BYTES

    def take(self) -> list[tuple[pa.RecordBatch, list[int]]]:
        """The rows of the data received so far that are whole, as batches with their rows' line numbers (CSV waits
        for finish(): its rows may span lines inside quotes)."""
        if self.ended or self.kind == "csv":
            return []
        if self.kind == "binary":
            return self._binary_tuples()
        end = self._buf.rfind(b"\n")
        if end < 0:
            return []
        chunk = bytes(self._buf[: end + 1])
        del self._buf[: end + 1]
        return self._text_chunk(chunk, final=False)

    def _text_chunk(self, chunk: bytes, final: bool) -> list[tuple[pa.RecordBatch, list[int]]]:
        """Whole lines of text-format data: read by pyarrow when nothing in them needs COPY's own rules (no
        backslash, no carriage return, no header left to skip), else line by line."""
        if not self.skip_header and b"\\" not in chunk and b"\r" not in chunk:
            fast = self._text_plain(chunk)
            if fast is not None:
                return self._ready(True) + fast
        self._text_lines(chunk)
        return self._ready(final)

    def _text_plain(self, chunk: bytes) -> list[tuple[pa.RecordBatch, list[int]]] | None:
        """Lines without escapes split at the delimiter by pyarrow's CSV reader with quoting off; None when a line
        has the wrong number of fields or is not UTF-8 (the line-by-line path then reports it as PostgreSQL)."""
        try:
            table = pacsv.read_csv(
                io.BytesIO(chunk),
                read_options=pacsv.ReadOptions(column_names=self.names, block_size=max(1 << 20, len(chunk) + 1)),
                parse_options=pacsv.ParseOptions(delimiter=self.delimiter.decode(), quote_char=False,
                                                 escape_char=False, ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in self.names},
                                                     null_values=[self.null.decode()], strings_can_be_null=True),
            )
        except (pa.ArrowInvalid, UnicodeDecodeError):
            return None
        out = []
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            out.append((batch, list(range(self.line + 1, self.line + 1 + batch.num_rows))))
            self.line += batch.num_rows
        return out

    def finish(self) -> list[tuple[pa.RecordBatch, list[int]]]:
        """CopyDone: the rest of the data (a last line without its line break counts as a line)."""
        if self.kind == "csv":
            return self._csv(bytes(self._buf))
        if self.kind == "binary":
            out: list[tuple[pa.RecordBatch, list[int]]] = []
            if not self.ended:  # PostgreSQL: the data must end with the trailer (or end at a tuple boundary)
                out = self._binary_tuples()
                if self._buf and not self.ended:
                    if self._signed:
                        self._binary_values(0)  # a bad field of the cut tuple is its own error, as PostgreSQL reads
                    raise PgError(E.BAD_COPY_FILE_FORMAT, "unexpected EOF in COPY data",
                                  context=f"COPY {self.table}, line {self.line + 1}")
            return out + self._ready(True, typed=True)
        chunk = bytes(self._buf)
        self._buf.clear()
        if chunk and not self.ended:
            return self._text_chunk(chunk if chunk.endswith(b"\n") else chunk + b"\n", final=True)
        return self._ready(True)

    # ------------------------------------------------------------------------------------------- text

    def _text_lines(self, chunk: bytes) -> None:
        lines = chunk.split(b"\n")
        lines.pop()  # after the last line break
        ncols = len(self.names)
        delim, null = self.delimiter, self.null
        for raw in lines:
            self.line += 1
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if self.skip_header:
                self.skip_header = False
                continue
            if line == b"\\.":
                self.ended = True
                return
            try:
                fields: list[object] = (list(self._escaped_fields(line)) if b"\\" in line
                                        else [None if f == null else f.decode() for f in line.split(delim)])
            except UnicodeDecodeError as e:  # e.object: the field's bytes, where e.start points
                raise PgError("22021", f'invalid byte sequence for encoding "UTF8": 0x{e.object[e.start]:02x}',
                              context=f"COPY {self.table}, line {self.line}") from None
            if len(fields) != ncols:
                raise self._width_error(len(fields), self.line, line.decode(errors="replace"))
            self._rows.append(fields)
            self._lines.append(self.line)

    def _escaped_fields(self, line: bytes) -> list[str | None]:
        """Fields of a line holding backslashes: split where a delimiter is not escaped, then unescape."""
        raw_fields: list[bytes] = []
        start = 0
        for m in self._split.finditer(line):
            if m.group() == self.delimiter:
                raw_fields.append(line[start : m.start()])
                start = m.end()
        raw_fields.append(line[start:])
        return [None if f == self.null else _ESCAPE.sub(_unescape, f).decode() for f in raw_fields]

    def _width_error(self, got: int, number: int, line: str) -> PgError:
        """PostgreSQL's error for a line with `got` fields where the COPY has another number of columns."""
        context = f'COPY {self.table}, line {number}: "{line[:100]}"'
        if got > len(self.names):
            return PgError(E.BAD_COPY_FILE_FORMAT, "extra data after last expected column", context=context)
        return PgError(E.BAD_COPY_FILE_FORMAT, f'missing data for column "{self.names[got]}"', context=context)

    def _ready(self, final: bool, typed: bool = False) -> list[tuple[pa.RecordBatch, list[int]]]:
        """Whole batches of the rows read so far (all of them when `final`); text columns, or for binary data the
        decoded values' own Arrow types."""
        out = []
        while len(self._rows) >= BATCH_ROWS or (final and self._rows):
            rows, self._rows = self._rows[:BATCH_ROWS], self._rows[BATCH_ROWS:]
            lines, self._lines = self._lines[:BATCH_ROWS], self._lines[BATCH_ROWS:]
            cols = list(zip(*rows, strict=True)) if rows else [()] * len(self.names)
            arrays = [pa.array(c) if typed else pa.array(c, pa.string()) for c in cols]
            out.append((pa.record_batch(arrays, names=self.names), lines))
        return out

    # ----------------------------------------------------------------------------------------- binary

    def _binary_tuples(self) -> list[tuple[pa.RecordBatch, list[int]]]:
        """Every whole tuple of the binary COPY data read so far (the header first, the trailer last): column by
        column through the compiled tuple walker when it is loaded, else value by value."""
        pos = self._binary_header()
        if pos is None:
            return []
        kern = LOADER.get(load=True)
        if kern is None:
            self._binary_values(pos)
            return self._ready(False, typed=True)
        out = self._ready(True, typed=True)  # rows read value by value while the walker was loading
        src = np.frombuffer(bytes(self._buf), np.uint8)
        ncols = len(self.names)
        while pos < len(src) and not self.ended:
            cap = min(BATCH_ROWS, (len(src) - pos) // (2 + 4 * ncols) + 1)
            offs, lens = np.empty((cap, ncols), np.int64), np.empty((cap, ncols), np.int64)
            end, rows, status = kern.binary_fields(src, pos, ncols, offs, lens)
            if rows:
                out.append((self._binary_batch(kern, src, offs[:rows], lens[:rows]),
                            list(range(self.line + 1, self.line + 1 + rows))))
                self.line += rows
            if status == 1:
                self.ended = True
                end = len(src)  # anything after the trailer is ignored
            elif status > 1:
                raise PgError(E.BAD_COPY_FILE_FORMAT, f"row field count is {status - 2}, expected {ncols}",
                              context=f"COPY {self.table}, line {self.line + 1}")
            pos = end
            if rows < cap:
                break
        del self._buf[:pos]
        return out

    def _binary_header(self) -> int | None:
        """Where the tuples start (after the signature, flags and header extension), once that much has arrived."""
        buf = self._buf
        if self._signed:
            return 0
        if len(buf) < 19:
            return None
        if bytes(buf[:11]) != BINARY_MAGIC:
            raise PgError(E.BAD_COPY_FILE_FORMAT, "COPY file signature not recognized")
        flags = int.from_bytes(buf[11:15], "big")
        if flags & (1 << 16):
            raise PgError(E.BAD_COPY_FILE_FORMAT, "invalid COPY file header (WITH OIDS)")
        if flags >> 17:
            raise PgError(E.BAD_COPY_FILE_FORMAT, "unrecognized critical flags in COPY file header")
        extension = int.from_bytes(buf[15:19], "big")
        if len(buf) < 19 + extension:
            return None
        self._signed = True
        del buf[: 19 + extension]
        return 0

    def _binary_batch(self, kern: ModuleType, src: npt.NDArray[np.uint8], offs: npt.NDArray[np.int64],
                      lens: npt.NDArray[np.int64]) -> pa.RecordBatch:
        arrays = [self._binary_column(kern, src, offs[:, k], lens[:, k], k) for k in range(len(self.names))]
        return pa.record_batch(arrays, names=self.names)

    def _binary_column(self, kern: ModuleType, src: npt.NDArray[np.uint8], offs: npt.NDArray[np.int64],
                       lens: npt.NDArray[np.int64], k: int) -> pa.Array:
        """One column of binary COPY values as Arrow: fixed-width types and text gathered with numpy / the compiled
        copier, anything else decoded value by value (with PostgreSQL's error for a bad value)."""
        oid, n = self._oids[k], len(offs)
        null = lens < 0
        width = _FIXED_WIDTH.get(oid)
        numpy_type = _BINARY_NUMPY.get(oid)
        if width is not None and numpy_type is not None and not ((~null) & (lens != width)).any():
            raw = np.zeros((n, width), np.uint8)  # NULL rows stay zero (their offsets may sit at the buffer's end)
            valid = ~null
            raw[valid] = src[offs[valid][:, None] + np.arange(width)]
            if oid == t.BOOL:
                return pa.array(raw[:, 0] != 0, pa.bool_(), mask=null)
            numbers = np.ascontiguousarray(raw).view(numpy_type).ravel().astype(numpy_type.newbyteorder("="))
            arrow_type, shift = _BINARY_ARROW[oid]
            if shift:
                numbers = numbers + shift
            return pa.array(numbers, mask=null).cast(arrow_type)
        if oid == t.NUMERIC and n:
            unscaled = np.empty(n, np.int64)
            scale = kern.numeric_fields(src, offs, lens, unscaled)
            if scale >= 0:
                pairs = np.empty((n, 2), np.int64)  # decimal128: little-endian low word, then the sign's high word
                pairs[:, 0] = unscaled
                pairs[:, 1] = np.where(unscaled < 0, -1, 0)
                validity = pa.py_buffer(np.packbits(~null, bitorder="little")) if null.any() else None
                return pa.Array.from_buffers(pa.decimal128(38, int(scale)), n, [validity, pa.py_buffer(pairs)])
        if oid in _BINARY_TEXT:
            out_offsets = np.empty(n + 1, np.int64)
            out = np.empty(int(lens[~null].sum()), np.uint8)
            kern.gather(src, offs, lens, out_offsets, out)
            arr = pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(out_offsets), pa.py_buffer(out)])
            try:
                arr.validate(full=True)
            except pa.ArrowInvalid:
                raise PgError("22021", 'invalid byte sequence for encoding "UTF8"',
                              context=f"COPY {self.table}, column {self.names[k]}") from None
            if null.any():
                arr = pc.if_else(pa.array(null), pa.scalar(None, pa.large_string()), arr)
            return arr.cast(pa.string())
        values: list[object] = []
        for i in range(n):
            if null[i]:
                values.append(None)
                continue
            try:
                values.append(_decode(src[offs[i] : offs[i] + lens[i]].tobytes(), oid))
            except PgError as err:
                err.context = f"COPY {self.table}, line {self.line + 1 + i}, column {self.names[k]}"
                raise
        return pa.array(values)

    def _binary_values(self, pos: int) -> None:
        """Whole tuples from `pos`, value by value (while the compiled walker loads)."""
        buf = self._buf
        ncols = len(self.names)
        n = len(buf)
        while n - pos >= 2:
            nf = int.from_bytes(buf[pos : pos + 2], "big", signed=True)
            if nf == -1:
                self.ended = True
                pos = n  # anything after the trailer is ignored
                break
            if nf != ncols:
                raise PgError(E.BAD_COPY_FILE_FORMAT, f"row field count is {nf}, expected {ncols}",
                              context=f"COPY {self.table}, line {self.line + 1}")
            p = pos + 2
            values: list[object] = []
            for k in range(nf):
                if n - p < 4:
                    break
                size = int.from_bytes(buf[p : p + 4], "big", signed=True)
                p += 4
                if size < 0:
                    values.append(None)
                    continue
                if n - p < size:
                    break
                try:
                    values.append(_decode(bytes(buf[p : p + size]), self._oids[k]))
                except PgError as err:
                    err.context = f"COPY {self.table}, line {self.line + 1}, column {self.names[k]}"
                    raise
                p += size
            if len(values) < nf:
                break  # the rest of this tuple is in a later CopyData
            self.line += 1
            self._rows.append(values)
            self._lines.append(self.line)
            pos = p
        del buf[:pos]

    # -------------------------------------------------------------------------------------------- CSV

    def _csv(self, data: bytes) -> list[tuple[pa.RecordBatch, list[int]]]:
        end = re.search(rb"(?:^|\n)\\\.\r?(?:\n|$)", data)
        if end is not None:
            data = data[: end.start() + (1 if data[end.start() : end.start() + 1] == b"\n" else 0)]
        if not data.strip(b"\r\n"):
            return []
        double = self.escape == self.quote
        try:
            table = pacsv.read_csv(
                io.BytesIO(data),
                read_options=pacsv.ReadOptions(column_names=self.names, skip_rows=1 if self.skip_header else 0),
                parse_options=pacsv.ParseOptions(delimiter=self.delimiter.decode(), quote_char=self.quote.decode(),
                                                 double_quote=double,
                                                 escape_char=False if double else self.escape.decode(),
                                                 newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in self.names},
                                                     null_values=[self.null.decode()], strings_can_be_null=True,
                                                     quoted_strings_can_be_null=False),
            )
        except pa.ArrowInvalid as e:
            text = str(e)
            width = re.search(r"Expected \d+ columns, got (\d+): (.*)", text, re.DOTALL)
            if width is None:
                raise PgError(E.BAD_COPY_FILE_FORMAT, "unterminated CSV quoted field" if "quote" in text.lower()
                              else text, context=f"COPY {self.table}") from None
            row = width.group(2)
            lines = data.decode(errors="replace").split("\n")
            number = next((i + 1 for i, ln in enumerate(lines) if ln.rstrip("\r") == row), 0)
            raise self._width_error(int(width.group(1)), number, row) from None
        out, first = [], 2 if self.skip_header else 1  # line numbers as if no value spanned lines
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            out.append((batch, list(range(first, first + batch.num_rows))))
            first += batch.num_rows
        return out


_FIXED_WIDTH = {t.INT2: 2, t.INT4: 4, t.INT8: 8, t.FLOAT4: 4, t.FLOAT8: 8, t.BOOL: 1, t.DATE: 4, t.TIMESTAMP: 8,
                t.TIMESTAMPTZ: 8, t.TIME: 8, t.UUID: 16}


def _decode(data: bytes, oid: int) -> object:
    """One binary COPY field by its type's receive rules; a fixed-width value of the wrong size fails as
    PostgreSQL's receive function does (too short: 08P01, too long: 22P03)."""
    width = _FIXED_WIDTH.get(oid)
    if width is not None and len(data) < width:
        raise PgError(E.PROTOCOL_VIOLATION, "insufficient data left in message")
    if width is not None and len(data) > width:
        raise PgError(E.INVALID_BINARY_REPRESENTATION, "incorrect binary data format")
    return decode_binary(data, oid)


_BINARY_NUMPY: dict[int, np.dtype[Any]] = {t.INT2: np.dtype(">i2"), t.INT4: np.dtype(">i4"), t.INT8: np.dtype(">i8"),
                 t.FLOAT4: np.dtype(">f4"), t.FLOAT8: np.dtype(">f8"), t.DATE: np.dtype(">i4"),
                 t.TIMESTAMP: np.dtype(">i8"), t.TIMESTAMPTZ: np.dtype(">i8"), t.BOOL: np.dtype("u1")}
_BINARY_ARROW: dict[int, tuple[pa.DataType, int]] = {
    t.INT2: (pa.int16(), 0), t.INT4: (pa.int32(), 0), t.INT8: (pa.int64(), 0), t.FLOAT4: (pa.float32(), 0),
    t.FLOAT8: (pa.float64(), 0), t.DATE: (pa.date32(), pv.UNIX_TO_PG_DAYS),
    t.TIMESTAMP: (pa.timestamp("us"), pv.UNIX_TO_PG_US),
    t.TIMESTAMPTZ: (pa.timestamp("us", tz="UTC"), pv.UNIX_TO_PG_US)}
_BINARY_TEXT = {t.TEXT, t.VARCHAR, t.BPCHAR, t.NAME, t.JSON}

_INPUT_NAMES = {t.INT2: "smallint", t.INT4: "integer", t.INT8: "bigint", t.FLOAT4: "real", t.FLOAT8: "double precision",
                t.NUMERIC: "numeric", t.BOOL: "boolean", t.DATE: "date", t.TIMESTAMP: "timestamp",
                t.TIMESTAMPTZ: "timestamp with time zone", t.TIME: "time", t.UUID: "uuid", t.INTERVAL: "interval"}
_DATETIME = {t.DATE, t.TIMESTAMP, t.TIMESTAMPTZ, t.TIME, t.INTERVAL}
_INT_RANGE = {t.INT2: 2**15, t.INT4: 2**31, t.INT8: 2**63}


def input_error(pg_type: t.PgColumnType, value: object, context: str) -> PgError:
    """PostgreSQL's input-function error for a COPY value its column's type refuses."""
    oid = pg_type.oid
    name = _INPUT_NAMES.get(oid, t.TYPES_BY_OID[oid].name if oid in t.TYPES_BY_OID else "text")
    text = str(value)
    if oid in _INT_RANGE and re.fullmatch(r"\s*[+-]?\d+\s*", text):
        return PgError(E.NUMERIC_VALUE_OUT_OF_RANGE, f'value "{text}" is out of range for type {name}',
                       context=context)
    if oid == t.NUMERIC and pg_type.typmod >= 4 and re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)\s*", text):
        precision, scale = (pg_type.typmod - 4) >> 16, (pg_type.typmod - 4) & 0xFFFF
        return PgError(E.NUMERIC_VALUE_OUT_OF_RANGE, "numeric field overflow",
                       detail=f"A field with precision {precision}, scale {scale} must round to an absolute value "
                              f"less than 10^{precision - scale}.", context=context)
    code = "22007" if oid in _DATETIME else E.INVALID_TEXT_REPRESENTATION
    return PgError(code, f'invalid input syntax for type {name}: "{text}"', context=context)
