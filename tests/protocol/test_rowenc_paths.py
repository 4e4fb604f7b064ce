"""The compiled DataRow writer (rowkern.py) and the numpy assembler produce the same bytes.

test_rowenc_properties.py checks the default (compiled) path against the per-value reference; this
keeps the numpy fallback (used where numba is missing) honest too, on the same random columns."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.protocol import rowenc
from gateway.protocol.rowenc import RowEncoder
from tests.protocol.test_rowenc_properties import COLUMNS, ZONES, nullable


def test_compiled_writer_loads() -> None:
    """numba is a dependency: the compiled writer must load here, or every test below compares numpy with itself."""
    assert rowenc._kernel(wait=True) is not None


def _both(batch: pa.RecordBatch, names: list[str], fmt: int, zone: str) -> tuple[bytes, bytes]:
    assert rowenc._kernel(wait=True) is not None  # compiled means compiled, not numpy while numba loads
    cols = [COLUMNS[n][0] for n in names]
    saved = rowenc.USE_KERNEL, rowenc.SMALL_BATCH_ROWS
    try:
        rowenc.SMALL_BATCH_ROWS = 0
        rowenc.USE_KERNEL = True
        compiled = RowEncoder(cols, [fmt], timezone=zone).encode(batch)
        rowenc.USE_KERNEL = False
        numpy_path = RowEncoder(cols, [fmt], timezone=zone).encode(batch)
    finally:
        rowenc.USE_KERNEL, rowenc.SMALL_BATCH_ROWS = saved
    return compiled, numpy_path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data(), st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, max_size=6), st.integers(1, 300),
       st.sampled_from([0, 1]), st.sampled_from(ZONES))
def test_compiled_matches_numpy(data: st.DataObject, names: list[str], nrows: int, fmt: int, zone: str) -> None:
    values = [data.draw(st.lists(nullable(COLUMNS[n][2]), min_size=nrows, max_size=nrows)) for n in names]
    batch = pa.record_batch([pa.array(v, COLUMNS[n][1]) for v, n in zip(values, names, strict=True)],
                            names=[f"c{i}" for i in range(len(names))])
    compiled, numpy_path = _both(batch, names, fmt, zone)
    assert compiled == numpy_path


def test_chunks_share_one_buffer() -> None:
    """Many chunks of very different widths (the output buffer grows when a later chunk needs more)."""
    short = ["x"] * 3000
    wide = ["y" * 200] * 3000
    batch = pa.record_batch([pa.array(short + wide), pa.array(list(range(6000)), pa.int64())], names=["s", "i"])
    saved = rowenc.CHUNK_ROWS
    try:
        rowenc.CHUNK_ROWS = 1000
        compiled, numpy_path = _both(batch, ["text", "int8"], 0, "UTC")
    finally:
        rowenc.CHUNK_ROWS = saved
    assert compiled == numpy_path


@pytest.mark.parametrize("name", sorted(COLUMNS))
@pytest.mark.parametrize("fmt", [0, 1])
def test_all_null_columns(name: str, fmt: int) -> None:
    """A column whose every value is NULL renders to zero-width fields (catalog answers have many)."""
    batch = pa.record_batch([pa.nulls(2000, COLUMNS[name][1]), pa.array(list(range(2000)), pa.int64())],
                            names=["n", "i"])
    compiled, numpy_path = _both(batch, [name, "int8"], fmt, "UTC")
    assert compiled == numpy_path


@pytest.mark.parametrize("arrow_type", [pa.list_(pa.string()), pa.list_(pa.int64()), pa.string()])
def test_all_null_array_column(arrow_type: pa.DataType) -> None:
    """An array column that is NULL in every row (pg_type.typacl) renders as zero-width fields."""
    from virtual_schema.pgtypes import ACLITEM_ARRAY, PgColumnType

    batch = pa.record_batch([pa.nulls(3000, arrow_type), pa.array(list(range(3000)), pa.int64())], names=["a", "i"])
    saved = rowenc.SMALL_BATCH_ROWS
    try:
        rowenc.SMALL_BATCH_ROWS = 0
        out = RowEncoder([PgColumnType(ACLITEM_ARRAY), COLUMNS["int8"][0]], [0]).encode(batch)
    finally:
        rowenc.SMALL_BATCH_ROWS = saved
    assert out.count(b"\xff\xff\xff\xff") == 3000  # every array value went out as NULL


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data(), st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, max_size=6), st.integers(2, 300),
       st.integers(1, 40), st.sampled_from([0, 1]))
def test_pieces_join_to_the_whole(data: st.DataObject, names: list[str], nrows: int, piece: int, fmt: int) -> None:
    """encode_pieces resumes the compiled writer where the previous piece stopped (float text included):
    the pieces joined are the batch's bytes, and each piece ends on a row boundary."""
    assert rowenc._kernel(wait=True) is not None
    values = [data.draw(st.lists(nullable(COLUMNS[n][2]), min_size=nrows, max_size=nrows)) for n in names]
    batch = pa.record_batch([pa.array(v, COLUMNS[n][1]) for v, n in zip(values, names, strict=True)],
                            names=[f"c{i}" for i in range(len(names))])
    encoder = RowEncoder([COLUMNS[n][0] for n in names], [fmt])
    saved = rowenc.CHUNK_ROWS
    try:
        rowenc.CHUNK_ROWS = 97  # several chunks, each in several pieces
        pieces = [bytes(p) for p in encoder.encode_pieces(batch, piece)]
    finally:
        rowenc.CHUNK_ROWS = saved
    assert b"".join(pieces) == encoder.encode(batch)
    if piece < nrows:
        assert len(pieces) == sum(-(-min(97, nrows - s) // piece) for s in range(0, nrows, 97))
    assert all(p[:1] == b"D" and len(p) == sum(1 + int.from_bytes(p[i + 1:i + 5], "big") for i in _offsets(p))
               for p in pieces)


def _offsets(data: bytes) -> list[int]:
    offsets, i = [], 0
    while i < len(data):
        offsets.append(i)
        i += 1 + int.from_bytes(data[i + 1:i + 5], "big")
    return offsets
