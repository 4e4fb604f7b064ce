"""PostgreSQL catalog functions as DuckDB macros and Python UDFs.

Translated SQL calls them as pgf_<name>. Functions that depend on the asking session (current_user,
current_setting, search_path visibility, set_config) take the session from a per-connection temp
macro pgf_sid(), so one shared DuckDB database serves every session.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

import duckdb
import duckdb.func as duckfunc

from virtual_schema import errors as E
from virtual_schema.catalog import formatting as F
from virtual_schema.catalog import pgnumeric, tochar
from virtual_schema.errors import PgError

if TYPE_CHECKING:
    from virtual_schema.catalog.engine import CatalogEngine

C = "pgcat.pgc"


class _UdfErrors(threading.local):
    error: PgError | None = None


UDF_ERRORS = _UdfErrors()  # the PgError a UDF raised on this thread, re-raised with its SQLSTATE

MACROS: tuple[str, ...] = (
    "CREATE OR REPLACE MACRO pgf_pg_get_expr(a, b) AS CAST(a AS VARCHAR)",
    "CREATE OR REPLACE MACRO pgf_pg_get_viewdef(a) AS CAST(NULL AS VARCHAR)",
    "CREATE OR REPLACE MACRO pgf_pg_my_temp_schema() AS CAST(0 AS UINTEGER)",
    "CREATE OR REPLACE MACRO pgf_pg_is_other_temp_schema(a) AS false",
    "CREATE OR REPLACE MACRO pgf_pg_is_in_recovery() AS false",
    "CREATE OR REPLACE MACRO pgf_inet_server_addr() AS CAST(NULL AS VARCHAR)",
    "CREATE OR REPLACE MACRO pgf_inet_client_addr() AS CAST(NULL AS VARCHAR)",
    "CREATE OR REPLACE MACRO pgf_pg_get_serial_sequence(a, b) AS CAST(NULL AS VARCHAR)",
    "CREATE OR REPLACE MACRO pgf_txid_current() AS CAST(1000 AS BIGINT)",
    "CREATE OR REPLACE MACRO pgf_pg_tablespace_location(a) AS ''",
    "CREATE OR REPLACE MACRO pgf_pg_get_partkeydef(a) AS CAST(NULL AS VARCHAR)",
    "CREATE OR REPLACE MACRO pgf_pg_get_triggerdef(a) AS CAST(NULL AS VARCHAR), (a, b) AS CAST(NULL AS VARCHAR)",
    "CREATE OR REPLACE MACRO pgf_pg_get_ruledef(a) AS CAST(NULL AS VARCHAR), (a, b) AS CAST(NULL AS VARCHAR)",
    "CREATE OR REPLACE MACRO pgf_pg_get_statisticsobjdef_columns(a) AS CAST(NULL AS VARCHAR)",
    "CREATE OR REPLACE MACRO pgf_pg_get_function_sqlbody(a) AS CAST(NULL AS VARCHAR)",
    "CREATE OR REPLACE MACRO pgf_pg_relation_size(a) AS CAST(0 AS BIGINT), (a, b) AS CAST(0 AS BIGINT)",
    "CREATE OR REPLACE MACRO pgf_pg_total_relation_size(a) AS CAST(0 AS BIGINT)",
    "CREATE OR REPLACE MACRO pgf_pg_table_size(a) AS CAST(0 AS BIGINT)",
    "CREATE OR REPLACE MACRO pgf_pg_indexes_size(a) AS CAST(0 AS BIGINT)",
    "CREATE OR REPLACE MACRO pgf_pg_size_pretty(a) AS CAST(a AS VARCHAR) || ' bytes'",
    "CREATE OR REPLACE MACRO pgf_pg_encoding_max_length(a) AS CASE WHEN a = 6 THEN 4 ELSE 1 END",
    "CREATE OR REPLACE MACRO pgf_pg_char_to_encoding(a) AS CASE WHEN upper(a) IN ('UTF8', 'UTF-8') THEN 6 "
    "WHEN upper(a) = 'SQL_ASCII' THEN 0 ELSE -1 END",
    "CREATE OR REPLACE MACRO pgf_pg_client_encoding() AS 'UTF8'",
    "CREATE OR REPLACE MACRO pgf_pg_encoding_to_char(a) AS CASE a WHEN 6 THEN 'UTF8' WHEN 0 THEN 'SQL_ASCII' "
    "WHEN 8 THEN 'LATIN1' ELSE '' END",
    f"CREATE OR REPLACE MACRO pgf_pg_get_userbyid(a) AS coalesce((SELECT rolname FROM {C}.pg_authid "
    "WHERE oid = a), 'unknown (OID=' || CAST(a AS VARCHAR) || ')')",
    f"CREATE OR REPLACE MACRO pgf_col_description(o, n) AS (SELECT description FROM {C}.pg_description "
    "WHERE objoid = o AND objsubid = n AND classoid = 1259 LIMIT 1)",
    f"CREATE OR REPLACE MACRO pgf_obj_description(o) AS (SELECT description FROM {C}.pg_description "
    "WHERE objoid = o AND objsubid = 0 LIMIT 1), "
    f"(o, c) AS (SELECT d.description FROM {C}.pg_description d JOIN {C}.pg_class r ON r.oid = d.classoid "
    "WHERE d.objoid = o AND d.objsubid = 0 AND r.relname = c LIMIT 1)",
    f"CREATE OR REPLACE MACRO pgf_shobj_description(o, c) AS (SELECT description FROM {C}.pg_shdescription "
    "WHERE objoid = o LIMIT 1)",
    "CREATE OR REPLACE MACRO pgf__pg_interval_type(t, m) AS CAST(NULL AS VARCHAR)",
    f"CREATE OR REPLACE MACRO pgf_pg_get_function_result(o) AS (SELECT pgf_format_type(prorettype, NULL) "
    f"FROM {C}.pg_proc WHERE oid = o)",
    "CREATE OR REPLACE MACRO pgf_pg_get_function_arguments(o) AS ''",
    "CREATE OR REPLACE MACRO pgf_pg_get_function_identity_arguments(o) AS ''",
    "CREATE OR REPLACE MACRO pgf_pg_relation_is_publishable(a) AS false",
    "CREATE OR REPLACE MACRO pgf_array_out(a) AS '{' || array_to_string(a, ',') || '}'",
    # float8div: PostgreSQL refuses a zero divisor (22012) where IEEE arithmetic gives Infinity
    # float8 arithmetic: an infinite result of finite operands is 22003 (float_overflow_error), not Infinity
    "CREATE OR REPLACE MACRO pgf_float_checked(r, a, b) AS CASE WHEN isinf(r) AND NOT isinf(CAST(a AS DOUBLE)) "
    "AND NOT isinf(CAST(b AS DOUBLE)) THEN error('value out of range: overflow') ELSE r END",
    "CREATE OR REPLACE MACRO pgf_float_div(a, b) AS CASE WHEN b = 0 THEN error('division by zero') "
    "ELSE pgf_float_checked(a / b, a, b) END",
    # text_substr: a start before 1 shortens the result (DuckDB counts a negative start from the end)
    "CREATE OR REPLACE MACRO pgf_substring(s, a, n) AS CASE WHEN n < 0 THEN "
    "error('negative substring length not allowed') ELSE substring(s, greatest(a, 1), "
    "greatest(CAST(a AS BIGINT) + n - greatest(a, 1), 0)) END",
    "CREATE OR REPLACE MACRO pgf_substring_from(s, a) AS substring(s, greatest(a, 1))",
    "CREATE OR REPLACE MACRO pgf_split_part(s, d, n) AS CASE WHEN n = 0 THEN "
    "error('field position must not be zero') ELSE split_part(s, d, n) END",
)


def _udf(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    fn: Callable[..., Any],
    params: list[str],
    ret: str,
    *,
    nulls: bool = False,
    side_effects: bool = False,
) -> None:
    @functools.wraps(fn)
    def wrapped(*args: Any) -> Any:
        if not nulls and any(a is None for a in args):
            return None
        try:
            return fn(*args)
        except PgError as e:
            UDF_ERRORS.error = e
            raise

    conn.create_function(
        name,
        wrapped,
        [duckdb.sqltype(p) for p in params],
        duckdb.sqltype(ret),
        null_handling=duckfunc.SPECIAL,
        exception_handling=duckdb.PythonExceptionHandling.DEFAULT,
        side_effects=side_effects,
    )


def _register_numeric(conn: duckdb.DuckDBPyConnection) -> None:
    """numeric arithmetic with PostgreSQL's value-dependent result scale, on numeric text (pgnumeric.py)."""
    _udf(conn, "pgf_numeric_op", pgnumeric.binary, ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR")
    _udf(conn, "pgf_numeric_fn", pgnumeric.unary, ["VARCHAR", "VARCHAR", "INTEGER"], "VARCHAR")
    _udf(conn, "pgf_float_numeric", pgnumeric.from_float, ["DOUBLE"], "VARCHAR")
    _udf(conn, "pgf_numeric_sqrt", pgnumeric.sqrt, ["VARCHAR"], "VARCHAR")
    _udf(conn, "pgf_numeric_power", pgnumeric.power, ["VARCHAR", "VARCHAR"], "VARCHAR")
    _udf(conn, "pgf_numeric_extreme", pgnumeric.extreme, ["VARCHAR", "VARCHAR[]"], "VARCHAR")
    _udf(conn, "pgf_to_char", tochar.to_char, ["TIMESTAMP", "VARCHAR"], "VARCHAR")


def register(conn: duckdb.DuckDBPyConnection, engine: CatalogEngine) -> None:
    """Create the shared macros and UDFs on the engine's base connection."""
    _register_numeric(conn)

    def cat() -> Any:
        return engine.current

    def sess(sid: int) -> Any:
        return engine.session_by_id(sid)

    _udf(
        conn,
        "pgf_format_type",
        lambda o, m: F.format_type(o, m, cat().rows.type_names),
        ["UINTEGER", "INTEGER"],
        "VARCHAR",
        nulls=True,
    )
    _udf(conn, "pgf_version_text", lambda sid: sess(sid).version_text(), ["BIGINT"], "VARCHAR")
    _udf(
        conn,
        "pgf_current_setting_x",
        lambda sid, n, ok: sess(sid).current_setting(n, bool(ok)),
        ["BIGINT", "VARCHAR", "BOOLEAN"],
        "VARCHAR",
        side_effects=True,
    )
    _udf(
        conn,
        "pgf_set_config_x",
        lambda sid, n, v, local: sess(sid).set_config(n, v, bool(local)),
        ["BIGINT", "VARCHAR", "VARCHAR", "BOOLEAN"],
        "VARCHAR",
        side_effects=True,
    )
    _udf(conn, "pgf_current_schema_x", lambda sid: sess(sid).current_schema(), ["BIGINT"], "VARCHAR", side_effects=True)
    _udf(
        conn,
        "pgf_current_schemas_x",
        lambda sid, implicit: sess(sid).current_schemas(bool(implicit)),
        ["BIGINT", "BOOLEAN"],
        "VARCHAR[]",
        side_effects=True,
    )
    _udf(
        conn,
        "pgf_rel_visible_x",
        lambda sid, o: sess(sid).relation_visible(o),
        ["BIGINT", "UINTEGER"],
        "BOOLEAN",
        side_effects=True,
    )
    _udf(
        conn,
        "pgf_type_visible_x",
        lambda sid, o: sess(sid).type_visible(o),
        ["BIGINT", "UINTEGER"],
        "BOOLEAN",
        side_effects=True,
    )
    _udf(
        conn,
        "pgf_reg_in_x",
        lambda sid, kind, text: sess(sid).reg_in(kind, text),
        ["BIGINT", "INTEGER", "VARCHAR"],
        "UINTEGER",
        side_effects=True,
    )
    _udf(
        conn,
        "pgf_to_reg_x",
        lambda sid, kind, text: sess(sid).to_reg(kind, text),
        ["BIGINT", "INTEGER", "VARCHAR"],
        "UINTEGER",
        side_effects=True,
    )
    _udf(conn, "pgf_reg_out", lambda kind, o: engine.reg_out(kind, o), ["INTEGER", "UINTEGER"], "VARCHAR")
    _udf(conn, "pgf_quote_ident", F.quote_ident, ["VARCHAR"], "VARCHAR")
    _udf(conn, "pgf_format", _pg_format, ["VARCHAR", "VARCHAR[]"], "VARCHAR", nulls=True)
    _udf(conn, "pgf_regexp_instr_x", _regexp_instr, ["VARCHAR", "VARCHAR", "INTEGER"], "INTEGER")
    _udf(conn, "pgf_pg_get_indexdef_x", lambda o, col: engine.index_def(o, col), ["UINTEGER", "BIGINT"], "VARCHAR")
    _udf(conn, "pgf_pg_get_constraintdef", lambda o: engine.constraint_def(o), ["UINTEGER"], "VARCHAR")
    for name, fn in (
        ("_pg_numeric_precision", F.numeric_precision),
        ("_pg_numeric_scale", F.numeric_scale),
        ("_pg_datetime_precision", F.datetime_precision),
        ("_pg_numeric_precision_radix", F.numeric_precision_radix),
        ("_pg_char_max_length", F.char_max_length),
        ("_pg_char_octet_length", F.char_octet_length),
    ):
        _udf(conn, "pgf_" + name, fn, ["UINTEGER", "INTEGER"], "INTEGER")
    conn.execute(
        "CREATE OR REPLACE MACRO pgf_regexp_instr(s, p) AS pgf_regexp_instr_x(s, p, 1), "
        "(s, p, st) AS pgf_regexp_instr_x(s, p, CAST(st AS INTEGER))"
    )
    for m in MACROS:
        conn.execute(m)
    conn.execute(
        "CREATE OR REPLACE MACRO pgf_pg_get_indexdef(o) AS pgf_pg_get_indexdef_x(o, 0), "
        "(o, c, p) AS pgf_pg_get_indexdef_x(o, c)"
    )


SESSION_MACROS: tuple[str, ...] = (
    "CREATE OR REPLACE TEMP MACRO pgf_sid() AS {sid}",
    "CREATE OR REPLACE TEMP MACRO pgf_current_user() AS {user}",
    "CREATE OR REPLACE TEMP MACRO pgf_current_database() AS {database}",
    "CREATE OR REPLACE TEMP MACRO pgf_pg_backend_pid() AS CAST({pid} AS INTEGER)",
    "CREATE OR REPLACE TEMP MACRO pgf_version() AS pgf_version_text({sid})",
    "CREATE OR REPLACE TEMP MACRO pgf_pg_postmaster_start_time() AS CAST({started} AS TIMESTAMPTZ)",
    "CREATE OR REPLACE TEMP MACRO pgf_current_setting(n) AS pgf_current_setting_x({sid}, n, false), "
    "(n, ok) AS pgf_current_setting_x({sid}, n, ok)",
    "CREATE OR REPLACE TEMP MACRO pgf_set_config(n, v, l) AS pgf_set_config_x({sid}, n, v, l)",
    "CREATE OR REPLACE TEMP MACRO pgf_current_schema() AS pgf_current_schema_x({sid})",
    "CREATE OR REPLACE TEMP MACRO pgf_current_schemas(i) AS pgf_current_schemas_x({sid}, i)",
    "CREATE OR REPLACE TEMP MACRO pgf_pg_table_is_visible(o) AS pgf_rel_visible_x({sid}, o)",
    "CREATE OR REPLACE TEMP MACRO pgf_pg_type_is_visible(o) AS pgf_type_visible_x({sid}, o)",
    "CREATE OR REPLACE TEMP MACRO pgf_pg_function_is_visible(o) AS true",
    "CREATE OR REPLACE TEMP MACRO pgf_reg_in(k, t) AS pgf_reg_in_x({sid}, k, t)",
    "CREATE OR REPLACE TEMP MACRO pgf_to_regtype(t) AS pgf_to_reg_x({sid}, 2206, t)",
    "CREATE OR REPLACE TEMP MACRO pgf_to_regclass(t) AS pgf_to_reg_x({sid}, 2205, t)",
    "CREATE OR REPLACE TEMP MACRO pgf_to_regproc(t) AS pgf_to_reg_x({sid}, 24, t)",
    "CREATE OR REPLACE TEMP MACRO pgf_to_regnamespace(t) AS pgf_to_reg_x({sid}, 4089, t)",
)


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


SESSION_MACRO_SQL: dict[str, str] = {
    m.split("MACRO ", 1)[1].split("(", 1)[0]: m for m in SESSION_MACROS
}  # macro name -> its CREATE statement


def register_session(
    cur: duckdb.DuckDBPyConnection,
    *,
    sid: int,
    user: str,
    database: str,
    pid: int,
    started: str,
    only: Collection[str] | None = None,
) -> None:
    """Create this session's macros (all, or just `only`): each costs ~1 ms of DuckDB catalog work."""
    values = {
        "sid": str(sid),
        "user": _sql_str(user),
        "database": _sql_str(database),
        "pid": str(pid),
        "started": _sql_str(started),
    }
    for name, m in SESSION_MACRO_SQL.items():
        if only is None or name in only:
            cur.execute(m.format(**values))


def _pg_format(fmt: str | None, args: list[str | None] | None) -> str | None:
    """PostgreSQL's format(): %s, %I, %L, %% and positional %n$s."""
    if fmt is None:
        return None
    values = list(args or [])
    out: list[str] = []
    i = 0
    pos = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        m = re.match(r"%(?:(\d+)\$)?(-?\d*)([sIL%])", fmt[i:])
        if not m:
            raise PgError(E.INVALID_PARAMETER_VALUE, "unrecognized format() type specifier")
        kind = m.group(3)
        i += m.end()
        if kind == "%":
            out.append("%")
            continue
        if m.group(1):
            pos = int(m.group(1)) - 1
        if pos >= len(values):
            raise PgError(E.INVALID_PARAMETER_VALUE, "too few arguments for format()")
        v = values[pos]
        pos += 1
        if kind == "s":
            out.append("" if v is None else v)
        elif kind == "I":
            if v is None:
                raise PgError(E.INVALID_PARAMETER_VALUE, "null values cannot be formatted as an SQL identifier")
            out.append(F.quote_ident(v))
        else:
            out.append("NULL" if v is None else "'" + v.replace("'", "''") + "'")
    return "".join(out)


def _regexp_instr(s: str, pattern: str, start: int) -> int:
    m = re.compile(pattern).search(s, max(start - 1, 0))
    return m.start() + 1 if m else 0
