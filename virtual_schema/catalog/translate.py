"""PostgreSQL catalog SQL -> DuckDB SQL over the emulated catalog, plus PostgreSQL result shapes.

sqlglot parses the statement as PostgreSQL and renders DuckDB; the rewrites below cover what the
dialect translation cannot know: which relations are catalog relations (search_path with pg_catalog
implicitly first), PostgreSQL-only types (oid, name, regclass, int2vector with 0-based subscripts),
catalog functions, set-returning functions in the select list, and the column names PostgreSQL would
give unnamed expressions.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from virtual_schema import errors as E
from virtual_schema.catalog import pgnumeric
from virtual_schema.catalog.colnames import target_names
from virtual_schema.catalog.context import DUCK_DB, SCHEMA_ALIAS, SESSION_RELATIONS, CatalogVersion
from virtual_schema.catalog.formatting import format_type
from virtual_schema.catalog.returning import returning_select
from virtual_schema.catalog.textvalues import literal_text
from virtual_schema.catalog.typeres import literal_type, type_rules
from virtual_schema.compiler.pgarith import pg_float_text
from virtual_schema.errors import PgError
from virtual_schema.pgextract import DATE_PART, ExtractPostgres, check_date_field, field_of, pg_extract
from virtual_schema.pgtypes import (
    TYPES_BY_NAME,
    TYPES_BY_OID,
    UNCONSTRAINED_PRECISION,
    UNCONSTRAINED_SCALE,
    PgColumnType,
    pg_type_for_sql_name,
)

REG_NAMES = {
    "regclass": 2205,
    "regtype": 2206,
    "regproc": 24,
    "regprocedure": 2202,
    "regnamespace": 4089,
    "regrole": 4096,
    "regoper": 2203,
    "regoperator": 2204,
    "regconfig": 3734,
    "oid": 26,
}
VECTOR_COLUMNS = frozenset(
    {
        "indkey",
        "indoption",
        "indclass",
        "indcollation",
        "proargtypes",
        "stxkeys",
        "partattrs",
        "partclass",
        "partcollation",
    }
)
IS_DOMAIN_TYPES = {
    "cardinal_number": 13221,
    "character_data": 13224,
    "sql_identifier": 13226,
    "time_stamp": 13232,
    "yes_or_no": 13234,
}

# Type names PostgreSQL accepts that are not pg_type names.
TYPE_NAME_ALIASES = {"varbit": "varbit", "bit varying": "varbit", "timetz": "timetz", "bpchar": "bpchar"}
# Types DuckDB cannot hold: a constant of one becomes the text PostgreSQL would print (textvalues.py).
TEXT_CARRIED = frozenset({869, 650, 829, 790, 1560, 1562, 3220, 600, 1266, 3802, 114, 142, 3904, 3926})

# Return types (PostgreSQL OIDs) of functions whose result type DuckDB cannot tell apart.
FUNC_TYPES: dict[str, int] = {
    "current_database": 19,
    "current_schema": 19,
    "current_user": 19,
    "session_user": 19,
    "user": 19,
    "current_catalog": 19,
    "current_role": 19,
    "pg_get_userbyid": 19,
    "pg_encoding_to_char": 19,
    "current_schemas": 1003,
    "version": 25,
    "format_type": 25,
    "pg_get_expr": 25,
    "pg_get_indexdef": 25,
    "pg_get_constraintdef": 25,
    "pg_get_viewdef": 25,
    "obj_description": 25,
    "col_description": 25,
    "shobj_description": 25,
    "current_setting": 25,
    "set_config": 25,
    "quote_ident": 25,
    "pg_backend_pid": 23,
    "to_regtype": 2206,
    "pg_typeof": 2206,
    "str_to_time": 1184,  # to_timestamp(text, text)
    "unix_to_time": 1184,  # to_timestamp(float8)
    "str_to_date": 1082,  # to_date(text, text)
    "to_regclass": 2205,
    "to_regproc": 24,
    "to_regnamespace": 4089,
    "pg_my_temp_schema": 26,
    "pg_postmaster_start_time": 1184,
    "inet_server_addr": 869,
    "inet_client_addr": 869,
    "pg_get_serial_sequence": 25,
    "array_to_string": 25,
    "format": 25,
    "pg_is_in_recovery": 16,
    "pg_table_is_visible": 16,
    "pg_type_is_visible": 16,
    "pg_function_is_visible": 16,
    "pg_is_other_temp_schema": 16,
    "_pg_expandarray": 2249,
    "_pg_numeric_precision": 23,
    "_pg_numeric_scale": 23,
    "_pg_datetime_precision": 23,
    "_pg_numeric_precision_radix": 23,
    "_pg_char_max_length": 23,
    "_pg_char_octet_length": 23,
    "_pg_truetypid": 26,
    "_pg_truetypmod": 23,
    "_pg_interval_type": 25,
    "txid_current": 20,
    "pg_get_function_result": 25,
    "pg_get_function_arguments": 25,
    "pg_get_function_identity_arguments": 25,
    "pg_tablespace_location": 25,
    "pg_get_partkeydef": 25,
    "pg_get_triggerdef": 25,
    "pg_get_ruledef": 25,
    "pg_get_statisticsobjdef_columns": 25,
    "pg_relation_size": 20,
    "pg_total_relation_size": 20,
    "pg_table_size": 20,
    "pg_indexes_size": 20,
    "pg_size_pretty": 25,
    "pg_encoding_max_length": 23,
    "pg_char_to_encoding": 23,
    "pg_client_encoding": 19,
    "generate_series": 23,
    "now": 1184,
    "statement_timestamp": 1184,
    "transaction_timestamp": 1184,
    "clock_timestamp": 1184,
    "pg_get_keywords": 2249,
    "pg_get_function_sqlbody": 25,
    "regexp_instr": 23,
    "length": 23,
    "char_length": 23,
    "character_length": 23,
    "octet_length": 23,
    "bit_length": 23,
    "str_position": 23,
    "strpos": 23,
    "ascii": 23,
    "quote_literal": 25,
    "quote_nullable": 25,
    "every": 16,
    "bool_and": 16,
    "bool_or": 16,
    "logical_and": 16,
    "logical_or": 16,
    "json_build_object": 114,
    "json_object": 114,
    "array_upper": 23,
    "array_lower": 23,
    "array_length": 23,
    "array_size": 23,
    "cardinality": 23,
    "pg_relation_is_publishable": 16,
    "pg_partition_ancestors": 2205,
}
for _n in (
    "has_table_privilege",
    "has_schema_privilege",
    "has_database_privilege",
    "has_column_privilege",
    "has_any_column_privilege",
    "has_function_privilege",
    "has_sequence_privilege",
    "has_type_privilege",
    "has_language_privilege",
    "has_foreign_data_wrapper_privilege",
    "has_server_privilege",
    "has_tablespace_privilege",
    "pg_has_role",
):
    FUNC_TYPES[_n] = 16

# Functions answered by our own macros/UDFs (renamed to avoid DuckDB's built-ins of the same name).
OWN_FUNCS = frozenset(
    {
        "current_database",
        "current_schema",
        "current_schemas",
        "version",
        "format_type",
        "pg_get_expr",
        "pg_get_indexdef",
        "pg_get_constraintdef",
        "pg_get_viewdef",
        "obj_description",
        "col_description",
        "shobj_description",
        "current_setting",
        "set_config",
        "quote_ident",
        "pg_backend_pid",
        "to_regtype",
        "to_regclass",
        "to_regproc",
        "to_regnamespace",
        "pg_my_temp_schema",
        "pg_postmaster_start_time",
        "inet_server_addr",
        "inet_client_addr",
        "pg_get_serial_sequence",
        "pg_is_in_recovery",
        "pg_table_is_visible",
        "pg_type_is_visible",
        "pg_function_is_visible",
        "pg_is_other_temp_schema",
        "pg_get_userbyid",
        "pg_encoding_to_char",
        "_pg_numeric_precision",
        "_pg_numeric_scale",
        "_pg_datetime_precision",
        "_pg_numeric_precision_radix",
        "_pg_char_max_length",
        "_pg_char_octet_length",
        "_pg_interval_type",
        "txid_current",
        "pg_get_function_result",
        "pg_get_function_arguments",
        "pg_get_function_identity_arguments",
        "pg_tablespace_location",
        "pg_get_partkeydef",
        "pg_get_triggerdef",
        "pg_get_ruledef",
        "pg_get_statisticsobjdef_columns",
        "pg_relation_size",
        "pg_total_relation_size",
        "pg_table_size",
        "pg_indexes_size",
        "pg_size_pretty",
        "pg_encoding_max_length",
        "pg_char_to_encoding",
        "pg_client_encoding",
        "format",
        "regexp_instr",
        "pg_relation_is_publishable",
        "pg_get_function_sqlbody",
        "pg_get_late_binding_view_cols_x",
    }
)
DROP_EXTRA_ARGS = {
    "pg_get_expr": 2,
    "pg_get_constraintdef": 1,
    "pg_get_viewdef": 1,
    "obj_description": 2,
    "shobj_description": 2,
    "current_setting": 2,
}
FUNC_PREFIX = "pgf_"
# meta flag of a numeric computed by pgnumeric.py in Python and carried as PostgreSQL's numeric text
NUMERIC_TEXT = "pg_numeric_text"
_NUMERIC_OPS: dict[type[exp.Expr], str] = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}
_NUMERIC_FUNCS = frozenset({"round", "trunc", "ceil", "ceiling", "floor", "abs"})


@dataclass
class Plan:
    """A translated statement, cached per (text, catalog version)."""

    kind: str  # select | ddl | insert | dml (UPDATE, DELETE) | truncate | drop | empty
    duck_sql: str
    names: list[str | None]  # PostgreSQL output names per projection (None: take DuckDB's)
    inferred: list[PgColumnType | None]
    relations: set[tuple[str, str]] = field(default_factory=set)  # catalog relations read
    unknown: list[tuple[str, int | None]] = field(default_factory=list)  # (name, position) maybe temp tables
    session_relations: set[tuple[str, str]] = field(default_factory=set)
    param_count: int = 0
    param_hints: dict[int, int] = field(default_factory=dict)  # $n -> inferred type oid
    param_map: list[int] = field(default_factory=list)  # DuckDB $k -> client's $n (dropped args removed)
    tag: str = "SELECT"
    has_star: bool = False
    reg_outputs: dict[int, int] = field(default_factory=dict)  # projection index -> reg* type oid
    name_types: dict[str, PgColumnType] = field(default_factory=dict)  # unambiguous catalog column types
    out_types: list[PgColumnType | None] | None = None  # per output column when stars could be expanded
    overlay: bool = False  # reads a session's temp-table overlay: never shared between sessions
    created: str | None = None  # temp table a CREATE / SELECT INTO makes (name as PostgreSQL folds it)
    created_types: list[tuple[str, PgColumnType | None]] = field(default_factory=list)  # its declared columns
    target: str | None = None  # the table an INSERT / UPDATE / DELETE writes (name as PostgreSQL folds it)
    returning: Plan | None = None  # DML with RETURNING: the SELECT that describes its rows (returning.py)


def _written_table(tree: exp.Insert | exp.Update | exp.Delete) -> exp.Table | None:
    """The table an INSERT (whose target may carry a column list), UPDATE or DELETE writes."""
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    return target if isinstance(target, exp.Table) else None


def _lower_name(ident: exp.Identifier | None) -> str | None:
    if ident is None:
        return None
    return ident.name if ident.quoted else ident.name.lower()


def _position(sql: str, name: str) -> int | None:
    m = re.search(r'(?<![\w"])"?' + re.escape(name) + r'"?(?![\w"])', sql, re.IGNORECASE)
    return m.start() + 1 if m else None


_TYPED_LITERAL_CAST = re.compile(
    r"\b(?:date|time|timestamp|timestamptz|interval|numeric|int[248]?|text)\s+'(?:[^']|'')*'\s*::", re.IGNORECASE
)


class _CatalogPostgres(ExtractPostgres):
    """to_char stays a call with PostgreSQL's template (tochar.py) instead of becoming a strftime format."""

    class Parser(ExtractPostgres.Parser):
        FUNCTIONS = {
            **ExtractPostgres.Parser.FUNCTIONS,
            "TO_CHAR": lambda args: exp.Anonymous(this="to_char", expressions=args),
        }


def parse(sql: str) -> list[exp.Expr]:
    """Parse PostgreSQL SQL with sqlglot; syntax errors become 42601."""
    cleaned = sql
    if re.match(r"\s*CREATE\b", sql, flags=re.IGNORECASE):  # not inside 'LOCAL TEMPORARY' literals of queries
        cleaned = re.sub(r"^(\s*CREATE\s+)(?:LOCAL|GLOBAL)\s+(TEMP|TEMPORARY)\b", r"\1\2", cleaned, flags=re.IGNORECASE)
        cleaned = re.sub(r"\bON\s+COMMIT\s+(PRESERVE|DELETE)\s+ROWS\b", "", cleaned, flags=re.IGNORECASE)
    cleaned = re.sub(
        r"(?<=::)\s*(?:pg_catalog\.)?(oid|regtype|regclass|regproc|name|regnamespace)\s*\[\]",
        r"_\1",
        cleaned,
        flags=re.IGNORECASE,
    )
    if _TYPED_LITERAL_CAST.search(cleaned):
        # sqlglot reads date '…'::timestamp as date ('…'::timestamp); PostgreSQL's parser, deparsed, nests the
        # casts the right way round
        with contextlib.suppress(Exception):
            cleaned = _pglast_normalize(cleaned)
    try:
        parsed = sqlglot.parse(cleaned, read=_CatalogPostgres)
    except (ParseError, TokenError) as e:
        first = str(e).splitlines()[0][:200]
        try:
            normalized = _pglast_normalize(cleaned)
        except PgError:
            raise
        except Exception:
            raise PgError(E.SYNTAX_ERROR, f"syntax error: {first}") from None
        try:
            parsed = sqlglot.parse(normalized, read=_CatalogPostgres)
        except (ParseError, TokenError):
            raise PgError(E.SYNTAX_ERROR, f"syntax error: {first}") from None
    return [p for p in parsed if p is not None]


def _pglast_normalize(sql: str) -> str:
    """PostgreSQL's own parser, deparsed: quotes keyword aliases such as `AS update` that sqlglot rejects."""
    import pglast
    from pglast.stream import RawStream

    try:
        stmts = pglast.parse_sql(sql)
    except pglast.parser.ParseError as e:
        raise PgError(
            E.SYNTAX_ERROR,
            str(e).split(", at index")[0],
            position=int(getattr(e, "location", -1)) + 1 if getattr(e, "location", None) is not None else None,
        ) from None
    return "; ".join(RawStream()(s) for s in stmts)


# A temp table's unconstrained numeric column is stored as this DECIMAL (PostgreSQL keeps any scale; DuckDB's bare
# DECIMAL is DECIMAL(18,3) and would round 0.12345 to 0.123); values print without its trailing zeros.
UNCONSTRAINED_STORAGE = f"DECIMAL({UNCONSTRAINED_PRECISION},{UNCONSTRAINED_SCALE})"


class Translator:
    """Translate one statement against one catalog version."""

    def __init__(
        self,
        cat: CatalogVersion,
        search_path: tuple[str, ...],
        overlay: frozenset[tuple[str, str]] = frozenset(),
        temp_columns: dict[str, tuple[tuple[str, PgColumnType], ...]] | None = None,
        temp_oids: dict[str, int] | None = None,
    ) -> None:
        self.cat = cat
        self.search_path = search_path
        # this session's temp tables: name -> (column, PostgreSQL type) as declared, and name -> pg_class oid
        self.temp_columns = temp_columns or {}
        self.temp_oids = temp_oids or {}
        # relations read through a session's temp view "__ov_<rel>" (catalog rows + its temp tables)
        self.overlay = overlay

    # ------------------------------------------------------------------ entry
    def translate(self, sql: str) -> Plan:
        stmts = parse(sql)
        if not stmts:
            return Plan("empty", "", [], [])
        if len(stmts) > 1:
            raise PgError(E.SYNTAX_ERROR, "cannot insert multiple commands into a prepared statement")
        tree = stmts[0]
        plan = Plan("select", "", [], [])
        if isinstance(tree, exp.Values):
            tree = _values_query(tree)
        _values_column_names(tree)
        if isinstance(tree, exp.Command):
            raise PgError(E.FEATURE_NOT_SUPPORTED, f"statement not supported by the catalog: {sql.strip()[:60]}")
        if isinstance(tree, exp.Select) and tree.args.get("into") is not None:
            into = tree.args["into"]
            tree.set("into", None)
            target = into.this
            _fold_identifiers(tree)
            _fold_identifiers(target)
            tree = exp.Create(
                this=target,
                kind="TABLE",
                expression=tree,
                properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
            )
            plan.kind, plan.tag = "ddl", "SELECT"
        elif isinstance(tree, exp.Create):
            plan.kind, plan.tag = "ddl", "CREATE TABLE"
            props = tree.args.get("properties")
            is_temp = props is not None and any(isinstance(p, exp.TemporaryProperty) for p in props.expressions)
            if not is_temp or tree.kind != "TABLE":
                raise PgError(E.READ_ONLY_SQL_TRANSACTION, "cannot execute CREATE in a read-only transaction")
            _fold_identifiers(tree)
            if tree.expression is not None:
                plan.tag = "SELECT"  # CREATE TABLE AS reports the rows it stored, as SELECT INTO does
        elif isinstance(tree, exp.Insert | exp.Update | exp.Delete):
            plan.kind, plan.tag = ("insert", "INSERT") if isinstance(tree, exp.Insert) else \
                ("dml", "UPDATE" if isinstance(tree, exp.Update) else "DELETE")
            _fold_identifiers(tree)
            written = _written_table(tree)
            if written is not None and isinstance(written.this, exp.Identifier):
                plan.target = _lower_name(written.this)
            self._returning(tree, sql, plan)
            if isinstance(tree, exp.Insert):
                _plain_insert_target(tree)
        elif isinstance(tree, exp.TruncateTable):
            plan.kind, plan.tag = "truncate", "TRUNCATE TABLE"
            _fold_identifiers(tree)
        elif isinstance(tree, exp.Drop):
            plan.kind, plan.tag = "drop", "DROP TABLE"
            _fold_identifiers(tree)
        elif not isinstance(tree, exp.Query):
            raise PgError(E.FEATURE_NOT_SUPPORTED, f"statement not supported by the catalog: {sql.strip()[:60]}")

        self._plan = plan
        self._sql = sql
        self._cte_names = {
            _lower_name(c.args["alias"].this) for c in tree.find_all(exp.CTE) if c.args.get("alias") is not None
        }
        self._aliases: dict[str, tuple[str, str]] = {}
        self._func_aliases: set[str] = set()
        self._derived: dict[str, exp.Expr] = {}
        self._derived_names: dict[int, list[str]] = {}  # id(derived query) -> column names its alias gives
        self._rewrite_tables(tree)
        self._check_temp_columns(tree)
        if isinstance(tree, exp.Query):
            self._projections(tree)
            self._name_types()
        elif isinstance(tree, exp.Create):
            self._created(tree)
        self._params(tree)
        tree = self._rewrite_expressions(tree)
        fence_numeric_text(tree)
        self._renumber_params(tree)
        if isinstance(tree, exp.TruncateTable):
            # DuckDB truncates one table per statement and knows no RESTART IDENTITY / CASCADE (temp tables
            # have neither sequences nor referencing tables here): DELETE without WHERE per table is the same
            plan.duck_sql = "; ".join(
                exp.Delete(this=exp.Table(this=t.this.copy())).sql(dialect="duckdb")
                for t in tree.expressions if isinstance(t, exp.Table)
            )
        elif isinstance(tree, exp.Drop) and len(tree.args.get("tables") or []) > 1:
            # DuckDB drops one table per statement; PostgreSQL's list becomes one statement per table
            drops = []
            for t in tree.args["tables"]:
                one = tree.copy()
                one.set("tables", [t.copy()])
                drops.append(one.sql(dialect="duckdb"))
            plan.duck_sql = "; ".join(drops)
        else:
            plan.duck_sql = tree.sql(dialect="duckdb")
        return plan

    def _returning(self, tree: exp.Insert | exp.Update | exp.Delete, sql: str, plan: Plan) -> None:
        """RETURNING: translate the SELECT that describes its rows and give DuckDB PostgreSQL's output names."""
        clause = tree.args.get("returning")
        query = returning_select(sql) if isinstance(clause, exp.Returning) else None
        if clause is None or query is None:
            return
        self._returning_target_only(tree, clause, plan.target)
        plan.returning = Translator(self.cat, self.search_path, self.overlay, self.temp_columns,
                                    self.temp_oids).translate(query)
        names = plan.returning.names
        if len(names) != len(clause.expressions):
            return
        for proj, name in zip(list(clause.expressions), names, strict=True):
            if name is None:
                continue
            inner = proj.this if isinstance(proj, exp.Alias) else proj
            proj.replace(exp.alias_(inner.copy(), exp.to_identifier(name, quoted=True)))

    def _returning_target_only(self, tree: exp.Update | exp.Delete | exp.Insert, clause: exp.Returning,
                               name: str | None) -> None:
        """DuckDB's RETURNING sees only the written table (`name`): with UPDATE … FROM / DELETE … USING, an item
        that could read another relation (`*`, another table's column) would silently lose it, so refuse it."""
        others = tree.args.get("using") or tree.args.get("from_")
        if not others:
            return
        target = _written_table(tree)
        own = {target.alias_or_name.lower()} if target is not None else set()
        columns = {c.lower() for c, _t in self.temp_columns.get(name or "", ())}
        for col in clause.find_all(exp.Column, exp.Star):
            if isinstance(col, exp.Star) and isinstance(col.parent, exp.Column):
                continue
            qualifier = col.table.lower() if isinstance(col, exp.Column) else ""
            bare = isinstance(col, exp.Column) and not qualifier and not isinstance(col.this, exp.Star) \
                and col.name.lower() in columns
            if qualifier not in own and not bare:
                raise PgError(E.FEATURE_NOT_SUPPORTED, "RETURNING of UPDATE … FROM / DELETE … USING can only read "
                              "the table being written on this gateway", hint="Qualify RETURNING items with it.")

    def _created(self, tree: exp.Create) -> None:
        """Name and declared column types of the temp table a CREATE / SELECT INTO makes."""
        target = tree.this
        table = target.this if isinstance(target, exp.Schema) else target
        if isinstance(table, exp.Table):
            self._plan.created = _lower_name(table.this) if isinstance(table.this, exp.Identifier) else None
        if isinstance(target, exp.Schema):
            self._plan.created_types = [
                (_lower_name(c.this) or "", self.cast_type(c.args["kind"]) if c.args.get("kind") else None)
                for c in target.expressions
                if isinstance(c, exp.ColumnDef)
            ]
            for c in target.expressions:
                kind = c.args.get("kind") if isinstance(c, exp.ColumnDef) else None
                if isinstance(kind, exp.DataType) and kind.this == exp.DataType.Type.DECIMAL and not kind.expressions:
                    c.set("kind", exp.DataType.build(UNCONSTRAINED_STORAGE))  # DuckDB's bare DECIMAL keeps 3 places
        elif isinstance(tree.expression, exp.Query):
            self._projections(tree.expression)
            names, types = self._plan.names, self._plan.inferred
            if not self._plan.has_star:
                self._plan.created_types = [(n or "?column?", t) for n, t in zip(names, types, strict=False)]
            elif self._plan.out_types is not None:
                self._plan.created_types = [("", t) for t in self._plan.out_types]
            self._plan.names, self._plan.inferred, self._plan.has_star = [], [], False
            self._plan.out_types, self._plan.reg_outputs = None, {}

    def _check_temp_columns(self, tree: exp.Expr) -> None:
        """PostgreSQL matches column names exactly (after folding); DuckDB would accept "region" for "Region"."""
        temps = {k: v for k, v in self._aliases.items() if v[0] == "pg_temp"}
        if not temps:
            return
        exact: set[str] = set()
        folded: dict[str, str] = {}
        for _nsp, rel in temps.values():
            for n, _t in self.temp_columns.get(rel, ()):
                exact.add(n)
                folded.setdefault(n.lower(), n)
        for col in tree.find_all(exp.Column):
            if not isinstance(col.this, exp.Identifier):
                continue
            name = _lower_name(col.this) or ""
            if name in exact or name.lower() not in folded:
                continue
            qualifier = col.table
            if qualifier and qualifier.lower() not in {k.lower() for k in temps}:
                continue
            raise PgError(E.UNDEFINED_COLUMN, f'column "{name}" does not exist', position=_position(self._sql, name))

    # ------------------------------------------------------------------ relations
    def _rewrite_tables(self, tree: exp.Expr) -> None:
        for table in list(tree.find_all(exp.Table)):
            if not isinstance(table.this, exp.Identifier):
                self._table_function(table)
                continue
            name = _lower_name(table.this) or ""
            db = _lower_name(table.args.get("db")) if isinstance(table.args.get("db"), exp.Identifier) else None
            alias = table.alias_or_name
            alias_key = (
                alias if table.args.get("alias") is not None and table.args["alias"].this.quoted else alias.lower()
            )
            if db is None and name in self._cte_names:
                continue
            if isinstance(table.parent, (exp.Create, exp.Insert, exp.Drop)) or (
                isinstance(table.parent, exp.Schema) and isinstance(table.parent.parent, exp.Create)
            ):
                continue
            if db is None and name == "pg_get_keywords":
                continue
            target = self._resolve(db, name)
            if target is None:
                if db is not None and db not in ("pg_temp",):
                    raise PgError(
                        E.UNDEFINED_TABLE, f'relation "{db}.{name}" does not exist', position=_position(self._sql, name)
                    )
                self._plan.unknown.append((name, _position(self._sql, name)))
                if db == "pg_temp":
                    table.set("db", None)
                if name in self.temp_columns:
                    self._aliases[alias_key] = ("pg_temp", name)
                continue
            nsp, rel = target
            self._plan.relations.add(target)
            self._aliases[alias_key] = target
            if target in self.overlay:
                self._plan.overlay = True
                new = exp.Table(
                    this=exp.to_identifier(f"__ov_{SCHEMA_ALIAS[nsp]}_{rel}", quoted=True),
                    db=exp.to_identifier("main"),
                    catalog=exp.to_identifier("temp"),
                )
            elif target in SESSION_RELATIONS:
                self._plan.session_relations.add(target)
                new = exp.Table(
                    this=exp.to_identifier(f"__{rel}", quoted=True),
                    db=exp.to_identifier("main"),
                    catalog=exp.to_identifier("temp"),
                )
            else:
                new = exp.Table(
                    this=exp.to_identifier(rel, quoted=True),
                    db=exp.to_identifier(SCHEMA_ALIAS[nsp]),
                    catalog=exp.to_identifier(DUCK_DB),
                )
            if table.args.get("alias") is None:
                new.set("alias", exp.TableAlias(this=exp.to_identifier(rel, quoted=True)))
            else:
                new.set("alias", table.args["alias"])
            for k in ("joins", "laterals", "pivots", "hints"):
                if table.args.get(k):
                    new.set(k, table.args[k])
            table.replace(new)
        for sub in tree.find_all(exp.Subquery):
            a = sub.args.get("alias")
            if a is not None and isinstance(sub.this, exp.Query):
                self._derived[_lower_name(a.this) or ""] = sub.this
        for cte in tree.find_all(exp.CTE):
            a = cte.args.get("alias")
            if a is not None:
                self._derived[_lower_name(a.this) or ""] = cte.this
        for node in tree.find_all(exp.CTE, exp.Subquery, exp.Values):
            a = node.args.get("alias")
            body = node if isinstance(node, exp.Values) else node.this
            if a is not None and a.columns and isinstance(body, exp.Query | exp.Values):
                self._derived[_lower_name(a.this) or ""] = body
                self._derived_names[id(body)] = [_lower_name(c) or "" for c in a.columns]

    def _resolve(self, db: str | None, name: str) -> tuple[str, str] | None:
        if db is not None:
            if db in ("pg_catalog", "information_schema"):
                return (db, name) if self.cat.system_relation(db, name) else None
            return None
        if self.cat.system_relation("pg_catalog", name):
            return ("pg_catalog", name)
        for nsp in self.search_path:
            if nsp == "information_schema" and self.cat.system_relation(nsp, name):
                return (nsp, name)
        return None

    def _table_function(self, table: exp.Table) -> None:
        """Table functions in FROM: drop the pg_catalog qualifier; a bare alias names the column too."""
        db = table.args.get("db")
        if isinstance(db, exp.Identifier) and db.name.lower() in ("pg_catalog", "information_schema"):
            table.set("db", None)
        fn = table.this
        alias = table.args.get("alias")
        fname = _func_name(fn)
        if fname == "pg_get_keywords":
            new = exp.Table(
                this=exp.to_identifier("__keywords", quoted=True),
                db=exp.to_identifier("pgc"),
                catalog=exp.to_identifier(DUCK_DB),
            )
            new.set("alias", alias or exp.TableAlias(this=exp.to_identifier("pg_get_keywords")))
            table.replace(new)
            self._aliases[(alias.name if alias is not None else "pg_get_keywords").lower()] = (
                "pg_catalog",
                "__keywords",
            )
            self._plan.relations.add(("pg_catalog", "__keywords"))
            return
        if fname in ("pg_get_late_binding_view_cols",) or (fname and fname.startswith(("svv_", "stl_", "stv_"))):
            raise PgError(
                E.UNDEFINED_FUNCTION,
                f"function {fname}() does not exist",
                hint="No function matches the given name and argument types. You might need to add "
                "explicit type casts.",
                position=_position(self._sql, fname),
            )
        if fname == "_pg_expandarray":
            args = _func_args(fn) if not isinstance(fn, exp.Anonymous) else list(fn.expressions)
            arr = args[0]
            sel = exp.select(
                exp.alias_(exp.Anonymous(this="unnest", expressions=[arr.copy()]), "x"),
                exp.alias_(
                    _cast(
                        exp.Anonymous(
                            this="unnest",
                            expressions=[
                                exp.Anonymous(
                                    this="range",
                                    expressions=[
                                        exp.Literal.number(1),
                                        exp.Add(
                                            this=exp.Anonymous(this="len", expressions=[arr.copy()]),
                                            expression=exp.Literal.number(1),
                                        ),
                                    ],
                                )
                            ],
                        ),
                        "INTEGER",
                    ),
                    "n",
                ),
            )
            sub = exp.Subquery(
                this=sel,
                alias=exp.TableAlias(this=exp.to_identifier(alias.name if alias is not None else "_pg_expandarray")),
            )
            table.replace(sub)
            return
        if alias is not None and fname in ("generate_series", "generate_subscripts"):
            self._func_aliases.add(alias.name.lower())
        if alias is not None and not alias.columns and fname in ("generate_series", "unnest", "generate_subscripts"):
            alias.set("columns", [exp.to_identifier(alias.name)])
        elif alias is None and fname in ("generate_series", "unnest"):
            table.set("alias", exp.TableAlias(this=exp.to_identifier(fname), columns=[exp.to_identifier(fname)]))

    # ------------------------------------------------------------------ projections
    def _projections(self, tree: exp.Query) -> None:
        select = _leftmost(tree)
        if not isinstance(select, exp.Select):
            return
        names: list[str | None] = []
        types: list[PgColumnType | None] = []
        # PostgreSQL's own parser names the columns (sqlglot renames functions: substr -> SUBSTRING)
        pg_names = target_names(self._sql)
        if pg_names is not None and len(pg_names) != len(select.expressions):
            pg_names = None
        for i, proj in enumerate(select.expressions):
            if isinstance(proj, exp.Star) or (isinstance(proj, exp.Column) and isinstance(proj.this, exp.Star)):
                self._plan.has_star = True
                names.append(None)
                types.append(None)
                continue
            if isinstance(proj, exp.Alias):
                name = _lower_name(proj.args.get("alias"))
                inner = proj.this
            else:
                name = pg_colname(proj)
                inner = proj
            if pg_names is not None and pg_names[i] is not None:
                name = pg_names[i]
            names.append(name)
            types.append(self.infer(inner, 0))
        if isinstance(_unwrap(tree), exp.SetOperation):
            resolved = self._setop_types(tree, 0)
            if resolved is not None and len(resolved) == len(types):
                types = [t if r is _UNTYPED else r for t, r in zip(types, resolved, strict=True)]
        self._plan.names = names
        self._plan.inferred = types
        if self._plan.has_star:
            expanded = self._expand(select, 0)
            self._plan.out_types = [t for _n, t in expanded] if expanded is not None else None
        for i, t in enumerate(types):
            if t is not None and t.oid in (2205, 2206, 24, 4089, 4096, 2202):
                self._plan.reg_outputs[i] = t.oid
        # Give DuckDB the PostgreSQL output names (it keeps the case of unquoted aliases).
        if True:
            for i, proj in enumerate(list(select.expressions)):
                if names[i] is None:
                    continue
                if isinstance(proj, exp.Alias):
                    proj.set("alias", exp.to_identifier(names[i], quoted=True))
                else:
                    proj.replace(exp.alias_(proj.copy(), exp.to_identifier(names[i], quoted=True)))

    def _setop_types(self, q: exp.Expr, depth: int) -> list[PgColumnType | None] | None:
        """UNION / INTERSECT / EXCEPT column types as transformSetOperationTree resolves them: each set
        operation takes select_common_type of its two inputs, unknown literals ('x', NULL) giving way
        (None here); a column some branch cannot type is _UNTYPED; None when the shape is unknown (stars)."""
        q = _unwrap(q)
        if depth > 16:
            return None
        if isinstance(q, exp.SetOperation):
            left, right = self._setop_types(q.this, depth + 1), self._setop_types(q.expression, depth + 1)
            if left is None or right is None or len(left) != len(right):
                return None
            rules = type_rules()
            return [
                _UNTYPED if a is _UNTYPED or b is _UNTYPED else rules.common([a, b])
                for a, b in zip(left, right, strict=True)
            ]
        if not isinstance(q, exp.Select):
            return None
        out: list[PgColumnType | None] = []
        for p in q.expressions:
            inner = p.this if isinstance(p, exp.Alias) else p
            if isinstance(inner, exp.Star) or (isinstance(inner, exp.Column) and isinstance(inner.this, exp.Star)):
                return None
            if isinstance(inner, exp.Null) or (isinstance(inner, exp.Literal) and inner.is_string):
                out.append(None)
                continue
            t = self.infer(inner, depth + 1)
            out.append(_UNTYPED if t is None else t)
        return out

    def _sources(self, select: exp.Select) -> list[tuple[str, Any]]:
        """(alias, source) per FROM item: ('rel', (nsp, name)) or ('derived', query) or ('?', None)."""
        items: list[exp.Expr] = []
        frm = select.args.get("from_") or select.args.get("from")
        if frm is not None:
            items.append(frm.this)
        for j in select.args.get("joins") or []:
            items.append(j.this)
        out: list[tuple[str, Any]] = []
        for it in items:
            alias = it.alias_or_name
            key = alias.lower() if alias else ""
            if isinstance(it, exp.Table) and key in self._aliases:
                out.append((key, ("rel", self._aliases[key])))
            elif isinstance(it, exp.Table) and it.name.lower() in self._cte_names:
                out.append((key, ("derived", self._derived.get(it.name.lower()))))
            elif isinstance(it, exp.Subquery):
                out.append((key, ("derived", it.this)))
            else:
                out.append((key, ("?", None)))
        return out

    def _expand(self, q: exp.Expr | None, depth: int) -> list[tuple[str, PgColumnType | None]] | None:
        """Output columns of a query with stars expanded, or None when a source is unknown."""
        if q is None or depth > 8:
            return None
        q = _leftmost(q)
        if not isinstance(q, exp.Select):
            return None
        out: list[tuple[str, PgColumnType | None]] = []
        for p in q.expressions:
            star = isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
            if not star:
                inner = p.this if isinstance(p, exp.Alias) else p
                name = _lower_name(p.args.get("alias")) if isinstance(p, exp.Alias) else pg_colname(p)
                out.append((name or "?column?", self.infer(inner, depth + 1)))
                continue
            qual = p.table.lower() if isinstance(p, exp.Column) and p.table else None
            for alias, (kind, src) in self._sources(q):
                if qual is not None and alias != qual:
                    continue
                if kind == "rel" and src[0] == "pg_temp":
                    out.extend(self.temp_columns.get(src[1], ()))
                elif kind == "rel":
                    rel = self.cat.system_relation(*src)
                    if rel is None:
                        return None
                    out.extend((c.name, PgColumnType(c.type_oid, c.typmod)) for c in rel.columns)
                elif kind == "derived":
                    sub = self._expand(src, depth + 1)
                    if sub is None:
                        return None
                    out.extend(sub)
                else:
                    return None
        return out

    def _name_types(self) -> None:
        seen: dict[str, set[PgColumnType]] = {}
        for nsp, rel in self._plan.relations:
            r = self.cat.system_relation(nsp, rel)
            if r is None:
                continue
            for c in r.columns:
                seen.setdefault(c.name, set()).add(PgColumnType(c.type_oid, c.typmod))
        self._plan.name_types = {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}
        for i, (n, t) in enumerate(zip(self._plan.names, self._plan.inferred, strict=False)):
            if n is not None and t is not None:
                self._plan.name_types[n] = t
            del i

    def infer(self, e: exp.Expr, depth: int) -> PgColumnType | None:
        if depth > 12:
            return None
        if isinstance(e, (exp.Paren, exp.Alias)):
            return self.infer(e.this, depth + 1)
        if "pg_type" in e.meta:  # a rewritten node that keeps the PostgreSQL type it had
            return PgColumnType(int(e.meta["pg_type"]), int(e.meta.get("pg_typmod", -1)))
        if isinstance(e, exp.Cast):
            return self.cast_type(e.args["to"])
        if isinstance(e, exp.Interval):
            return PgColumnType(1186)
        if isinstance(e, exp.Neg):
            return self.infer(e.this, depth + 1)
        if isinstance(e, exp.BitString):
            return PgColumnType(1560)
        if isinstance(e, (exp.JSONExtract, exp.JSONBExtract)):
            left = self.infer(e.this, depth + 1)
            return left if left is not None and left.oid in (114, 3802) else None
        if isinstance(e, (exp.JSONExtractScalar, exp.JSONBExtractScalar)):
            return PgColumnType(25)
        if isinstance(e, exp.Column):
            return self.column_type(e, depth)
        if isinstance(e, exp.Literal):
            if e.is_string:
                return PgColumnType(25)
            return literal_type(e.this)
        if isinstance(e, exp.Boolean):
            return PgColumnType(16)
        if isinstance(e, exp.Null):
            return PgColumnType(25)
        if isinstance(
            e,
            (
                exp.EQ,
                exp.NEQ,
                exp.GT,
                exp.GTE,
                exp.LT,
                exp.LTE,
                exp.And,
                exp.Or,
                exp.Not,
                exp.Like,
                exp.ILike,
                exp.RegexpLike,
                exp.Is,
                exp.In,
                exp.Exists,
                exp.Between,
            ),
        ):
            return PgColumnType(16)
        if isinstance(e, (exp.DPipe, exp.Concat)):
            return PgColumnType(25)
        if isinstance(e, exp.Case):
            # PostgreSQL considers the ELSE result first (a NULL of unknown type when omitted)
            branches: list[exp.Expr | None] = [e.args.get("default")]
            branches += [w.args["true"] for w in e.args.get("ifs") or []]
            return self._common_type(branches, depth)
        if isinstance(e, exp.Coalesce):
            return self._common_type([e.this, *e.expressions], depth)
        if isinstance(e, (exp.Greatest, exp.Least)):
            return self._common_type([e.this, *e.expressions], depth)
        if isinstance(e, exp.Nullif):
            return self.infer(e.this, depth + 1)
        if isinstance(e, exp.Window):
            return self.infer(e.this, depth + 1)
        if isinstance(e, exp.Extract):  # numeric since PostgreSQL 14; date_part() is float8
            return PgColumnType(701 if e.meta.get(DATE_PART) else 1700)
        if isinstance(e, (exp.DateTrunc, exp.TimestampTrunc)):
            arg = self.infer(e.this, depth + 1) if e.this is not None else None
            return PgColumnType(1114) if arg is not None and arg.oid == 1114 else PgColumnType(1184)
        if isinstance(e, (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod)):
            lt, rt = self.infer(e.this, depth + 1), self.infer(e.expression, depth + 1)
            if lt is None or rt is None:
                return None
            lt, rt = type_rules().base(lt), type_rules().base(rt)  # cardinal_number is an int4
            if isinstance(e, exp.Sub) and lt.oid == 1082 and rt.oid == 1082:
                return PgColumnType(23)  # date - date: days
            order = [21, 23, 20, 1700, 700, 701]
            if lt.oid in order and rt.oid in order:
                if 700 in (lt.oid, rt.oid) and lt.oid != rt.oid:
                    return PgColumnType(701)  # float4 with anything else resolves to float48 operators
                return PgColumnType(max(lt.oid, rt.oid, key=order.index))
            return None
        if (
            isinstance(e, exp.Array)
            and len(e.expressions) == 1
            and isinstance(e.expressions[0], (exp.Select, exp.Subquery))
        ):
            inner_q = e.expressions[0]
            inner_sel = inner_q.this if isinstance(inner_q, exp.Subquery) else inner_q
            if isinstance(inner_sel, exp.Select) and inner_sel.expressions:
                it = self.infer(inner_sel.expressions[0], depth + 1)
                pt = TYPES_BY_OID.get(it.oid) if it is not None else None
                if pt is not None and pt.array_oid:
                    return PgColumnType(pt.array_oid)
            return None
        if isinstance(e, exp.Array) and e.expressions and not isinstance(e.expressions[0], (exp.Select, exp.Subquery)):
            elem = self._common_type(list(e.expressions), depth)
            pt = TYPES_BY_OID.get(elem.oid) if elem is not None else None
            return PgColumnType(pt.array_oid) if pt is not None and pt.array_oid else None
        if isinstance(e, exp.Subquery) and isinstance(e.this, exp.Select) and e.this.expressions:
            return self.infer(e.this.expressions[0], depth + 1)
        if isinstance(e, exp.Dot):
            if isinstance(e.this, exp.Identifier) and isinstance(e.expression, exp.Func):
                return self.infer(e.expression, depth + 1)
            if isinstance(e.expression, exp.Identifier) and e.expression.name.lower() in ("x", "n"):
                return PgColumnType(23)
            return None
        if isinstance(
            e, (exp.CurrentUser, exp.SessionUser, exp.CurrentCatalog, exp.CurrentSchema, exp.CurrentDatabase)
        ):
            return PgColumnType(19)
        if isinstance(e, exp.CurrentVersion):
            return PgColumnType(25)
        if isinstance(e, exp.CurrentTimestamp):
            return PgColumnType(1184)
        if isinstance(e, exp.CurrentDate):
            return PgColumnType(1082)
        if isinstance(e, exp.Func):
            name = _func_name(e)
            if name is not None and name.startswith(FUNC_PREFIX):
                name = name[len(FUNC_PREFIX) :]
            if name in FUNC_TYPES:
                return PgColumnType(FUNC_TYPES[name])
            if name in (
                "lower",
                "upper",
                "trim",
                "btrim",
                "ltrim",
                "rtrim",
                "replace",
                "substring",
                "substr",
                "left",
                "right",
                "concat",
                "to_char",
                "string_agg",
                "md5",
                "repeat",
                "lpad",
                "rpad",
            ):
                return PgColumnType(25)
            if name in ("max", "min") and e.this is not None:
                arg = self.infer(e.this, depth + 1)
                # there is no max(varchar) / max(name): PostgreSQL takes max(text)
                return PgColumnType(25) if arg is not None and arg.oid in (1043, 19) else arg
            if name in ("sum", "avg") and e.this is not None:
                arg = self.infer(_aggregated(e.this), depth + 1)
                if arg is None:
                    return None
                if arg.oid in (700, 701):
                    return PgColumnType(arg.oid if name == "sum" else 701)
                if name == "sum" and arg.oid in (21, 23):
                    return PgColumnType(20)
                if arg.oid in (20, 21, 23, 1700):
                    return PgColumnType(1700)
                return None
            if name in ("round", "abs", "ceil", "ceiling", "floor", "trunc", "sign") and e.this is not None:
                arg = self.infer(e.this, depth + 1)
                if arg is not None and arg.oid == 1700:
                    return PgColumnType(1700)  # a computed numeric has no typmod
                if arg is not None and arg.oid in (700, 701):
                    return PgColumnType(701)
                if arg is not None and name == "abs" and arg.oid in (21, 23, 20):
                    return PgColumnType(arg.oid)
                if arg is not None and arg.oid in (21, 23, 20):  # round(int) is round(float8), round(int, s) numeric
                    return PgColumnType(1700 if len(_func_args(e)) == 2 else 701)
                return None
            if isinstance(e, exp.Pow):  # power(numeric, numeric) unless an argument is a float
                kinds = {t.oid if t is not None else None for t in (self.infer(e.this, depth + 1),
                                                                    self.infer(e.expression, depth + 1))}
                return PgColumnType(1700 if 1700 in kinds and not kinds & {700, 701, None} else 701)
            if name == "sqrt" and e.this is not None:
                arg = self.infer(e.this, depth + 1)
                return PgColumnType(1700 if arg is not None and arg.oid == 1700 else 701)
            if name in ("count",):
                return PgColumnType(20)
            if name in ("row_number", "rank", "dense_rank"):
                return PgColumnType(20)
            if name == "array_agg" and e.this is not None:
                arg = e.this.this if isinstance(e.this, exp.Order) else e.this
                inner = self.infer(arg, depth + 1)
                if inner is not None:
                    t = TYPES_BY_OID.get(inner.oid)
                    if t is not None and t.array_oid:
                        return PgColumnType(t.array_oid)
        return None

    def _common_type(self, branches: list[exp.Expr | None], depth: int) -> PgColumnType | None:
        """PostgreSQL's select_common_type over CASE results / COALESCE arguments (None: an omitted ELSE)."""
        types: list[PgColumnType | None] = []
        for b in branches:
            if b is None or isinstance(b, exp.Null) or (isinstance(b, exp.Literal) and b.is_string):
                types.append(None)  # unknown-type literal
                continue
            t = self.infer(b, depth + 1)
            if t is None:
                return None
            types.append(t)
        return type_rules().common(types)

    def column_type(self, col: exp.Column, depth: int) -> PgColumnType | None:
        name = _lower_name(col.this) if isinstance(col.this, exp.Identifier) else None
        if name is None:
            return None
        if name == "relhasoids":
            return PgColumnType(16)
        if name in ("user", "current_user", "session_user", "current_role") and not col.table:
            return PgColumnType(19)
        table = col.table
        if table:
            tkey = table if col.args["table"].quoted else table.lower()
            if tkey in self._func_aliases:
                return PgColumnType(23)
            target = self._aliases.get(tkey)
            if target is not None and target[0] == "pg_temp":
                return dict(self.temp_columns.get(target[1], ())).get(name)
            if target is not None:
                c = self.cat.column_type(target[0], target[1], name)
                return PgColumnType(c.type_oid, c.typmod) if c is not None else None
            derived = self._derived.get(tkey)
            if derived is not None:
                t = self._derived_column(derived, name, depth)
                if t is not None:
                    return t
        found: set[PgColumnType] = set()
        for nsp, rel in self._plan.relations:
            c = self.cat.column_type(nsp, rel, name)
            if c is not None:
                found.add(PgColumnType(c.type_oid, c.typmod))
        for nsp, rel in self._aliases.values():
            t = dict(self.temp_columns.get(rel, ())).get(name) if nsp == "pg_temp" else None
            if t is not None:
                found.add(t)
        if len(found) == 1:
            return found.pop()
        for derived in self._derived.values():
            t = self._derived_column(derived, name, depth)
            if t is not None:
                return t
        return None

    def _positional_column(self, q: exp.Expr, i: int, depth: int) -> PgColumnType | None:
        """Column i of a derived table renamed by its alias (v(x)): VALUES rows resolve as select_common_type."""
        if isinstance(q, exp.Values):
            rows = [r.expressions for r in q.expressions if isinstance(r, exp.Tuple) and len(r.expressions) > i]
            return self._common_type([r[i] for r in rows], depth) if rows else None
        sel = _leftmost(q)
        if not isinstance(sel, exp.Select) or not sel.expressions:
            return None
        if len(sel.expressions) == 1 and isinstance(sel.expressions[0], exp.Star):
            frm = sel.args.get("from_") or sel.args.get("from")
            return self._positional_column(frm.this, i, depth + 1) if frm is not None else None
        return self.infer(sel.expressions[i], depth + 1) if i < len(sel.expressions) else None

    def _derived_column(self, q: exp.Expr, name: str, depth: int) -> PgColumnType | None:
        names = self._derived_names.get(id(q))
        if names is not None:
            return self._positional_column(q, names.index(name), depth) if name in names else None
        sel = _leftmost(q)
        if not isinstance(sel, exp.Select):
            return None
        for p in sel.expressions:
            pname = (
                _lower_name(p.args.get("alias"))
                if isinstance(p, exp.Alias)
                else (_lower_name(p.this) if isinstance(p, exp.Column) and isinstance(p.this, exp.Identifier) else None)
            )
            if pname is not None and pname.lower() == name.lower():
                return self.infer(p, depth + 1)
        return None

    def cast_type(self, to: exp.Expr) -> PgColumnType | None:
        """The type (and typmod) PostgreSQL gives `x::<to>`: char(n) is bpchar, numeric(p,s) keeps its typmod."""
        if isinstance(to, exp.ObjectIdentifier):
            return PgColumnType(REG_NAMES.get(to.name.lower(), 26))
        if not isinstance(to, exp.DataType):
            return None
        T = exp.DataType.Type
        params = [
            int(p.this.this)
            for p in to.expressions
            if isinstance(p, exp.DataTypeParam) and isinstance(p.this, exp.Literal) and p.this.is_int
        ]
        if to.this == T.ARRAY:
            inner = to.expressions[0] if to.expressions and isinstance(to.expressions[0], exp.DataType) else None
            et = self.cast_type(inner) if inner is not None else None
            pt = TYPES_BY_OID.get(et.oid) if et is not None else None
            if et is None or pt is None or not pt.array_oid:
                return None
            return PgColumnType(pt.array_oid, et.typmod)
        if to.this == T.USERDEFINED:
            kind = to.args.get("kind")
            quoted = isinstance(kind, exp.Identifier) and kind.quoted
            if isinstance(kind, exp.Dot):
                kind = kind.expression
            tname = (kind.name if isinstance(kind, exp.Identifier) else str(kind)).lower()
            if tname in IS_DOMAIN_TYPES:
                return PgColumnType(IS_DOMAIN_TYPES[tname])
            if tname == "char":
                return PgColumnType(18) if quoted else PgColumnType(1042, (params[0] if params else 1) + 4)
            t = TYPES_BY_NAME.get(TYPE_NAME_ALIASES.get(tname, tname))
            if t is None:
                return None
            if t.oid in (1560, 1562, 1043, 1042) and params:
                return PgColumnType(t.oid, params[0] + (4 if t.oid in (1042, 1043) else 0))
            return PgColumnType(25) if t.oid == 705 else PgColumnType(t.oid)
        if to.this in (T.CHAR, T.NCHAR):
            return PgColumnType(1042, (params[0] if params else 1) + 4)
        if to.this == T.BPCHAR:
            return PgColumnType(1042, params[0] + 4 if params else -1)
        if to.this in (T.VARCHAR, T.NVARCHAR):
            return PgColumnType(1043, params[0] + 4 if params else -1)
        if to.this == T.BIT:
            return PgColumnType(1560, params[0] if params else 1)
        if to.this in (T.TIMESTAMP, T.TIMESTAMPTZ, T.TIME, T.TIMETZ) and params:
            oid = {T.TIMESTAMP: 1114, T.TIMESTAMPTZ: 1184, T.TIME: 1083, T.TIMETZ: 1266}[to.this]
            return PgColumnType(oid, params[0])
        if to.this == T.TIMETZ:
            return PgColumnType(1266)
        if to.this == T.INTERVAL:
            return PgColumnType(1186, (0x7FFF << 16) | params[0] if params else -1)
        if to.this in (T.DOUBLE, T.FLOAT) and params:
            return PgColumnType(700 if params[0] <= 24 else 701)
        text = to.sql(dialect="postgres").lower()
        if text == "name":
            return PgColumnType(19)
        if text in ('"char"',):
            return PgColumnType(18)
        if text.startswith(("int2vector",)):
            return PgColumnType(22)
        if text in REG_NAMES:
            return PgColumnType(REG_NAMES[text])
        got = pg_type_for_sql_name(text)
        return PgColumnType(25) if got.oid == 705 else got

    # ------------------------------------------------------------------ parameters
    def _params(self, tree: exp.Expr) -> None:
        count = 0
        for p in tree.find_all(exp.Placeholder, exp.Parameter):
            m = re.fullmatch(r"\$?(\d+)", p.sql(dialect="postgres"))
            if m:
                n = int(m.group(1))
                count = max(count, n)
                t = self._param_hint(p)
                if t is not None:
                    self._plan.param_hints.setdefault(n, t)
        self._plan.param_count = count

    def _param_hint(self, p: exp.Expr) -> int | None:
        """The type PostgreSQL infers for an unspecified parameter: its cast, or the other operand's type."""
        parent = p.parent
        while isinstance(parent, exp.Paren):
            p, parent = parent, parent.parent
        if isinstance(parent, exp.Cast) and parent.this is p:
            t = self.cast_type(parent.args["to"])
            return t.oid if t is not None else None
        array = False
        if isinstance(parent, exp.Any | exp.All):
            p, parent, array = parent, parent.parent, True
        if isinstance(parent, exp.Binary):
            other = parent.left if parent.right is p else parent.right
            t = self.infer(other, 0)
            if t is None:
                return None
            if not array:
                return t.oid
            pt = TYPES_BY_OID.get(t.oid)
            return pt.array_oid if pt is not None and pt.array_oid else None
        return None

    def _renumber_params(self, tree: exp.Expr) -> None:
        """Rewrites may drop arguments (has_*_privilege, extra pretty flags): bind only what remains."""
        nodes = [p for p in tree.find_all(exp.Parameter) if isinstance(p.this, exp.Literal)]
        used = sorted({int(p.this.this) for p in nodes})
        new = {old: i for i, old in enumerate(used, start=1)}
        for p in nodes:
            p.set("this", exp.Literal.number(new[int(p.this.this)]))
        self._plan.param_map = used

    # ------------------------------------------------------------------ expressions
    def _rewrite_expressions(self, tree: exp.Expr) -> exp.Expr:
        """Rewrite bottom-up, so every rewrite sees already-translated operands."""
        root = tree
        for node in reversed(list(tree.dfs())):
            new = self._rewrite_node(node)
            if new is not node:
                if node is root:
                    root = new
                else:
                    node.replace(new)
        return root

    def _rewrite_node(self, node: exp.Expr) -> exp.Expr:
        # schema-qualified function calls: pg_catalog.f(...) / information_schema._pg_x(...)
        if (
            isinstance(node, exp.Dot)
            and isinstance(node.this, exp.Identifier)
            and node.this.name.lower() in ("pg_catalog", "information_schema")
            and not isinstance(node.expression, exp.Identifier)
        ):
            inner: exp.Expr = node.expression
            return inner
        if (
            isinstance(node, exp.Column)
            and isinstance(node.args.get("db"), exp.Identifier)
            and node.args["db"].name.lower() in ("pg_catalog", "information_schema")
        ):
            node.set("db", None)
            node.set("catalog", None)
        if isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier) and not node.table:
            lname = node.this.name.lower()
            if lname == "relhasoids":
                return exp.false()
            if lname in ("user", "current_role") and not node.this.quoted:
                return exp.Anonymous(this=FUNC_PREFIX + "current_user", expressions=[])
        if (
            isinstance(node, exp.Column)
            and isinstance(node.this, exp.Identifier)
            and node.this.name.lower() == "relhasoids"
        ):
            return exp.false()
        if isinstance(node, (exp.CurrentUser, exp.SessionUser)):
            return exp.Anonymous(this=FUNC_PREFIX + "current_user", expressions=[])
        if isinstance(node, (exp.CurrentCatalog, exp.CurrentDatabase)):
            return exp.Anonymous(this=FUNC_PREFIX + "current_database", expressions=[])
        if isinstance(node, exp.CurrentSchema):
            return exp.Anonymous(this=FUNC_PREFIX + "current_schema", expressions=[])
        if isinstance(node, exp.CurrentTimestamp) and not node.args.get("this"):
            return exp.Anonymous(this="get_current_timestamp", expressions=[])
        if isinstance(node, exp.CurrentDate):
            return _cast(exp.Anonymous(this="get_current_timestamp", expressions=[]), "DATE")
        if isinstance(node, exp.CurrentVersion):
            return exp.Anonymous(this=FUNC_PREFIX + "version", expressions=[])
        if isinstance(node, exp.EQ) and isinstance(node.expression, exp.Any):
            arr = node.expression.this
            while isinstance(arr, exp.Paren):
                arr = arr.this
            if not isinstance(arr, (exp.Subquery, exp.Select)):
                return exp.Anonymous(this="list_contains", expressions=[arr, node.this])
        if isinstance(node, exp.NEQ) and isinstance(node.expression, exp.All):
            arr = node.expression.this
            while isinstance(arr, exp.Paren):
                arr = arr.this
            if not isinstance(arr, (exp.Subquery, exp.Select)):
                return exp.not_(exp.Anonymous(this="list_contains", expressions=[arr, node.this]))
        if isinstance(node, exp.Bracket) and _is_vector(node.this) and len(node.expressions) == 1:
            node.set(
                "expressions", [exp.Add(this=exp.Paren(this=node.expressions[0]), expression=exp.Literal.number(1))]
            )
            return node
        if isinstance(node, exp.Cast):
            return self._rewrite_cast(node)
        if isinstance(node, exp.Collate):
            collated: exp.Expr = node.this
            return collated
        if isinstance(node, exp.Operator):
            op = str(node.args.get("operator") or "").replace(" ", "").removeprefix("pg_catalog.")
            a, b = node.this, node.expression
            ops: dict[str, exp.Expr] = {
                "~": exp.RegexpLike(this=a, expression=b),
                "!~": exp.not_(exp.RegexpLike(this=a, expression=b)),
                "~*": exp.RegexpILike(this=a, expression=b),
                "!~*": exp.not_(exp.RegexpILike(this=a, expression=b)),
                "~~": exp.Like(this=a, expression=b),
                "!~~": exp.not_(exp.Like(this=a, expression=b)),
                "=": exp.EQ(this=a, expression=b),
                "<>": exp.NEQ(this=a, expression=b),
                "<": exp.LT(this=a, expression=b),
                ">": exp.GT(this=a, expression=b),
                "<=": exp.LTE(this=a, expression=b),
                ">=": exp.GTE(this=a, expression=b),
            }
            if op in ops:
                return ops[op]
        if type(node) in _NUMERIC_OPS:
            numeric = self._numeric_arith(node)
            if numeric is not None:
                return numeric
            self._float8_operands(node)
            checked = self._float_checked(node)
            if checked is not None:
                return checked
        if isinstance(node, (exp.Case, exp.Coalesce)):
            self._numeric_branches(node)
        if isinstance(node, exp.Pow):
            t = self.infer(node, 0)
            if t is not None and t.oid == 1700:
                return _numeric_call("numeric_power", [_as_text(node.this), _as_text(node.expression)])
        if isinstance(node, (exp.Greatest, exp.Least)):
            extreme = self._numeric_extreme(node)
            if extreme is not None:
                return extreme
        if isinstance(node, exp.Neg) and _numeric_text(node.this):
            return _numeric_call("numeric_fn", [exp.Literal.string("neg"), node.this, exp.Literal.number(0)])
        if isinstance(node, exp.Div):
            lt, rt = self.infer(node.this, 0), self.infer(node.expression, 0)
            if lt is not None and rt is not None and lt.oid in (20, 21, 23) and rt.oid in (20, 21, 23):
                return exp.IntDiv(this=node.this, expression=node.expression)
            t = self.infer(node, 0)
            if t is not None and t.oid in (700, 701):
                fdiv = exp.Anonymous(this=FUNC_PREFIX + "float_div", expressions=[node.this, node.expression])
                fdiv.meta["pg_type"] = t.oid
                return fdiv
        text_fn = self._text_function(node)
        if text_fn is not None:
            return text_fn
        if isinstance(node, exp.Literal) and not node.is_string and "e" in node.this.lower():
            return _exponent_literal(node)
        if isinstance(node, exp.BitString):
            bits = _cast(exp.Literal.string(str(node.this)), "VARCHAR")
            bits.meta["pg_type"] = 1560
            return bits
        if isinstance(node, exp.ByteString):
            return exp.Literal.string(node.this)
        if isinstance(node, exp.Explode):
            return (
                exp.Unnest(expressions=[node.this]) if False else exp.Anonymous(this="unnest", expressions=[node.this])
            )
        if isinstance(node, exp.ExplodingGenerateSeries) and not isinstance(node.parent, exp.Table):
            return exp.Anonymous(
                this="unnest",
                expressions=[
                    exp.Anonymous(
                        this="generate_series",
                        expressions=[node.args["start"], node.args["end"]]
                        + ([node.args["step"]] if node.args.get("step") else []),
                    )
                ],
            )
        if isinstance(node, exp.GenerateSeries) and not isinstance(node.parent, exp.Table):
            args = [node.args["start"], node.args["end"]] + ([node.args["step"]] if node.args.get("step") else [])
            return exp.Anonymous(this="unnest", expressions=[exp.Anonymous(this="generate_series", expressions=args)])
        if isinstance(node, exp.Format):
            args = [_cast(a, exp.DataType.build("VARCHAR")) for a in node.expressions]
            return exp.Anonymous(
                this=FUNC_PREFIX + "format",
                expressions=[node.this, exp.Array(expressions=args)]
                if args
                else [node.this, _cast(exp.Array(expressions=[]), "VARCHAR[]")],
            )
        if isinstance(node, exp.Date) and node.this is not None and not node.expressions:
            return _cast(node.this, "DATE")
        if isinstance(node, exp.Extract):
            arg = self.infer(node.expression, 0)
            of_date = arg is not None and arg.oid == 1082
            if of_date and not node.meta.get(DATE_PART):
                check_date_field(field_of(node))
            return pg_extract(node, of_date)
        if isinstance(node, exp.Func):
            return self._rewrite_func(node)
        return node

    def _numeric_arith(self, node: exp.Expr) -> exp.Expr | None:
        """numeric arithmetic DuckDB's fixed-scale DECIMAL cannot do (any division, whose scale depends on the
        values, and any operation on a value already computed that way) as a call of pgnumeric.binary."""
        t = self.infer(node, 0)
        if t is None or t.oid != 1700:
            return None
        a, b = node.args["this"], node.args["expression"]
        if not isinstance(node, exp.Div) and not (_numeric_text(a) or _numeric_text(b)):
            return None
        op = exp.Literal.string(_NUMERIC_OPS[type(node)])
        return _numeric_call("numeric_op", [op, _as_text(a), _as_text(b)])

    def _text_function(self, node: exp.Expr) -> exp.Expr | None:
        """String functions whose edge cases DuckDB answers differently: substring's start before 1 and negative
        length (22011), split_part's field 0 (22023), to_hex's lower-case digits, a float8 in `||` printed as
        float8out prints it (1, not 1.0)."""
        if isinstance(node, exp.Substring) and node.args.get("start") is not None:
            s, start, length = node.this, node.args["start"], node.args.get("length")
            if length is None:
                return exp.Anonymous(this=FUNC_PREFIX + "substring_from", expressions=[s, start])
            return exp.Anonymous(this=FUNC_PREFIX + "substring", expressions=[s, start, length])
        if isinstance(node, exp.SplitPart) and node.args.get("part_index") is not None:
            args = [node.this, node.args["delimiter"], node.args["part_index"]]
            return exp.Anonymous(this=FUNC_PREFIX + "split_part", expressions=args)
        if isinstance(node, exp.Hex):
            arg_t = self.infer(node.this, 0)
            if arg_t is not None and arg_t.oid in (21, 23):  # to_hex(int4): the 32-bit two's complement
                node = node.copy()
                mask = exp.BitwiseAnd(this=_cast(node.this, "BIGINT"), expression=exp.Literal.number(0xFFFFFFFF))
                node.set("this", mask)
            return exp.Lower(this=node.copy())
        if isinstance(node, exp.DPipe):
            for key in ("this", "expression"):
                t = self.infer(node.args[key], 0)
                if t is not None and t.oid in (700, 701):
                    node.set(key, pg_float_text(node.args[key]))
        return None

    def _float_checked(self, node: exp.Expr) -> exp.Expr | None:
        """float8 + - * of finite operands that overflows to Infinity is 22003 in PostgreSQL."""
        if not isinstance(node, exp.Add | exp.Sub | exp.Mul):
            return None
        t = self.infer(node, 0)
        if t is None or t.oid not in (700, 701):
            return None
        a, b = node.this, node.expression
        out = exp.Anonymous(this=FUNC_PREFIX + "float_checked", expressions=[node.copy(), a.copy(), b.copy()])
        out.meta["pg_type"] = t.oid
        return out

    def _float8_operands(self, node: exp.Expr) -> None:
        """float4 with anything else is float8 arithmetic in PostgreSQL (float48div & co.): DuckDB would stay in
        float4 and lose digits, so a float4 operand is widened first."""
        t = self.infer(node, 0)
        if t is None or t.oid != 701:
            return
        for key in ("this", "expression"):
            operand = node.args[key]
            ot = self.infer(operand, 0)
            if ot is not None and ot.oid == 700:
                node.set(key, _cast(operand, "DOUBLE"))

    def _numeric_branches(self, node: exp.Case | exp.Coalesce) -> None:
        """CASE and COALESCE results of type numeric keep each branch's own scale in PostgreSQL (CASE WHEN c
        THEN 1 ELSE 2.5 END prints 1), where DuckDB gives all a common DECIMAL scale. As an output column (its
        value only printed) each branch becomes numeric text; elsewhere DuckDB's common type is kept."""
        if not _at_output(node):
            return
        t = self.infer(node, 0)
        if t is None or t.oid != 1700:
            return
        branches: list[tuple[exp.Expr, str | int]] = []
        if isinstance(node, exp.Case):
            branches.extend((w, "true") for w in node.args.get("ifs") or [])
            branches.append((node, "default"))
        else:
            branches.append((node, "this"))
            branches.extend((node, i) for i in range(len(node.expressions)))
        for owner, key in branches:
            value = owner.expressions[key] if isinstance(key, int) else owner.args.get(key)
            if value is None or isinstance(value, exp.Null):
                continue
            new = value if _numeric_text(value) else self._branch_text(value)
            if isinstance(key, int):
                owner.expressions[key] = new
                new.parent, new.arg_key, new.index = owner, "expressions", key
            else:
                owner.set(key, new)
        node.meta[NUMERIC_TEXT] = True
        node.meta["pg_type"] = 1700

    def _numeric_extreme(self, node: exp.Greatest | exp.Least) -> exp.Expr | None:
        """GREATEST / LEAST of numerics print the chosen argument as written (least(1.5, 2, 0) is 0, not 0.0):
        as an output column the choice is made in Python over each argument's numeric text."""
        if not _at_output(node):
            return None
        t = self.infer(node, 0)
        if t is None or t.oid != 1700:
            return None
        values = [self._branch_text(a) if not isinstance(a, exp.Null) else _cast(a, "VARCHAR")
                  for a in [node.this, *node.expressions]]
        name = exp.Literal.string("greatest" if isinstance(node, exp.Greatest) else "least")
        return _numeric_call("numeric_extreme", [name, exp.Array(expressions=values)])

    def _branch_text(self, value: exp.Expr) -> exp.Expr:
        """One CASE/COALESCE branch as numeric text; an untyped string literal is read as numeric_in reads it."""
        if _numeric_text(value):
            return value
        if isinstance(value, exp.Literal) and value.is_string:
            return _numeric_call("numeric_fn", [exp.Literal.string("in"), value, exp.Literal.number(0)])
        return _cast(value, "VARCHAR")

    def _numeric_avg(self, node: exp.Func, args: list[exp.Expr]) -> exp.Expr | None:
        """avg of integers or numerics is numeric_avg: sum / count with numeric division's scale (avg(2) prints
        2.0000000000000000), NULL over no rows; a window avg is left to DuckDB."""
        if len(args) != 1 or isinstance(node.parent, exp.Window):
            return None
        t = self.infer(_aggregated(args[0]), 0)
        if t is None or t.oid not in (20, 21, 23, 1700):
            return None
        total = exp.Sum(this=args[0].copy())
        count = exp.Nullif(this=exp.Count(this=args[0].copy()), expression=exp.Literal.number(0))
        return _numeric_call("numeric_op", [exp.Literal.string("/"), _cast(total, "VARCHAR"), _cast(count, "VARCHAR")])

    def _numeric_func(self, name: str, args: list[exp.Expr]) -> exp.Expr | None:
        """round/trunc/ceil/floor/abs of a numeric carried as text: pgnumeric.unary keeps PostgreSQL's scale."""
        if name == "sqrt" and len(args) == 1:
            t = self.infer(args[0], 0)
            return _numeric_call("numeric_sqrt", [_as_text(args[0])]) if t is not None and t.oid == 1700 else None
        if name == "round" and len(args) == 1:
            t = self.infer(args[0], 0)
            if t is not None and t.oid in (700, 701):  # dround is rint: halves to even
                return exp.Anonymous(this="round_even", expressions=[args[0], exp.Literal.number(0)])
        if name in ("round", "trunc", "sign", "ceil", "ceiling", "floor") and args and len(args) <= 2:
            t = self.infer(args[0], 0)
            if t is not None and t.oid in (20, 21, 23):  # no integer variants: float8, or numeric with a scale
                if len(args) == 1:
                    return exp.Anonymous(this=name, expressions=[_cast(args[0], "DOUBLE")])
                return _numeric_call("numeric_fn", [exp.Literal.string(name), _as_text(args[0]),
                                                    _cast(args[1], "INTEGER")])
        if name not in _NUMERIC_FUNCS or not args or len(args) > 2 or not _numeric_text(args[0]):
            return None
        scale = _cast(args[1], "INTEGER") if len(args) == 2 else exp.Literal.number(0)
        return _numeric_call("numeric_fn", [exp.Literal.string(name), args[0], scale])

    def _pg_typeof(self, args: list[exp.Expr]) -> exp.Expr | None:
        """pg_typeof(x) is the regtype PostgreSQL resolves for x, which is this translation's inferred type (DuckDB's
        own pg_typeof names DuckDB's storage type: double, varchar, decimal widths)."""
        t = self.infer(args[0], 0) if len(args) == 1 else None
        if t is None:
            return None
        out = _cast(exp.Literal.number(type_rules().base(t).oid), "UINTEGER")
        out.meta["pg_type"] = 2206
        return out

    def _rewrite_func(self, node: exp.Func) -> exp.Expr:
        name = _func_name(node)
        if name is None:
            return node
        args = list(node.expressions) if isinstance(node, exp.Anonymous) else _func_args(node)
        numeric = self._numeric_func(name, args)
        if numeric is None and name == "avg":
            numeric = self._numeric_avg(node, args)
        if numeric is None and name in ("max", "min") and len(args) == 1 and _numeric_text(args[0]) \
                and not isinstance(node.parent, exp.Window):
            # the largest (smallest) value as its own text, chosen by its number
            by_number = _cast(args[0].copy(), "DOUBLE")
            numeric = exp.Anonymous(this="arg_" + name, expressions=[args[0], by_number])
            numeric.meta[NUMERIC_TEXT] = True
            numeric.meta["pg_type"] = 1700
        if numeric is not None:
            return numeric
        if name == "to_char" and len(args) == 2:
            arg_t = self.infer(args[0], 0)
            if arg_t is None or arg_t.oid in (1082, 1114, 1184):
                return exp.Anonymous(this=FUNC_PREFIX + "to_char", expressions=[_cast(args[0], "TIMESTAMP"), args[1]])
        if name == "pg_typeof":
            typeof = self._pg_typeof(args)
            if typeof is not None:
                return typeof
        if (name.startswith("has_") and name.endswith("_privilege")) or name == "pg_has_role":
            return exp.true()
        if name == "sum" and len(args) == 1 and not isinstance(node.parent, exp.Window):
            arg_t = self.infer(args[0], 0)
            if arg_t is not None and arg_t.oid in (21, 23):
                return _cast(node.copy(), "BIGINT")  # DuckDB sums integers into HUGEINT; PostgreSQL into int8
        if name == "octet_length" and len(args) == 1:
            arg_t = self.infer(args[0], 0)
            if arg_t is None or arg_t.oid != 17:
                return exp.Anonymous(this="strlen", expressions=[_cast(args[0], "VARCHAR")])
        if name == "every":
            return exp.Anonymous(this="bool_and", expressions=args)
        if name in ("quote_literal", "quote_nullable") and len(args) == 1:
            text = _cast(args[0], "VARCHAR")
            quoted = exp.DPipe(
                this=exp.DPipe(
                    this=exp.Literal.string("'"),
                    expression=exp.Anonymous(
                        this="replace", expressions=[text, exp.Literal.string("'"), exp.Literal.string("''")]
                    ),
                ),
                expression=exp.Literal.string("'"),
            )
            if name == "quote_nullable":
                return exp.Coalesce(this=quoted, expressions=[exp.Literal.string("NULL")])
            return quoted
        if name == "length" and len(args) == 1:
            arg_type = self.infer(args[0], 0)
            if arg_type is not None and arg_type.oid == 17:
                return exp.Anonymous(this="octet_length", expressions=args)  # DuckDB has no length(BLOB)
        if name in ("_pg_truetypid", "_pg_truetypmod") and len(args) == 2:
            a, t = (x.table if isinstance(x, exp.Column) else None for x in args)
            if a and t:
                col_a, col_t = ("atttypid", "typbasetype") if name == "_pg_truetypid" else ("atttypmod", "typtypmod")
                return exp.Case(
                    ifs=[
                        exp.If(
                            this=exp.EQ(this=exp.column("typtype", t), expression=exp.Literal.string("d")),
                            true=exp.column(col_t, t),
                        )
                    ],
                    default=exp.column(col_a, a),
                )
        if name == "_pg_expandarray" and len(args) == 1:
            arr = args[0]
            off = 0 if _is_vector(arr) else 1
            i = exp.to_identifier("__i")
            body = exp.Struct(
                expressions=[
                    exp.PropertyEQ(
                        this=exp.to_identifier("x"), expression=exp.Bracket(this=arr.copy(), expressions=[i.copy()])
                    ),
                    exp.PropertyEQ(this=exp.to_identifier("n"), expression=i.copy()),
                ]
            )
            lam = exp.Lambda(this=body, expressions=[i.copy()])
            rng = exp.Anonymous(
                this="generate_series",
                expressions=[exp.Literal.number(1), exp.Anonymous(this="len", expressions=[arr.copy()])],
            )
            del off
            return exp.Anonymous(
                this="unnest", expressions=[exp.Anonymous(this="list_transform", expressions=[rng, lam])]
            )
        if name in ("array_lower", "array_upper") and len(args) == 2:
            arr = args[0]
            off = 0 if _is_vector(arr) else 1
            n = exp.Anonymous(this="len", expressions=[arr.copy()])
            val: exp.Expr = (
                exp.Literal.number(off)
                if name == "array_lower"
                else exp.Sub(this=n.copy(), expression=exp.Literal.number(1 - off))
            )
            return exp.Case(ifs=[exp.If(this=exp.GT(this=n, expression=exp.Literal.number(0)), true=val)])
        if name in ("array_length", "array_size") and len(args) == 2:
            n = exp.Anonymous(this="len", expressions=[args[0]])
            return exp.Case(ifs=[exp.If(this=exp.GT(this=n, expression=exp.Literal.number(0)), true=n.copy())])
        if name == "generate_subscripts" and args:
            arr = args[0]
            off = 0 if _is_vector(arr) else 1
            n = exp.Anonymous(this="len", expressions=[arr.copy()])
            return exp.Anonymous(
                this="unnest",
                expressions=[
                    exp.Anonymous(
                        this="range",
                        expressions=[exp.Literal.number(off), exp.Add(this=n, expression=exp.Literal.number(off))],
                    )
                ],
            )
        if name == "pg_partition_ancestors" and len(args) == 1:
            arr = exp.Array(expressions=[self._reg_value(args[0])])
            return exp.Anonymous(this="unnest", expressions=[arr])
        if name == "json_build_object":
            return exp.Anonymous(this="json_object", expressions=args)
        if name == "dateadd" and len(args) == 3:
            unit = args[0].name.lower()
            return exp.Add(
                this=exp.Paren(this=args[2]),
                expression=exp.Interval(this=_cast(args[1], "VARCHAR"), unit=exp.var(unit.rstrip("s"))),
            )
        if name == "pg_get_late_binding_view_cols" or name.startswith(("svv_", "stl_")):
            raise PgError(
                E.UNDEFINED_FUNCTION, f"function {name}() does not exist", position=_position(self._sql, name)
            )
        if name in OWN_FUNCS:
            keep = DROP_EXTRA_ARGS.get(name)
            if keep is not None and len(args) > keep and name not in ("obj_description", "current_setting"):
                args = args[:keep]
            return exp.Anonymous(this=FUNC_PREFIX + name, expressions=args)
        return node

    def _plain_numeric(self, inner: exp.Expr, inner_t: PgColumnType | None) -> exp.Expr | None:
        """x::numeric without a typmod keeps x's own digits (DuckDB's bare DECIMAL is DECIMAL(18,3)): an integer
        becomes DECIMAL(38,0), a text is read by numeric_in's rules, and div(a, b) (sqlglot reads it as a cast of
        an integer division) truncates the exact quotient."""
        if isinstance(inner, exp.IntDiv):
            a, b = (self.infer(x, 0) for x in (inner.this, inner.expression))
            if not (a is not None and b is not None and a.oid in (20, 21, 23) and b.oid in (20, 21, 23)):
                return _numeric_call("numeric_op", [exp.Literal.string("div"), _as_text(inner.this),
                                                    _as_text(inner.expression)])
        if inner_t is not None and inner_t.oid in (20, 21, 23):
            out = _cast(inner, "DECIMAL(38,0)")
            out.meta["pg_type"] = 1700
            return out
        textual = inner_t is not None and inner_t.oid in (25, 1043, 1042, 19)
        if textual and not isinstance(inner, exp.Literal | exp.Null):
            text_in = [exp.Literal.string("in"), _cast(inner, "VARCHAR"), exp.Literal.number(0)]
            return _numeric_call("numeric_fn", text_in)
        return None

    def _cast_numeric_text(self, node: exp.Cast, target: PgColumnType) -> exp.Expr | None:
        """A cast of a numeric carried as text: to numeric(p,s) it is rounded and checked in Python, to an integer
        it rounds half away from zero first (as numeric_int4 does); other targets read the text as it is."""
        inner: exp.Expr = node.this
        if target.oid == 1700:
            if target.typmod < 4:
                return inner
            out = _numeric_call("numeric_fn", [exp.Literal.string("typmod"), inner, exp.Literal.number(target.typmod)])
            out.meta["pg_typmod"] = target.typmod
            return out
        if target.oid in (20, 21, 23):
            node.set("this", _numeric_call("numeric_fn", [exp.Literal.string("round"), inner, exp.Literal.number(0)]))
        return None

    def _rewrite_cast(self, node: exp.Cast) -> exp.Expr:
        target = self.cast_type(node.args["to"])
        inner = node.this
        if target is None:
            return node
        if _numeric_text(inner):
            done = self._cast_numeric_text(node, target)
            if done is not None:
                return done
            inner = node.this
        oid = target.oid
        lit = inner.this if isinstance(inner, exp.Literal) and inner.is_string else None
        if oid in _INT_RANGES and lit is not None:
            _check_int_input(oid, lit)
        if oid in (1082, 1114, 1184) and lit is not None and lit.strip().lower() in _INFINITIES:
            # DuckDB holds infinite dates but Arrow cannot: carry PostgreSQL's text
            out = _cast(exp.Literal.string(_INFINITIES[lit.strip().lower()]), "VARCHAR")
            out.meta["pg_type"], out.meta["pg_typmod"] = oid, target.typmod
            return out
        if oid in TEXT_CARRIED:
            text = literal_text(oid, target.typmod, lit) if lit is not None else None
            out = _cast(exp.Literal.string(text) if text is not None else inner, "VARCHAR")
            out.meta["pg_type"], out.meta["pg_typmod"] = oid, target.typmod
            return out
        if oid == 1700 and target.typmod < 0:
            number = lit if lit is not None else (inner.this if isinstance(inner, exp.Literal) else None)
            if number is not None and re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?\s*", number):
                digits = number.strip().lstrip("+")
                if "e" in digits.lower():
                    digits = pgnumeric.plain(digits)
                if len(re.sub(r"\D", "", digits)) <= 38:
                    # keeps the literal's own scale, as PostgreSQL's numeric does ('1.50' prints 1.50)
                    num: exp.Expr = exp.Literal.number(digits.lstrip("-"))
                    if digits.startswith("-"):
                        num = exp.Neg(this=num)
                    num.meta["pg_type"] = 1700  # DuckDB reads 1 as an integer: 1::numeric / 3 must not be
                    return num
            inner_t = self.infer(inner, 0)
            if inner_t is not None and inner_t.oid in (700, 701):
                return _numeric_call("float_numeric", [_cast(inner, "DOUBLE")])
            plain = self._plain_numeric(inner, inner_t)
            if plain is not None:
                return plain
        if oid == 1700 and target.typmod >= 4 and ((target.typmod - 4) >> 16) > 38:
            out = _cast(inner, "DOUBLE")
            out.meta["pg_type"], out.meta["pg_typmod"] = oid, target.typmod
            return out
        if oid in (1042, 1043) and target.typmod >= 4:
            n = exp.Literal.number(target.typmod - 4)
            inner_t = self.infer(inner, 0)
            text_in: exp.Expr = inner if inner_t is not None and inner_t.oid == 25 else _cast(inner, "VARCHAR")
            cut: exp.Expr = exp.Anonymous(this="left", expressions=[text_in, n])
            if oid == 1042:
                cut = exp.Anonymous(this="rpad", expressions=[cut, n.copy(), exp.Literal.string(" ")])
            return cut
        if oid == 17 and isinstance(inner, exp.Literal) and inner.is_string:
            # PostgreSQL's bytea input (hex or escape format); DuckDB would read "\x0102" as 3 bytes.
            data = bytea_input(inner.this)
            return _cast(exp.Literal.string("".join(f"\\x{b:02x}" for b in data)), "BLOB")
        if oid in (2205, 2206, 24, 4089, 4096, 2202, 26):
            if isinstance(inner, exp.Literal) and inner.is_string:
                value = self.reg_lookup(oid, inner.this)
                out = _cast(exp.Literal.number(value), "UINTEGER")
            else:
                inner_t = self.infer(inner, 0)
                if (
                    oid != 26
                    and (inner_t is None or inner_t.oid in (25, 1043, 19))
                    and not isinstance(inner, exp.Column)
                ):
                    return exp.Cast(
                        this=exp.Anonymous(
                            this=FUNC_PREFIX + "reg_in", expressions=[exp.Literal.number(oid), _cast(inner, "VARCHAR")]
                        ),
                        to=exp.DataType.build("UINTEGER", dialect="duckdb"),
                    )
                out = _cast(inner, "UINTEGER")
            out.meta["pg_type"] = oid
            return out
        if oid in (25, 1043, 19, 18, 1042, 13224, 13226, 13234):
            inner_t = self.infer(inner, 0)
            if inner_t is not None and inner_t.oid in (2205, 2206, 24, 4089, 4096, 2202):
                return exp.Anonymous(this=FUNC_PREFIX + "reg_out", expressions=[exp.Literal.number(inner_t.oid), inner])
            if inner_t is not None and inner_t.oid in (22, 30):
                return exp.Anonymous(this="array_to_string", expressions=[inner, exp.Literal.string(" ")])
            if inner_t is not None and inner_t.oid in (700, 701) and oid == 25:
                return pg_float_text(inner)
            if (
                inner_t is not None
                and TYPES_BY_OID.get(inner_t.oid) is not None
                and TYPES_BY_OID[inner_t.oid].element_oid
            ):
                return exp.Anonymous(this=FUNC_PREFIX + "array_out", expressions=[_cast(inner, "VARCHAR[]")])
            return _cast(inner, "VARCHAR")
        if oid in (13221,):
            return _cast(inner, "INTEGER")
        if oid == 13232:
            return _cast(inner, "TIMESTAMPTZ")
        pt = TYPES_BY_OID.get(oid)
        if pt is not None and pt.element_oid:
            from virtual_schema.catalog.pgdata import duck_type

            if isinstance(inner, exp.Literal) and inner.is_string and inner.this.startswith("{"):
                items = [x.strip().strip('"') for x in inner.this.strip("{}").split(",") if x.strip()]
                inner = exp.Array(expressions=[exp.Literal.string(x) for x in items])
                if not items:
                    inner = _cast(exp.Array(expressions=[]), "VARCHAR[]")
            storage = duck_type(oid, pt.name)
            if not storage.endswith("[]"):
                elem = duck_type(pt.element_oid, "")
                storage = elem + "[]" if elem in _ARRAY_ELEMENTS and pt.element_oid != 1700 else "VARCHAR[]"
            out = _cast(inner, storage)
            out.meta["pg_type"], out.meta["pg_typmod"] = oid, target.typmod
            return out
        if oid in (22, 30):
            if lit is not None:  # int2vector / oidvector input: space-separated numbers
                inner = exp.Array(expressions=[exp.Literal.number(x) for x in lit.split()])
                if not lit.split():
                    inner = _cast(exp.Array(expressions=[]), "INTEGER[]")
            return _cast(inner, "SMALLINT[]" if oid == 22 else "UINTEGER[]")
        return node

    def _reg_value(self, e: exp.Expr) -> exp.Expr:
        if isinstance(e, exp.Literal) and e.is_string:
            return _cast(exp.Literal.number(self.reg_lookup(2205, e.this)), "UINTEGER")
        return _cast(e, "UINTEGER")

    def reg_lookup(self, oid: int, text: str) -> int:
        raw = text.strip()
        if re.fullmatch(r"\d+", raw):
            return int(raw)
        if raw == "-":
            return 0
        if oid == 2205:
            nsp, _, rel = raw.rpartition(".")
            rel = _unquote(rel)
            if rel in self.temp_oids and (not nsp or _unquote(nsp).startswith("pg_temp")):
                return self.temp_oids[rel]  # pg_temp comes first in the search path, implicitly
            if nsp:
                found = self.cat.class_by_name.get((_unquote(nsp), rel))
            else:
                found = None
                for n in ("pg_catalog", *self.search_path):
                    found = self.cat.class_by_name.get((n, rel))
                    if found is not None:
                        break
            if found is None:
                raise PgError(E.UNDEFINED_TABLE, f'relation "{raw}" does not exist')
            return found
        if oid == 2206:
            if raw.endswith("[]"):
                base = self.reg_lookup(2206, raw[:-2])
                for o, (n, elem, _nsp) in self.cat.rows.type_names.items():
                    if elem == base and n.startswith("_"):
                        return o
                raise PgError(E.UNDEFINED_OBJECT, f'type "{raw}" does not exist')
            nsp, dot, bare = raw.rpartition(".")
            if dot and not raw.startswith('"') and re.fullmatch(r"[\w\"]+", nsp):
                want = (_unquote(bare), _unquote(nsp))
                for o, (n, _elem, t_nsp) in self.cat.rows.type_names.items():
                    if (n, t_nsp) == want:
                        return o
            key = _unquote(raw) if raw.startswith('"') else _TYPE_ALIASES.get(raw.lower(), raw.lower())
            found = self.cat.type_by_name.get(key)
            if found is None:
                t = pg_type_for_sql_name(raw)
                found = t.oid if t.oid != 25 or raw.lower() == "text" else None
            if found is None:
                raise PgError(E.UNDEFINED_OBJECT, f'type "{raw}" does not exist')
            return found
        if oid in (24, 2202):
            found = self.cat.proc_by_name.get(raw.split("(")[0].removeprefix("pg_catalog."))
            if found is None:
                raise PgError(E.UNDEFINED_FUNCTION, f'function "{raw}" does not exist')
            return found
        if oid == 4089:
            found = self.cat.rows.namespaces.get(_unquote(raw))
            if found is None:
                raise PgError(E.UNDEFINED_OBJECT, f'schema "{raw}" does not exist')
            return found
        if oid == 4096:
            from virtual_schema.catalog.populate import role_oid

            name = _unquote(raw)
            if name in self.cat.users:
                return role_oid(self.cat.users, name)
            raise PgError(E.UNDEFINED_OBJECT, f'role "{raw}" does not exist')
        return 0


_INFINITIES = {"infinity": "infinity", "+infinity": "infinity", "-infinity": "-infinity"}
_ARRAY_ELEMENTS = frozenset({"BOOLEAN", "SMALLINT", "INTEGER", "BIGINT", "UINTEGER", "FLOAT", "DOUBLE", "DATE"})

# format_type spellings that are not pg_type names
_TYPE_ALIASES = {
    "bit varying": "varbit",
    "character": "bpchar",
    "character varying": "varchar",
    "double precision": "float8",
    "time with time zone": "timetz",
    "time without time zone": "time",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "integer": "int4",
    "smallint": "int2",
    "bigint": "int8",
    "real": "float4",
    "boolean": "bool",
}


def _plain_insert_target(tree: exp.Insert) -> None:
    """INSERT INTO pg_temp.t AS x: DuckDB knows neither the pg_temp schema nor an INSERT alias; RETURNING's
    x.col becomes t.col."""
    table = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    if not isinstance(table, exp.Table):
        return
    db = table.args.get("db")
    if isinstance(db, exp.Identifier) and db.name.lower() == "pg_temp":
        table.set("db", None)
    alias = table.args.get("alias")
    if alias is None:
        return
    table.set("alias", None)
    returning = tree.args.get("returning")
    for col in returning.find_all(exp.Column) if returning is not None else ():
        if col.table == alias.name:
            col.set("table", table.this.copy())


def _values_query(values: exp.Values) -> exp.Query:
    """A top-level `VALUES (…), (…) [ORDER BY …] [LIMIT …]` as the SELECT PostgreSQL answers it with: columns
    column1, column2, … of a derived table named *VALUES*."""
    alias = exp.TableAlias(this=exp.to_identifier("*VALUES*"))  # _values_column_names names the columns
    query = exp.select("*").from_(exp.Values(expressions=values.expressions, alias=alias))
    for key in ("order", "limit", "offset"):
        if values.args.get(key) is not None:
            query.set(key, values.args[key])
    return query


def _values_column_names(tree: exp.Expr) -> None:
    """A VALUES list in FROM names the columns its alias does not as PostgreSQL does (column1, column2, …), not
    as DuckDB does (col0, …)."""
    for values in tree.find_all(exp.Values):
        alias = values.args.get("alias")
        rows = values.expressions
        if alias is None or not rows or not isinstance(rows[0], exp.Tuple):
            continue
        named = list(alias.columns)
        width = len(rows[0].expressions)
        if len(named) < width:
            alias.set("columns", named + [exp.to_identifier(f"column{i + 1}") for i in range(len(named), width)])


def _fold_identifiers(target: exp.Expr) -> None:
    """PostgreSQL folds unquoted names to lower case; DuckDB would keep the spelling (CREATE TEMP TABLE Foo)."""
    for ident in target.find_all(exp.Identifier):
        if not ident.quoted:
            ident.set("this", ident.this.lower())


def bytea_input(text: str) -> bytes:
    """PostgreSQL's byteain: "\\x" + hex pairs (whitespace between pairs allowed), else the escape format."""
    bad = PgError(E.INVALID_TEXT_REPRESENTATION, "invalid input syntax for type bytea")
    if text.startswith("\\x"):
        digits = "".join(text[2:].split())
        bad_digit = next((ch for ch in digits if ch not in "0123456789abcdefABCDEF"), None)
        if bad_digit is not None:
            raise PgError(E.INVALID_PARAMETER_VALUE, f'invalid hexadecimal digit: "{bad_digit}"')
        if len(digits) % 2:
            raise PgError(E.INVALID_PARAMETER_VALUE, "invalid hexadecimal data: odd number of digits")
        return bytes.fromhex(digits)
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out += c.encode()
            i += 1
        elif text[i + 1 : i + 2] == "\\":
            out.append(0x5C)
            i += 2
        elif re.fullmatch(r"[0-3][0-7]{2}", text[i + 1 : i + 4]):
            out.append(int(text[i + 1 : i + 4], 8))
            i += 4
        else:
            raise bad
    return bytes(out)


_INT_RANGES = {21: ("smallint", 2**15), 23: ("integer", 2**31), 20: ("bigint", 2**63)}


def _check_int_input(oid: int, text: str) -> None:
    """int2in / int4in / int8in of a constant: digits only (DuckDB would round '1.5'), within the type's range."""
    name, bound = _INT_RANGES[oid]
    if not re.fullmatch(r"\s*[+-]?\d+\s*", text):
        raise PgError(E.INVALID_TEXT_REPRESENTATION, f'invalid input syntax for type {name}: "{text}"')
    if not -bound <= int(text) < bound:
        raise PgError(E.NUMERIC_VALUE_OUT_OF_RANGE, f'value "{text}" is out of range for type {name}')


def _exponent_literal(node: exp.Literal) -> exp.Expr:
    """1e2 is a numeric constant in PostgreSQL (100, scale 0; 1.5e-3 is 0.0015), a DOUBLE in DuckDB: written out
    as a plain decimal when DuckDB's DECIMAL can hold it."""
    digits = pgnumeric.plain(node.this)
    if len(re.sub(r"\D", "", digits)) > 38:
        return node
    out = exp.Literal.number(digits)
    out.meta["pg_type"] = 1700
    return out


def _outermost_paren(node: exp.Expr) -> exp.Expr:
    """node, or the outermost parentheses around it: what its parent holds."""
    while isinstance(node.parent, exp.Paren):
        node = node.parent
    return node


def _is_output(top: exp.Expr) -> bool:
    """Whether top (an expression with its parentheses) is an output column of its SELECT, its value only printed."""
    return isinstance(top.parent, exp.Alias) or (isinstance(top.parent, exp.Select) and top.arg_key == "expressions")


def _at_output(node: exp.Expr) -> bool:
    return _is_output(_outermost_paren(node))


def _aggregated(arg: exp.Expr) -> exp.Expr:
    """The value an aggregate's argument aggregates: x of DISTINCT x."""
    return arg.expressions[0] if isinstance(arg, exp.Distinct) and len(arg.expressions) == 1 else arg


def _numeric_text(e: exp.Expr) -> bool:
    """Whether e (through parentheses) is a numeric computed by pgnumeric.py, i.e. PostgreSQL's text of it."""
    return bool(e.unnest().meta.get(NUMERIC_TEXT))


def _numeric_call(name: str, args: Sequence[exp.Expr]) -> exp.Expr:
    """A call of one of pgnumeric.py's UDFs: typed numeric, its value PostgreSQL's numeric text."""
    out = exp.Anonymous(this=FUNC_PREFIX + name, expressions=list(args))
    out.meta[NUMERIC_TEXT] = True
    out.meta["pg_type"] = 1700
    return out


def _as_text(e: exp.Expr) -> exp.Expr:
    """An operand of pgnumeric.py's UDFs: DuckDB prints integers and DECIMALs with their scale, as numeric_out."""
    return e if _numeric_text(e) else _cast(e, "VARCHAR")


def _order_numeric_outputs(tree: exp.Expr) -> None:
    """ORDER BY 1 or ORDER BY <alias> of an output column carried as numeric text sorts by its number, not its
    text ('10.5' after '9.1'): the ordinal or alias becomes the expression itself, which DuckDB also accepts
    under DISTINCT since it repeats an output column."""
    for sel in tree.find_all(exp.Select):
        order = sel.args.get("order")
        if order is None:
            continue
        outputs = [p.this if isinstance(p, exp.Alias) else p for p in sel.expressions]
        by_alias = {p.alias.lower(): p.this for p in sel.expressions if isinstance(p, exp.Alias)}
        for ordered in order.expressions:
            key = ordered.this
            target: exp.Expr | None = None
            if isinstance(key, exp.Literal) and key.is_int and 1 <= int(key.this) <= len(outputs):
                target = outputs[int(key.this) - 1]
            elif isinstance(key, exp.Column) and not key.table:
                target = by_alias.get(key.name.lower())
            if target is not None and _numeric_text(target):
                ordered.set("this", target.copy())


def _store_numeric_outputs(tree: exp.Expr) -> None:
    """CREATE TEMP TABLE … AS SELECT of a numeric carried as text stores a DOUBLE of it (the column is still
    declared numeric): stored as text, arithmetic and comparisons on the new column would fail."""
    if not isinstance(tree, exp.Create) or not isinstance(tree.expression, exp.Select):
        return
    for proj in tree.expression.expressions:
        value = proj.this if isinstance(proj, exp.Alias) else proj
        if _numeric_text(value):
            value.replace(_cast(value.copy(), "DOUBLE"))


def fence_numeric_text(tree: exp.Expr) -> None:
    """Where a numeric carried as text meets anything but an output column or another numeric UDF (comparisons,
    ORDER BY, aggregates, other functions), DuckDB gets a DOUBLE of it, the closest it can compute with."""
    _order_numeric_outputs(tree)
    _store_numeric_outputs(tree)
    for node in list(tree.find_all(exp.Anonymous)):
        if not node.meta.get(NUMERIC_TEXT):
            continue
        top = _outermost_paren(node)
        parent = top.parent
        if parent is None or isinstance(parent, exp.Cast) or _is_output(top):
            continue
        if isinstance(parent, exp.Group):
            continue  # grouped as text, so the output column that repeats the expression still matches it
        if isinstance(parent, exp.Anonymous) and str(parent.this).startswith(FUNC_PREFIX + "numeric_"):
            continue
        if isinstance(parent, exp.Anonymous) and parent.meta.get(NUMERIC_TEXT) and top.arg_key == "expressions" \
                and top.index == 0:
            continue  # the value arg_max / arg_min of numeric text return
        if isinstance(parent, exp.If) and top.arg_key == "true":
            parent = parent.parent
        if isinstance(parent, exp.Array) and isinstance(parent.parent, exp.Anonymous) \
                and str(parent.parent.this).startswith(FUNC_PREFIX + "numeric_"):
            continue  # an argument of greatest / least over numeric text
        branch = isinstance(parent, exp.Coalesce) or (isinstance(parent, exp.Case) and top.arg_key != "this")
        if branch and parent is not None and parent.meta.get(NUMERIC_TEXT):
            continue  # a branch of a CASE / COALESCE whose result is numeric text itself
        top.replace(_cast(top.copy(), "DOUBLE"))


def _cast(e: exp.Expr, to: str | exp.DataType) -> exp.Cast:
    dt = to if isinstance(to, exp.DataType) else exp.DataType.build(to, dialect="duckdb")
    return exp.Cast(this=e, to=dt)


_UNTYPED = PgColumnType(-1)  # a set-operation column some branch cannot type


def _unwrap(q: exp.Expr) -> exp.Expr:
    while isinstance(q, (exp.Subquery, exp.Paren)) and q.this is not None:
        q = q.this
    return q


def _leftmost(q: exp.Expr | None) -> exp.Expr | None:
    while isinstance(q, (exp.SetOperation, exp.Subquery, exp.Paren)):
        q = q.this
    return q


def _func_args(node: exp.Func) -> list[exp.Expr]:
    out: list[exp.Expr] = []
    for k in node.arg_types:
        v = node.args.get(k)
        if isinstance(v, list):
            out.extend(x for x in v if isinstance(x, exp.Expr))
        elif isinstance(v, exp.Expr):
            out.append(v)
    return out


def _unquote(s: str) -> str:
    s = s.strip()
    if s.startswith('"') and s.endswith('"'):
        return s[1:-1].replace('""', '"')
    return s.lower()


def _is_vector(e: exp.Expr) -> bool:
    return isinstance(e, exp.Column) and isinstance(e.this, exp.Identifier) and e.this.name.lower() in VECTOR_COLUMNS


def _func_name(e: exp.Expr) -> str | None:
    if isinstance(e, exp.Anonymous):
        return str(e.this).lower()
    if isinstance(e, (exp.ExplodingGenerateSeries, exp.GenerateSeries)):
        return "generate_series"
    if isinstance(e, exp.Explode):
        return "unnest"
    if isinstance(e, exp.Func):
        return e.sql_name().lower()
    return None


_COLNAME_FUNCS = {
    exp.Coalesce: "coalesce",
    exp.Nullif: "nullif",
    exp.Case: "case",
    exp.Array: "array",
    exp.CurrentUser: "current_user",
    exp.SessionUser: "session_user",
    exp.CurrentCatalog: "current_catalog",
    exp.CurrentSchema: "current_schema",
    exp.CurrentDatabase: "current_database",
    exp.CurrentVersion: "version",
    exp.CurrentTimestamp: "current_timestamp",
    exp.CurrentDate: "current_date",
    exp.Exists: "exists",
    exp.Explode: "unnest",
    exp.ExplodingGenerateSeries: "generate_series",
    exp.GenerateSeries: "generate_series",
    exp.Format: "format",
    exp.ArrayToString: "array_to_string",
    exp.Trim: "btrim",
    exp.Date: "date",
    exp.Greatest: "greatest",
    exp.Least: "least",
    exp.Max: "max",
    exp.Min: "min",
    exp.Count: "count",
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Lower: "lower",
    exp.Upper: "upper",
    exp.ArrayAgg: "array_agg",
    exp.RowNumber: "row_number",
    exp.Extract: "extract",
    exp.Left: "left",
    exp.Right: "right",
    exp.Substring: "substring",
    exp.StrPosition: "strpos",
    exp.Replace: "replace",
    exp.ToChar: "to_char",
    exp.DateTrunc: "date_trunc",
    exp.ArraySize: "array_length",
    exp.TimestampTrunc: "date_trunc",
}


def pg_colname(e: exp.Expr) -> str:
    """PostgreSQL's FigureColname for an unaliased select-list expression."""
    return _colname(e)[0]


def _colname(e: exp.Expr) -> tuple[str, int]:
    """(name, strength): 2 for column/function names, 1 for type names of casts, 0 for '?column?'."""
    if isinstance(e, exp.Column):
        if isinstance(e.this, exp.Identifier):
            return _lower_name(e.this) or "?column?", 2
        return "?column?", 0
    if isinstance(e, exp.Dot):
        if isinstance(e.expression, exp.Identifier):
            return _lower_name(e.expression) or "?column?", 2
        return _colname(e.expression)
    if isinstance(e, exp.Paren):
        return _colname(e.this)
    if isinstance(e, exp.Cast):
        inner, strength = _colname(e.this)
        if strength > 1:
            return inner, strength
        to = e.args["to"]
        if isinstance(to, exp.ObjectIdentifier):
            return to.name.lower(), 1
        if isinstance(to, exp.DataType) and to.this == exp.DataType.Type.USERDEFINED:
            kind = to.args.get("kind")
            name = kind.expression.name if isinstance(kind, exp.Dot) else str(kind.name if kind else "?column?")
            return name.lower(), 1
        while isinstance(to, exp.DataType) and to.this == exp.DataType.Type.ARRAY and to.expressions:
            to = to.expressions[0]  # PostgreSQL names an array cast after its element type
        if isinstance(to, exp.DataType) and to.this == exp.DataType.Type.USERDEFINED:
            return _colname(exp.Cast(this=e.this, to=to))
        text = to.sql(dialect="postgres").lower()
        if text == "name":
            return "name", 1
        if isinstance(to, exp.DataType) and to.this in (exp.DataType.Type.CHAR, exp.DataType.Type.BPCHAR):
            return "bpchar", 1
        if isinstance(to, exp.DataType) and to.this == exp.DataType.Type.TIMETZ:
            return "timetz", 1
        t = pg_type_for_sql_name(text)
        return (t.name if t.oid != 25 or text.startswith("text") else text.split("(")[0]), 1
    if isinstance(e, exp.Case):
        d = e.args.get("default")
        if d is not None:
            name, strength = _colname(d)
            if strength > 1:
                return name, strength
        return "case", 1
    if isinstance(e, exp.Window):
        return _colname(e.this)
    if isinstance(e, exp.TimeToStr):
        return "to_char", 2
    if isinstance(e, exp.Subquery):
        sel = e.this
        if isinstance(sel, exp.Select) and sel.expressions:
            p = sel.expressions[0]
            if isinstance(p, exp.Alias):
                return _lower_name(p.args.get("alias")) or "?column?", 2
            return _colname(p)
        return "?column?", 0
    if isinstance(e, exp.Null):
        return "?column?", 0
    for cls, name in _COLNAME_FUNCS.items():
        if type(e) is cls:
            return name, 2
    if isinstance(e, exp.Anonymous):
        return str(e.this).lower(), 2
    if isinstance(e, exp.Func) and not isinstance(e, (exp.Binary, exp.Unary, exp.Predicate)):
        return e.sql_name().lower(), 2
    if isinstance(e, exp.Interval):
        return "interval", 1
    if isinstance(e, exp.Null):
        return "?column?", 0
    return "?column?", 0


def type_names_for(cat: CatalogVersion) -> dict[int, tuple[str, int, str]]:
    return cat.rows.type_names


def format_type_for(cat: CatalogVersion, oid: int | None, typmod: int | None) -> str | None:
    return format_type(oid, typmod, cat.rows.type_names)


def describe_any(v: Any) -> str:
    return repr(v)
