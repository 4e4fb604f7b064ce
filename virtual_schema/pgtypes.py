"""PostgreSQL's built-in data types with their real OIDs, and how Arrow types map onto them.

Drivers decode by type OID (asyncpg, psycopg binary, pgjdbc), so every column we describe carries
PostgreSQL's own OID and typmod. The OIDs are PostgreSQL's (pg_type.dat); never invent one for a
built-in type.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class PgType:
    oid: int
    name: str
    typlen: int  # -1 varlena, -2 cstring, else fixed size in bytes
    category: str  # pg_type.typcategory
    array_oid: int  # 0 when the type has no array type
    typalign: str = "i"
    typbyval: bool = False
    element_oid: int = 0  # for array types: the element type


# Core scalar types (oid, name, typlen, category, array oid, align, byval).
_SCALARS: tuple[tuple[int, str, int, str, int, str, bool], ...] = (
    (16, "bool", 1, "B", 1000, "c", True),
    (17, "bytea", -1, "U", 1001, "i", False),
    (18, "char", 1, "Z", 1002, "c", True),
    (19, "name", 64, "S", 1003, "c", False),
    (20, "int8", 8, "N", 1016, "d", True),
    (21, "int2", 2, "N", 1005, "s", True),
    (22, "int2vector", -1, "A", 1006, "i", False),
    (23, "int4", 4, "N", 1007, "i", True),
    (24, "regproc", 4, "N", 1008, "i", True),
    (25, "text", -1, "S", 1009, "i", False),
    (26, "oid", 4, "N", 1028, "i", True),
    (27, "tid", 6, "U", 1010, "s", False),
    (28, "xid", 4, "U", 1011, "i", True),
    (29, "cid", 4, "U", 1012, "i", True),
    (30, "oidvector", -1, "A", 1013, "i", False),
    (114, "json", -1, "U", 199, "i", False),
    (142, "xml", -1, "U", 143, "i", False),
    (194, "pg_node_tree", -1, "Z", 0, "i", False),
    (600, "point", 16, "G", 1017, "d", False),
    (650, "cidr", -1, "I", 651, "i", False),
    (700, "float4", 4, "N", 1021, "i", True),
    (701, "float8", 8, "N", 1022, "d", True),
    (705, "unknown", -2, "X", 0, "c", False),
    (790, "money", 8, "N", 791, "d", True),
    (829, "macaddr", 6, "U", 1040, "i", False),
    (869, "inet", -1, "I", 1041, "i", False),
    (1033, "aclitem", 16, "U", 1034, "d", False),
    (1042, "bpchar", -1, "S", 1014, "i", False),
    (1043, "varchar", -1, "S", 1015, "i", False),
    (1082, "date", 4, "D", 1182, "i", True),
    (1083, "time", 8, "D", 1183, "d", True),
    (1114, "timestamp", 8, "D", 1115, "d", True),
    (1184, "timestamptz", 8, "D", 1185, "d", True),
    (1186, "interval", 16, "T", 1187, "d", False),
    (1266, "timetz", 12, "D", 1270, "d", False),
    (1560, "bit", -1, "V", 1561, "i", False),
    (1562, "varbit", -1, "V", 1563, "i", False),
    (1700, "numeric", -1, "N", 1231, "i", False),
    (1790, "refcursor", -1, "U", 2201, "i", False),
    (2202, "regprocedure", 4, "N", 2207, "i", True),
    (2203, "regoper", 4, "N", 2208, "i", True),
    (2204, "regoperator", 4, "N", 2209, "i", True),
    (2205, "regclass", 4, "N", 2210, "i", True),
    (2206, "regtype", 4, "N", 2211, "i", True),
    (2249, "record", -1, "P", 2287, "d", False),
    (2275, "cstring", -2, "P", 1263, "c", False),
    (2276, "any", 4, "P", 0, "i", True),
    (2277, "anyarray", -1, "P", 0, "d", False),
    (2278, "void", 4, "P", 0, "i", True),
    (2950, "uuid", 16, "U", 2951, "c", False),
    (3220, "pg_lsn", 8, "U", 3221, "d", True),
    (3614, "tsvector", -1, "U", 3643, "i", False),
    (3615, "tsquery", -1, "U", 3645, "i", False),
    (3734, "regconfig", 4, "N", 3735, "i", True),
    (3802, "jsonb", -1, "U", 3807, "i", False),
    (3904, "int4range", -1, "R", 3905, "i", False),
    (3926, "int8range", -1, "R", 3927, "d", False),
    (4089, "regnamespace", 4, "N", 4090, "i", True),
    (4096, "regrole", 4, "N", 4097, "i", True),
)


def _build() -> dict[int, PgType]:
    types: dict[int, PgType] = {}
    for oid, name, typlen, cat, arr, align, byval in _SCALARS:
        types[oid] = PgType(oid, name, typlen, cat, arr, align, byval)
        if arr:
            types[arr] = PgType(arr, "_" + name, -1, "A", 0, "d" if align == "d" else "i", False, oid)
    return types


TYPES_BY_OID: dict[int, PgType] = _build()
TYPES_BY_NAME: dict[str, PgType] = {t.name: t for t in TYPES_BY_OID.values()}

BOOL, BYTEA, CHAR, NAME, INT8, INT2, INT4, TEXT, OID = 16, 17, 18, 19, 20, 21, 23, 25, 26
FLOAT4, FLOAT8, UNKNOWN, BPCHAR, VARCHAR = 700, 701, 705, 1042, 1043
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, NUMERIC = 1082, 1083, 1114, 1184, 1186, 1700
UUID, JSON, JSONB, REGCLASS, REGTYPE, REGPROC = 2950, 114, 3802, 2205, 2206, 24
INT2VECTOR, OIDVECTOR, TEXT_ARRAY, INT2_ARRAY, INT4_ARRAY, OID_ARRAY = 22, 30, 1009, 1005, 1007, 1028
CHAR_ARRAY, NAME_ARRAY, ACLITEM_ARRAY, INT8_ARRAY, FLOAT8_ARRAY = 1002, 1003, 1034, 1016, 1022
PG_NODE_TREE = 194

# Aliases PostgreSQL accepts in type names (format_type prints the SQL-standard spelling instead).
TYPE_ALIASES: dict[str, str] = {
    "integer": "int4",
    "int": "int4",
    "smallint": "int2",
    "bigint": "int8",
    "real": "float4",
    "double precision": "float8",
    "double": "float8",
    "float": "float8",
    "boolean": "bool",
    "character varying": "varchar",
    "character": "bpchar",
    "decimal": "numeric",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
    "time without time zone": "time",
    "time with time zone": "timetz",
    "string": "text",
}


# numeric without a typmod where it must live in a fixed DECIMAL (a temp table's column, a bare ::numeric cast on the
# semantic path): 38 digits, 10 of them decimal places (DuckDB's bare DECIMAL is (18,3), Spark's (10,0))
UNCONSTRAINED_PRECISION, UNCONSTRAINED_SCALE = 38, 10


def numeric_typmod(precision: int, scale: int) -> int:
    """PostgreSQL's atttypmod for numeric(p, s): ((p << 16) | s) + VARHDRSZ."""
    return ((precision << 16) | scale) + 4


def varchar_typmod(length: int) -> int:
    return length + 4


@dataclass(frozen=True, slots=True)
class PgColumnType:
    """A column's PostgreSQL type as drivers see it in RowDescription and pg_attribute."""

    oid: int
    typmod: int = -1

    @property
    def typlen(self) -> int:
        t = TYPES_BY_OID.get(self.oid)
        return t.typlen if t else -1

    @property
    def name(self) -> str:
        t = TYPES_BY_OID.get(self.oid)
        return t.name if t else "unknown"


def pg_type_for_arrow(t: pa.DataType) -> PgColumnType:
    """The PostgreSQL type a client should see for an Arrow column (the warehouse's result type)."""
    if pa.types.is_boolean(t):
        return PgColumnType(BOOL)
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return PgColumnType(INT2)
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return PgColumnType(INT4)
    if pa.types.is_int64(t) or pa.types.is_uint32(t):
        return PgColumnType(INT8)
    if pa.types.is_uint64(t):
        return PgColumnType(NUMERIC, numeric_typmod(20, 0))
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return PgColumnType(FLOAT4)
    if pa.types.is_float64(t):
        return PgColumnType(FLOAT8)
    if pa.types.is_decimal(t):
        assert isinstance(t, (pa.Decimal128Type, pa.Decimal256Type))
        return PgColumnType(NUMERIC, numeric_typmod(t.precision, t.scale))
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return PgColumnType(TEXT)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return PgColumnType(BYTEA)
    if pa.types.is_fixed_size_binary(t):
        return PgColumnType(UUID) if t.byte_width == 16 else PgColumnType(BYTEA)
    if pa.types.is_date(t):
        return PgColumnType(DATE)
    if pa.types.is_time(t):
        return PgColumnType(TIME)
    if pa.types.is_timestamp(t):
        assert isinstance(t, pa.TimestampType)
        return PgColumnType(TIMESTAMPTZ if t.tz else TIMESTAMP)
    if pa.types.is_interval(t) or pa.types.is_duration(t):
        return PgColumnType(INTERVAL)
    if pa.types.is_null(t):
        return PgColumnType(TEXT)
    if isinstance(t, pa.ExtensionType):
        name = t.extension_name
        if "uuid" in name:
            return PgColumnType(UUID)
        if "json" in name:
            return PgColumnType(JSON)
        return pg_type_for_arrow(t.storage_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        assert isinstance(t, (pa.ListType, pa.LargeListType))
        inner = TYPES_BY_OID.get(pg_type_for_arrow(t.value_type).oid)
        if inner is not None and inner.array_oid:
            return PgColumnType(inner.array_oid)
        return PgColumnType(TEXT_ARRAY)
    return PgColumnType(TEXT)


def pg_type_for_sql_name(name: str) -> PgColumnType:
    """A PostgreSQL type for a SQL type name such as 'DECIMAL(18,2)', 'varchar', 'BIGINT', 'TIMESTAMP'."""
    raw = name.strip().lower()
    base, _, args = raw.partition("(")
    base = base.strip()
    if base.endswith("[]"):
        inner = pg_type_for_sql_name(base[:-2])
        t = TYPES_BY_OID.get(inner.oid)
        return PgColumnType(t.array_oid if t and t.array_oid else TEXT_ARRAY)
    duck = {
        "tinyint": "int2", "utinyint": "int2", "usmallint": "int4", "uinteger": "int8",
        "hugeint": "numeric", "ubigint": "numeric", "long": "int8", "short": "int2", "byte": "int2",
        "timestamp_ns": "timestamp", "timestamp_ms": "timestamp", "timestamp_s": "timestamp",
        "timestamp_ntz": "timestamp", "datetime": "timestamp", "blob": "bytea", "binary": "bytea",
        "timestamp_ltz": "timestamptz",
    }
    base = TYPE_ALIASES.get(base, duck.get(base, base))
    t = TYPES_BY_NAME.get(base)
    if t is None:
        return PgColumnType(TEXT)
    if t.oid == NUMERIC:
        if args:
            parts = [p.strip() for p in args.rstrip(")").split(",")]
            precision = int(parts[0])
            scale = int(parts[1]) if len(parts) > 1 else 0
            return PgColumnType(NUMERIC, numeric_typmod(precision, scale))
        if raw.startswith("hugeint"):
            return PgColumnType(NUMERIC, numeric_typmod(38, 0))
        return PgColumnType(NUMERIC)
    if t.oid in (VARCHAR, BPCHAR) and args:
        return PgColumnType(t.oid, varchar_typmod(int(args.rstrip(")").split(",")[0])))
    return PgColumnType(t.oid)
