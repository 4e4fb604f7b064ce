"""Spark / Databricks SQL type names (as DESCRIBE TABLE prints them) → Arrow types.

The mapping follows what databricks-sql-connector returns for the same columns with native Arrow
types on (decimals as decimal128, timestamps as microsecond timestamps with UTC for TIMESTAMP and
without a zone for TIMESTAMP_NTZ), so Describe and Execute agree on every column.
"""

from __future__ import annotations

import re

import pyarrow as pa

_SIMPLE: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "tinyint": pa.int8(),
    "byte": pa.int8(),
    "smallint": pa.int16(),
    "short": pa.int16(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "long": pa.int64(),
    "float": pa.float32(),
    "real": pa.float32(),
    "double": pa.float64(),
    "string": pa.string(),
    "binary": pa.binary(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "timestamp_ltz": pa.timestamp("us", tz="UTC"),
    "timestamp_ntz": pa.timestamp("us"),
    "void": pa.null(),
    "variant": pa.string(),
}
_DECIMAL = re.compile(r"^(?:decimal|dec|numeric)(?:\((\d+)(?:\s*,\s*(\d+))?\))?$")


def _split_top(s: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in s:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if cur:
        parts.append("".join(cur).strip())
    return parts


def arrow_type_for_spark(type_name: str) -> pa.DataType:
    """Arrow type of a Spark SQL type string; unknown or exotic types (intervals…) become text."""
    t = type_name.strip().lower()
    if t in _SIMPLE:
        return _SIMPLE[t]
    m = _DECIMAL.match(t)
    if m:
        precision = int(m.group(1) or 10)
        scale = int(m.group(2) or 0)
        return pa.decimal128(precision, scale)
    if t.startswith(("varchar", "char", "string")):
        return pa.string()
    if t.startswith("array<") and t.endswith(">"):
        return pa.list_(arrow_type_for_spark(type_name.strip()[6:-1]))
    if t.startswith("map<") and t.endswith(">"):
        key, value = _split_top(type_name.strip()[4:-1])
        return pa.map_(arrow_type_for_spark(key), arrow_type_for_spark(value))
    if t.startswith("struct<") and t.endswith(">"):
        fields = []
        for part in _split_top(type_name.strip()[7:-1]):
            name, _, ftype = part.partition(":")
            fields.append(pa.field(name.strip().strip("`"), arrow_type_for_spark(ftype.split(" COMMENT ")[0])))
        return pa.struct(fields)
    return pa.string()


def schema_from_describe(rows: list[tuple[object, ...]]) -> pa.Schema:
    """DESCRIBE TABLE rows (col_name, data_type, comment) → schema; stops at the partition/metadata part."""
    fields: list[pa.Field] = []
    seen: set[str] = set()
    for row in rows:
        name = str(row[0] or "").strip()
        if not name or name.startswith("#"):
            break
        if name in seen:
            continue
        seen.add(name)
        fields.append(pa.field(name, arrow_type_for_spark(str(row[1]))))
    return pa.schema(fields)
