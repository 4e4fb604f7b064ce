"""RowDescription of a catalog result: PostgreSQL names and types for DuckDB's Arrow output.

Types come from the translation's inference (a catalog column keeps its pg_attribute type: name, oid,
"char", int2vector, ...) when that agrees with the physical Arrow type; everything else maps from
Arrow the way the warehouse results do, with uint32 (our oid storage) read as oid.
"""

from __future__ import annotations

import pyarrow as pa

from virtual_schema.catalog.pgdata import base_type
from virtual_schema.catalog.translate import TEXT_CARRIED, Plan
from virtual_schema.catalog.typeres import type_rules
from virtual_schema.pgtypes import TYPES_BY_OID, PgColumnType, pg_type_for_arrow
from virtual_schema.schema import ResultColumn

_STRINGS = frozenset({25, 19, 18, 1043, 1042, 194, 869, 13224, 13226, 13234, 705, 2249, 114, 3802})
_INTS = frozenset({21, 23, 20, 26, 28, 29, 13221, 2205, 2206, 24, 4089, 4096, 2202})


def _physical_ok(t: PgColumnType, a: pa.DataType) -> bool:
    oid = t.oid
    if oid in _STRINGS:
        return bool(pa.types.is_string(a) or pa.types.is_large_string(a) or pa.types.is_null(a))
    if oid in _INTS:
        return bool(pa.types.is_integer(a) or pa.types.is_null(a))
    if oid == 16:
        return bool(pa.types.is_boolean(a) or pa.types.is_null(a))
    if oid == 1700 and pa.types.is_string(a):
        return True  # computed by pgnumeric.py: PostgreSQL's numeric text
    if oid in (700, 701, 1700):
        return bool(pa.types.is_floating(a) or pa.types.is_decimal(a) or pa.types.is_integer(a))
    if oid in (22, 30):
        return bool(pa.types.is_list(a))
    pt = TYPES_BY_OID.get(oid)
    if pt is not None and pt.element_oid:
        return bool(pa.types.is_list(a) or pa.types.is_null(a))
    if oid in (1184, 1114, 13232):
        return bool(pa.types.is_timestamp(a) or pa.types.is_string(a))  # strings: 'infinity'
    if oid == 1082 and pa.types.is_string(a):
        return True
    if oid in TEXT_CARRIED or oid == 2950:
        return bool(pa.types.is_string(a) or pa.types.is_large_string(a) or pa.types.is_null(a))
    if oid == 1082:
        return bool(pa.types.is_date(a))
    if oid == 1083:
        return bool(pa.types.is_time(a))
    if oid == 1186:
        return bool(pa.types.is_interval(a) or pa.types.is_duration(a))
    if oid == 17:
        return bool(pa.types.is_binary(a) or pa.types.is_large_binary(a))
    return False


def arrow_pg_type(a: pa.DataType) -> PgColumnType:
    if pa.types.is_uint32(a):
        return PgColumnType(26)
    if pa.types.is_list(a) and pa.types.is_uint32(a.value_type):
        return PgColumnType(1028)
    if pa.types.is_struct(a):
        return PgColumnType(2249)
    if pa.types.is_decimal(a) and a.scale == 0 and a.precision >= 38:
        return PgColumnType(1700)
    return pg_type_for_arrow(a)


def result_columns(plan: Plan, schema: pa.Schema) -> tuple[ResultColumn, ...]:
    out: list[ResultColumn] = []
    n = len(schema)
    inferred = plan.inferred if len(plan.inferred) == n and not plan.has_star else [None] * n
    if plan.out_types is not None and len(plan.out_types) == n:
        inferred = plan.out_types
    for i, f in enumerate(schema):
        t = inferred[i]
        if t is not None and t.oid in plan.reg_outputs.values() and pa.types.is_integer(f.type):
            out.append(ResultColumn(f.name, t))
            continue
        if t is not None and _physical_ok(t, f.type):
            t = type_rules().base(t)
            out.append(ResultColumn(f.name, t))
            continue
        by_name = plan.name_types.get(f.name)
        if by_name is not None and _physical_ok(by_name, f.type):
            out.append(ResultColumn(f.name, type_rules().base(by_name)))
            continue
        out.append(ResultColumn(f.name, arrow_pg_type(f.type)))
    return tuple(out)


__all__ = ["arrow_pg_type", "base_type", "result_columns"]
