"""The compiled COPY writer (copykern.py) and the Python rules in copyfmt.py write the same CopyData bytes.

tests/gateway/test_copy.py compares the gateway's COPY output with PostgreSQL 15's for small results (the Python
path); this keeps the compiled path, which large results take, equal to it on random columns, awkward text
(delimiters, quotes, escapes, control characters, the NULL string, `\\.`) and every option that changes bytes.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.protocol import copyfmt
from gateway.protocol.copyfmt import CopyFormat, CopyWriter
from gateway.protocol.rowenc import RowEncoder
from tests.protocol.test_rowenc_properties import COLUMNS, nullable
from virtual_schema import pgtypes as t

AWKWARD = st.text(st.sampled_from(list("ab,;|\t\n\r\\\"'.\x01\x08\x0b\x0c é€N")), max_size=12)

FORMATS = [
    CopyFormat("text"),
    CopyFormat("text", delimiter=b"|", null=b"NULL"),
    CopyFormat("text", delimiter=b"\x01", null=b""),
    CopyFormat("csv", delimiter=b",", null=b""),
    CopyFormat("csv", delimiter=b";", null=b"N", quote=b"'", escape=b"\\"),
    CopyFormat("csv", delimiter=b"\t", null=b"\\N", force=(True, False, True, False, True, False, True)),
    CopyFormat("binary"),
]


def test_compiled_writer_loads() -> None:
    """numba is a dependency: the compiled writer must load, or the test below compares Python with itself."""
    assert copyfmt.LOADER.get(wait=True) is not None


def _messages(fmt: CopyFormat, types: list[t.PgColumnType], batch: pa.RecordBatch, compiled: bool) -> bytes:
    encoder = RowEncoder(types, [1 if fmt.kind == "binary" else 0])
    force = fmt.force[: len(types)] + (False,) * max(0, len(types) - len(fmt.force)) if fmt.force else ()
    writer = CopyWriter(CopyFormat(fmt.kind, fmt.delimiter, fmt.null, fmt.quote, fmt.escape, force),
                        [f"c{i}" for i in range(len(types))], use_kernel=compiled)
    saved = copyfmt.KERNEL_MIN_BYTES
    copyfmt.KERNEL_MIN_BYTES = 0
    try:
        body = b"".join(bytes(writer.rows(encoder.encode(batch.slice(i, 7)))) for i in range(0, batch.num_rows, 7))
    finally:
        copyfmt.KERNEL_MIN_BYTES = saved
    return writer.begin() + body + writer.end()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data(), st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, max_size=5), st.integers(1, 60),
       st.sampled_from(FORMATS))
def test_compiled_matches_python(data: st.DataObject, names: list[str], nrows: int, fmt: CopyFormat) -> None:
    arrays, types = [], []
    for n in names:
        arrays.append(pa.array(data.draw(st.lists(nullable(COLUMNS[n][2]), min_size=nrows, max_size=nrows)),
                               COLUMNS[n][1]))
        types.append(COLUMNS[n][0])
    text = data.draw(st.lists(st.one_of(st.none(), AWKWARD), min_size=nrows, max_size=nrows))
    arrays.append(pa.array(text, pa.string()))
    types.append(t.PgColumnType(t.TEXT))
    batch = pa.record_batch(arrays, names=[f"c{i}" for i in range(len(arrays))])
    assert copyfmt.LOADER.get(wait=True) is not None
    assert _messages(fmt, types, batch, True) == _messages(fmt, types, batch, False)


@pytest.mark.parametrize("value", ["\\.", "", "N", "a\\.b"])
def test_single_column_csv_edge_values(value: str) -> None:
    """`\\.` alone on a line and a value equal to the NULL string are quoted on both paths."""
    batch = pa.record_batch([pa.array([value, None], pa.string())], names=["c0"])
    fmt = CopyFormat("csv", delimiter=b",", null=b"N")
    types = [t.PgColumnType(t.TEXT)]
    assert copyfmt.LOADER.get(wait=True) is not None
    assert _messages(fmt, types, batch, True) == _messages(fmt, types, batch, False)


# COPY FROM's binary reader: column by column through the compiled tuple walker, or value by value.
_BINARY_IN = ["int8", "int4", "int2", "float8", "numeric", "date", "timestamp", "timestamptz", "text", "bool", "uuid"]


def _read_binary(payload: bytes, oids: list[int], compiled: bool, step: int) -> list[dict[str, object]]:
    from gateway.protocol import copyparse

    names = [f"c{i}" for i in range(len(oids))]
    reader = copyparse.CopyReader("binary", names, "t", delimiter=b"\t", null=b"", header=False, type_oids=oids)
    saved_get, saved_bytes = copyparse.LOADER.get, copyparse.PARSE_BYTES
    copyparse.PARSE_BYTES = 0  # parse after every message
    if not compiled:
        copyparse.LOADER.get = lambda **kw: None  # type: ignore[method-assign]
    try:
        batches = []
        for i in range(0, len(payload), step):
            if reader.feed(payload[i : i + step]):
                batches += reader.take()
        batches += reader.finish()
    finally:
        copyparse.LOADER.get, copyparse.PARSE_BYTES = saved_get, saved_bytes  # type: ignore[method-assign]
    rows: list[dict[str, object]] = []
    for batch, _ in batches:
        rows += batch.to_pylist()
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data(), st.lists(st.sampled_from(_BINARY_IN), min_size=1, max_size=5), st.integers(1, 60),
       st.sampled_from([1, 7, 100, 1 << 20]))
def test_binary_copy_in_compiled_matches_values(data: st.DataObject, names: list[str], nrows: int, step: int) -> None:
    """Binary COPY data (written by the COPY TO writer from random columns) reads back to the same rows on both
    paths, in CopyData messages of any size."""
    arrays = [pa.array(data.draw(st.lists(nullable(COLUMNS[n][2]), min_size=nrows, max_size=nrows)), COLUMNS[n][1])
              for n in names]
    types = [COLUMNS[n][0] for n in names]
    batch = pa.record_batch(arrays, names=[f"c{i}" for i in range(len(names))])
    writer = CopyWriter(CopyFormat("binary"), batch.schema.names, use_kernel=False)
    framed = writer.rows(RowEncoder(types, [1]).encode(batch)) + writer.end()
    payload, pos = b"", 0
    framed = bytes(framed)
    while pos < len(framed) and framed[pos : pos + 1] == b"d":  # CopyData payloads, as the client sends them
        size = int.from_bytes(framed[pos + 1 : pos + 5], "big")
        payload += framed[pos + 5 : pos + 1 + size]
        pos += 1 + size
    assert copyfmt.LOADER.get(wait=True) is not None
    oids = [ty.oid for ty in types]
    compiled = _read_binary(payload, oids, True, step)
    assert len(compiled) == nrows
    assert repr(compiled) == repr(_read_binary(payload, oids, False, step))  # repr: NaN equals NaN
