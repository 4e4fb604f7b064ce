"""Planning a statement (Parse, or the implicit one of a simple Query): route it and learn its result
shape without running it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import sqlglot
from pglast.parser import scan

from gateway.router import Kind, Statement, is_catalog_relation, split
from gateway.session import commands
from gateway.session.constant import constant_query
from gateway.session.copy_options import CopyOptions, copy_options
from gateway.session.copy_plan import CopyInPlan, CopyPlan, copy_columns, qualified_name, relation_query, wire_format
from gateway.session.copy_plan import query_text as copy_query_text
from gateway.session.core import ConnectionCore
from gateway.session.explain import FORMAT_TYPE_OIDS, ExplainPlan, explain_options
from gateway.session.portals import Portal, Prepared
from gateway.session.temp_inline import TempTable, inline, read_temp_tables
from gateway.session.temp_load import load_of, plan_load
from virtual_schema import errors as E
from virtual_schema.compiler.api import CompiledQuery
from virtual_schema.errors import PgError
from virtual_schema.pgtypes import PgColumnType
from virtual_schema.schema import ResultColumn


def allowed_in_failed(stmt: Statement) -> bool:
    if stmt.kind is not Kind.TRANSACTION:
        return False
    return stmt.node.get("kind") in ("TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_ROLLBACK_TO")


def _declare_query_text(stmt: Statement) -> str:
    """The query of DECLARE … CURSOR … FOR <query>, cut from the statement's own text."""
    text = stmt.sql
    upper = text.upper()
    idx = upper.find(" FOR ")
    while idx != -1:
        candidate = text[idx + 5:].strip()
        try:
            if split(candidate):
                return candidate
        except PgError:
            pass
        idx = upper.find(" FOR ", idx + 1)
    raise PgError(E.SYNTAX_ERROR, "could not find the query of DECLARE CURSOR")


def _explain_inner(stmt: Statement) -> tuple[str, int]:
    """The query text of EXPLAIN [ANALYZE] [VERBOSE] | EXPLAIN (options) <query>, found with PostgreSQL's own
    scanner so keywords inside the query (a CTE's SELECT) or in string literals are never mistaken for its start.
    Returns the query and how many characters precede it (error positions point into the whole statement)."""
    tokens = scan(stmt.sql)
    i = 1  # past EXPLAIN
    if i < len(tokens) and tokens[i].name == "ASCII_40":  # the parenthesised option list
        depth = 0
        while i < len(tokens):
            depth += {"ASCII_40": 1, "ASCII_41": -1}.get(tokens[i].name, 0)
            i += 1
            if depth == 0:
                break
    else:
        while i < len(tokens) and tokens[i].name in ("ANALYZE", "ANALYSE", "VERBOSE"):
            i += 1
    if i >= len(tokens):
        raise PgError(E.SYNTAX_ERROR, "EXPLAIN needs a query")
    offset = tokens[i].start  # the scanner counts characters
    return stmt.sql[offset:], offset


_CATALOG_PLAN = ("Answered by the gateway's catalog engine (pg_catalog, information_schema, constants, temporary "
                 "tables); the warehouse is not queried",)


def _shifted(err: PgError, offset: int) -> PgError:
    if err.position is not None:
        err.position += offset
    return err


def _pretty(sql: str, dialect: str) -> str:
    """Warehouse SQL laid out one clause per line, as a plan is read."""
    try:
        return sqlglot.parse_one(sql, read=dialect).sql(dialect=dialect, pretty=True)
    except sqlglot.errors.SqlglotError:
        return sql


class Planning(ConnectionCore):
    """prepare / route / make_portal: nothing here runs a query."""

    def prepare(self, name: str, stmt: Statement, param_oids: Sequence[int]) -> Prepared:
        """Plan a statement: route it and learn its result shape without running it."""
        if self.tx.status == "E" and not allowed_in_failed(stmt):
            raise PgError(E.IN_FAILED_SQL_TRANSACTION,
                          "current transaction is aborted, commands ignored until end of transaction block")
        given = tuple(PgColumnType(o) for o in param_oids)
        kind = stmt.kind
        if kind is Kind.REJECTED:
            assert stmt.error is not None
            raise stmt.error
        if kind is Kind.EMPTY:
            return Prepared(name, stmt, given, None, "session")
        if kind is Kind.SHOW:
            return Prepared(name, stmt, given, commands.show_columns(stmt.node.get("name", "")), "session")
        if kind is Kind.FETCH:
            name_ = stmt.node.get("portalname", "")
            cursor = self.cursors.get(name_) or self.portals.get(name_)
            cols = cursor.prepared.columns if cursor is not None and not stmt.node.get("ismove") else None
            return Prepared(name, stmt, given, cols, "session")
        if kind is Kind.DECLARE:
            inner_sql = _declare_query_text(stmt)
            inner = split(inner_sql)[0]
            inner_prepared = self.prepare("", inner, param_oids)
            p = Prepared(name, stmt, inner_prepared.param_types, None, "session")
            p.compiled_sql = inner_sql
            return p
        if kind is Kind.EXPLAIN:
            return self.prepare_explain(name, stmt, param_oids)
        if kind is Kind.COPY:
            return self.prepare_copy(name, stmt)
        if kind is Kind.QUERY:
            if not param_oids and not stmt.relations:
                const = constant_query(stmt)
                if const is not None:
                    return Prepared(name, stmt, (), const.columns, "constant", constant=const)
            if self.route_query(stmt) == "semantic":
                compiled, temp_reads = self.compile_semantic(stmt.sql, param_oids)
                return Prepared(name, stmt, compiled.param_types, compiled.columns, "semantic",
                                compiled_sql=compiled.sql, empty=compiled.empty,
                                param_order=compiled.param_order, temp_reads=temp_reads)
            desc = self.catalog_session.describe(stmt.sql, tuple(param_oids))
            return Prepared(name, stmt, desc.param_types, desc.columns or None, "catalog")
        if kind is Kind.TEMP_DDL:
            if stmt.node_type in ("CreateTableAsStmt", "InsertStmt") and self.reads_semantic(stmt):
                return self.prepare_load(name, stmt, param_oids)
            self.check_temp_ddl(stmt)
            if not stmt.written:
                return Prepared(name, stmt, given, None, "catalog")
            desc = self.catalog_session.describe(stmt.sql, tuple(param_oids))
            return Prepared(name, stmt, desc.param_types, desc.columns or None, "catalog")  # columns: RETURNING
        return Prepared(name, stmt, given, None, "session")

    def prepare_explain(self, name: str, stmt: Statement, param_oids: Sequence[int]) -> Prepared:
        """EXPLAIN shows the warehouse SQL of a semantic query, or says the catalog engine answers it. With
        ANALYZE the inner statement will run at Execute (a temp-table write is then checked like one, since
        it really writes, as PostgreSQL's EXPLAIN ANALYZE INSERT does); without it nothing runs."""
        options = explain_options(stmt)
        analyze, fmt = options.analyze, options.format
        columns = (ResultColumn("QUERY PLAN", PgColumnType(FORMAT_TYPE_OIDS[fmt])),)  # json/xml: one document
        query, offset = _explain_inner(stmt)
        inner = split(query)[0]
        started = time.perf_counter()
        try:
            if analyze and inner.kind is Kind.REJECTED:  # EXPLAIN ANALYZE CREATE TABLE … AS really creates
                assert inner.error is not None
                raise inner.error
            if inner.node_type in ("CreateTableAsStmt", "InsertStmt") and self.reads_semantic(inner):
                if analyze:
                    what = "INSERT" if inner.node_type == "InsertStmt" else "CREATE TABLE AS"
                    raise PgError(E.FEATURE_NOT_SUPPORTED,
                                  f"EXPLAIN ANALYZE of {what} from semantic tables is not supported",
                                  hint="EXPLAIN ANALYZE its SELECT, or run the statement.")
                query = load_of(inner).query  # the SELECT whose rows it would write
            elif analyze and inner.kind is Kind.TEMP_DDL:
                self.check_temp_ddl(inner)
            if self.route_query(stmt) == "semantic":
                compiled, temp_reads = self.compile_semantic(query, param_oids)
                plan = ExplainPlan(tuple(_pretty(compiled.sql, self.app.models.layer.dialect).splitlines()) or ("",),
                                   "semantic", analyze, fmt, query, inner, (time.perf_counter() - started) * 1000)
                return Prepared(name, stmt, compiled.param_types, columns, "explain",
                                compiled_sql=compiled.sql, empty=compiled.empty,
                                param_order=compiled.param_order, explain=plan, temp_reads=temp_reads)
            desc = self.catalog_session.describe(query, tuple(param_oids))
        except PgError as err:
            raise _shifted(err, offset) from None
        plan = ExplainPlan(_CATALOG_PLAN, "catalog", analyze, fmt, query, inner, (time.perf_counter() - started) * 1000)
        return Prepared(name, stmt, desc.param_types, columns, "explain", explain=plan)

    def prepare_copy(self, name: str, stmt: Statement) -> Prepared:
        """COPY … TO STDOUT: its rows planned as the SELECT it stands for (a query, or a relation's columns), and
        how they are written. A COPY statement takes no parameters and describes as NoData, as in PostgreSQL."""
        node = split(stmt.sql)[0].node  # locations relative to this statement's own text
        is_from = bool(node.get("is_from"))
        options = copy_options(node, is_from, stmt.sql)
        if is_from:
            return self.prepare_copy_in(name, stmt, node, options)
        rel = node.get("relation")
        relation: str | None = None
        relation_columns: list[str] = []
        if rel is None:
            query, offset = copy_query_text(stmt.sql)
            inner = split(query)[0]
            if inner.kind is not Kind.QUERY:
                writes = inner.node_type in ("InsertStmt", "UpdateStmt", "DeleteStmt")
                if writes and not inner.node.get("returningList"):
                    raise PgError(E.FEATURE_NOT_SUPPORTED, "COPY query must have a RETURNING clause")
                raise PgError(E.FEATURE_NOT_SUPPORTED, f"COPY ({inner.tag} …) TO is not supported by this gateway",
                              hint="COPY a SELECT, VALUES or TABLE query.")
            try:
                rows = self.prepare("", inner, ())
            except PgError as err:
                raise _shifted(err, offset) from None
        else:
            schema, relation = rel.get("schemaname"), rel["relname"]
            if self.relation_kind(schema, relation) == "catalog":
                self.check_copy_relation(schema, relation)
            rows = self.prepare("", split(relation_query(schema, relation, None))[0], ())
            relation_columns = [c.name for c in rows.columns or ()]
            listed = [item["String"]["sval"] for item in node.get("attlist") or ()]
            if listed:
                cols = copy_columns(relation, relation_columns, listed)
                rows = self.prepare("", split(relation_query(schema, relation, cols))[0], ())
        names = tuple(c.name for c in rows.columns or ())
        plan = CopyPlan(rows, names, wire_format(options, names, relation, relation_columns))
        return Prepared(name, stmt, (), None, "copy", copy=plan)

    def prepare_copy_in(self, name: str, stmt: Statement, node: dict[str, Any], options: CopyOptions) -> Prepared:
        """COPY t [(columns)] FROM STDIN writes only this session's temp tables (check_temp_writes: any other relation
        is read-only, 25006, as in PostgreSQL's read-only transaction)."""
        self.check_temp_writes(stmt)
        table = node["relation"]["relname"]
        if options.force_not_null or options.force_null:
            raise PgError(E.FEATURE_NOT_SUPPORTED, "FORCE_NOT_NULL and FORCE_NULL are not supported by this gateway")
        if options.encoding is not None:
            raise PgError(E.FEATURE_NOT_SUPPORTED, "COPY FROM STDIN takes UTF8 data only on this gateway")
        available = [c for c, _ in self.catalog_session.temp_columns[table]]
        listed = [item["String"]["sval"] for item in node.get("attlist") or ()]
        columns = copy_columns(table, available, listed) if listed else available
        return Prepared(name, stmt, (), None, "copy", copy_in=CopyInPlan(table, tuple(columns), options))

    def check_copy_relation(self, schema: str | None, relation: str) -> None:
        """A pg_catalog / information_schema view cannot be copied by name (42809, as PostgreSQL), only its
        SELECT; an unknown relation is 42P01."""
        oid = self.catalog_session.to_reg(2205, qualified_name(schema, relation))
        if oid is None:
            raise PgError(E.UNDEFINED_TABLE, f'relation "{relation}" does not exist')
        _, table = self.catalog_session.run_query(f"SELECT relkind FROM pg_catalog.pg_class WHERE oid = {int(oid)}")
        if table.num_rows and table.column(0)[0].as_py() == "v":
            raise PgError(E.WRONG_OBJECT_TYPE, f'cannot copy from view "{relation}"',
                          hint="Try the COPY (SELECT ...) TO variant.")

    def route_query(self, stmt: Statement) -> str:
        """"semantic" when the statement reads a model's table (temp tables it reads beside one are written into
        it, see compile_semantic), else "catalog" (pg_catalog, information_schema, temp tables, constants)."""
        kinds = {self.relation_kind(sch, rel) for sch, rel in stmt.relations}
        semantic, catalog = "semantic" in kinds, "catalog" in kinds
        if semantic and catalog:
            raise PgError(E.FEATURE_NOT_SUPPORTED,
                          "a statement cannot combine semantic tables with pg_catalog or information_schema")
        return "semantic" if semantic else "catalog"

    def compile_semantic(self, sql: str, param_oids: Sequence[int]) -> tuple[CompiledQuery, tuple[str, int] | None]:
        """The statement compiled for the warehouse, the temp tables it reads written in as VALUES lists; and, when
        it reads any, (sql, the catalog's data version their rows were read at) for refresh_temp_reads."""
        layer = self.app.models.layer
        names = read_temp_tables(sql, self.temp_tables) if self.temp_tables else []
        if not names:
            return layer.compile(sql, tuple(param_oids)), None
        version = self.catalog_session.data_version
        inlined = inline(sql, {n: TempTable(*self.catalog_session.temp_table(n)) for n in names})
        try:
            compiled = layer.compile(inlined.sql, tuple(param_oids))
        except PgError as err:
            raise inlined.original_position(err) from None
        return inlined.fill(compiled, layer.dialect), (sql, version)

    def refresh_temp_reads(self, p: Prepared) -> None:
        """Before a prepared semantic statement that reads temp tables runs again: their rows, as they are now."""
        if p.temp_reads is None or p.temp_reads[1] == self.catalog_session.data_version:
            return
        compiled, p.temp_reads = self.compile_semantic(p.temp_reads[0], [t.oid for t in p.param_types])
        shape = [(c.name, c.type) for c in compiled.columns]
        if p.explain is None and shape != [(c.name, c.type) for c in p.columns or ()]:
            raise PgError(E.FEATURE_NOT_SUPPORTED, "cached plan must not change result type")
        p.compiled_sql, p.empty, p.param_order = compiled.sql, compiled.empty, compiled.param_order

    def relation_kind(self, schema: str | None, rel: str) -> str:
        """"temp" (this session's temp table, which shadows a model of the same name), "semantic" or "catalog"."""
        if schema in (None, "pg_temp") and rel in self.temp_tables:
            return "temp"
        if schema in (None, "public") and self.app.models.is_semantic_table(rel):
            return "semantic"
        return "catalog"

    def reads_semantic(self, stmt: Statement) -> bool:
        return any(self.relation_kind(sch, rel) == "semantic" for sch, rel in stmt.relations)

    def prepare_load(self, name: str, stmt: Statement, param_oids: Sequence[int]) -> Prepared:
        """CREATE TEMP TABLE … AS / SELECT … INTO TEMP / INSERT INTO temp … SELECT over semantic tables: the SELECT
        compiles for the warehouse, and its rows will be written into the temp table at Execute."""
        if stmt.written:
            self.check_temp_writes(stmt, semantic_ok=True)
        load = load_of(stmt)
        reads = split(load.query)[0]
        if self.route_query(reads) != "semantic":
            raise PgError(E.FEATURE_NOT_SUPPORTED, f"{stmt.tag} reads semantic tables outside its SELECT")
        compiled, temp_reads = self.compile_semantic(load.query, param_oids)
        existing = self.catalog_session.temp_columns.get(load.target) if not load.create else None
        plan = plan_load(load, tuple((c.name, c.type) for c in compiled.columns), existing)
        return Prepared(name, stmt, compiled.param_types, None, "load", compiled_sql=compiled.sql,
                        empty=compiled.empty, param_order=compiled.param_order, temp_reads=temp_reads, load=plan)

    def check_temp_ddl(self, stmt: Statement) -> None:
        if stmt.written:
            self.check_temp_writes(stmt)
        if stmt.node_type == "DropStmt":
            missing_ok = bool(stmt.node.get("missing_ok"))
            for t in stmt.dropped:
                if t not in self.temp_tables:
                    if self.app.models.is_semantic_table(t):
                        raise PgError(E.READ_ONLY_SQL_TRANSACTION,
                                      "cannot execute DROP TABLE in a read-only transaction")
                    if not missing_ok:
                        raise PgError(E.UNDEFINED_TABLE, f'table "{t}" does not exist')

    def check_temp_writes(self, stmt: Statement, semantic_ok: bool = False) -> None:
        """INSERT/UPDATE/DELETE/TRUNCATE write only this session's temp tables: any other relation it writes is
        read-only (25006, as PostgreSQL in a read-only transaction), an unknown one does not exist (42P01), and
        reading a semantic model besides a temp table is refused as in a SELECT (0A000)."""
        for schema, rel in stmt.written:
            if schema in (None, "pg_temp") and rel in self.temp_tables:
                continue
            model = schema in (None, "public") and self.app.models.is_semantic_table(rel)
            if model or is_catalog_relation(schema, rel):
                command = "COPY FROM" if stmt.kind is Kind.COPY else stmt.tag  # PostgreSQL's name for the write
                raise PgError(E.READ_ONLY_SQL_TRANSACTION, f"cannot execute {command} in a read-only transaction",
                              hint="Semantic models are read-only; only temporary tables can be written.")
            raise PgError(E.UNDEFINED_TABLE, f'relation "{rel}" does not exist')
        if self.route_query(stmt) == "semantic" and not semantic_ok:
            raise PgError(E.FEATURE_NOT_SUPPORTED, f"{stmt.tag} of a temporary table cannot read semantic tables")

    def make_portal(self, name: str, prepared: Prepared, params: tuple[object, ...],
                    formats: Sequence[int]) -> Portal:
        ncols = len(prepared.columns) if prepared.columns is not None else 0
        if not formats:
            fmts = (0,) * ncols
        elif len(formats) == 1:
            fmts = (formats[0],) * ncols
        elif len(formats) == ncols:
            fmts = tuple(formats)
        else:
            raise PgError(E.PROTOCOL_VIOLATION,
                          f"bind message has {len(formats)} result formats but query has {ncols} columns")
        return Portal(name, prepared, params, fmts)
