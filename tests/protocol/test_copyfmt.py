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
    assert copyfmt._LOADER.get(wait=True) is not None


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
    assert copyfmt._LOADER.get(wait=True) is not None
    assert _messages(fmt, types, batch, True) == _messages(fmt, types, batch, False)


@pytest.mark.parametrize("value", ["\\.", "", "N", "a\\.b"])
def test_single_column_csv_edge_values(value: str) -> None:
    """`\\.` alone on a line and a value equal to the NULL string are quoted on both paths."""
    batch = pa.record_batch([pa.array([value, None], pa.string())], names=["c0"])
    fmt = CopyFormat("csv", delimiter=b",", null=b"N")
    types = [t.PgColumnType(t.TEXT)]
    assert copyfmt._LOADER.get(wait=True) is not None
    assert _messages(fmt, types, batch, True) == _messages(fmt, types, batch, False)
