"""PostgreSQL's format_type and information_schema's _pg_* helpers, in Python.

Shared by the table population (information_schema.columns) and the SQL functions of the same
names, so both print types exactly as PostgreSQL 15 does.
"""

from __future__ import annotations

from collections.abc import Mapping

_SQL_NAMES = {
    "bool": "boolean",
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "varchar": "character varying",
    "bpchar": "character",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
    "timetz": "time with time zone",
    "varbit": "bit varying",
    "char": '"char"',
}


def _quote_ident(name: str) -> str:
    import re

    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


_RESERVED = frozenset(
    {
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "current_catalog",
        "current_date",
        "current_role",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "initially",
        "intersect",
        "into",
        "lateral",
        "leading",
        "limit",
        "localtime",
        "localtimestamp",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "placing",
        "primary",
        "references",
        "returning",
        "select",
        "session_user",
        "some",
        "symmetric",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "when",
        "where",
        "window",
        "with",
    }
)


def quote_ident(name: str) -> str:
    return _quote_ident(name)


def format_type(oid: int | None, typmod: int | None, types: Mapping[int, tuple[str, int, str]]) -> str | None:
    """format_type(oid, typmod); `types` maps oid -> (typname, typelem, namespace name)."""
    if oid is None:
        return None
    entry = types.get(oid)
    if entry is None:
        return "???"
    name, elem, nsp = entry
    given = typmod is not None
    mod = typmod if typmod is not None else -1
    if elem and name.startswith("_"):
        inner = format_type(elem, mod if given else None, types)
        return f"{inner}[]"
    if name == "bpchar":
        if mod >= 4:
            return f"character({mod - 4})"
        return "character"
    if name == "varchar":
        return f"character varying({mod - 4})" if mod >= 4 else "character varying"
    if name == "numeric":
        if mod >= 4:
            m = mod - 4
            return f"numeric({(m >> 16) & 0xFFFF},{m & 0xFFFF})"
        return "numeric"
    if name in ("timestamp", "timestamptz", "time", "timetz"):
        base = _SQL_NAMES[name]
        if mod >= 0:
            head, _, tail = base.partition(" ")
            return f"{head}({mod}) {tail}"
        return base
    if name in ("bit", "varbit"):
        base = _SQL_NAMES.get(name, name)
        return f"{base}({mod})" if mod >= 0 else base
    if name == "interval" and mod >= 0:
        return "interval"
    if name in _SQL_NAMES:
        return _SQL_NAMES[name]
    if nsp in ("pg_catalog", ""):
        return _quote_ident(name)
    return f"{_quote_ident(nsp)}.{_quote_ident(name)}"


def numeric_precision(typid: int, typmod: int) -> int | None:
    if typid in (21,):
        return 16
    if typid == 23:
        return 32
    if typid == 20:
        return 64
    if typid == 1700:
        return None if typmod == -1 else ((typmod - 4) >> 16) & 0xFFFF
    if typid == 700:
        return 24
    if typid == 701:
        return 53
    return None


def numeric_precision_radix(typid: int, typmod: int) -> int | None:
    if typid in (21, 23, 20, 700, 701):
        return 2
    if typid == 1700:
        return 10
    return None


def numeric_scale(typid: int, typmod: int) -> int | None:
    if typid in (21, 23, 20):
        return 0
    if typid == 1700:
        return None if typmod == -1 else (typmod - 4) & 0xFFFF
    return None


def datetime_precision(typid: int, typmod: int) -> int | None:
    if typid == 1082:
        return 0
    if typid in (1083, 1114, 1184, 1266, 1186):
        return 6 if typmod < 0 else typmod
    return None


def char_max_length(typid: int, typmod: int) -> int | None:
    if typid in (1042, 1043):
        return None if typmod == -1 else typmod - 4
    if typid in (1560, 1562):
        return None if typmod == -1 else typmod
    return None


def char_octet_length(typid: int, typmod: int) -> int | None:
    if typid in (25, 1042, 1043):
        n = char_max_length(typid, typmod)
        return 1073741824 if n is None else n * 4
    return None
