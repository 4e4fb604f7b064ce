"""Classify each statement: session command | catalog query | semantic query | rejected.

pglast (PostgreSQL's own parser) splits a query string into statements and gives their parse
trees; the router walks the JSON form of the tree (an order of magnitude cheaper than pglast's
Python AST objects) to find which relations a statement reads. Anything that reads a semantic
model's virtual table is a semantic query; anything else that reads (pg_catalog, information_schema,
temp tables, constant SELECTs) goes to the in-process catalog engine; writes (INSERT, UPDATE, DELETE,
TRUNCATE) go there too, and the session refuses them unless they write only its temp tables, as PostgreSQL
refuses writes to other relations in a read-only transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

from pglast.parser import ParseError, parse_sql_json

from virtual_schema.errors import (
    FEATURE_NOT_SUPPORTED,
    INSUFFICIENT_PRIVILEGE,
    READ_ONLY_SQL_TRANSACTION,
    SYNTAX_ERROR,
    PgError,
)

CATALOG_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_temp", "pg_toast"})


class Kind(StrEnum):
    EMPTY = "empty"
    SET = "set"  # SET / RESET / SET TRANSACTION / SET SESSION CHARACTERISTICS
    SHOW = "show"
    TRANSACTION = "transaction"
    DISCARD = "discard"
    DEALLOCATE = "deallocate"
    DECLARE = "declare"
    FETCH = "fetch"  # FETCH and MOVE
    CLOSE = "close"
    QUERY = "query"  # a reading statement: semantic or catalog, decided per session (temp tables)
    TEMP_DDL = "temp_ddl"  # CREATE TEMP TABLE, SELECT INTO TEMP, INSERT/UPDATE/DELETE/TRUNCATE/DROP of temp tables
    EXPLAIN = "explain"
    COPY = "copy"  # COPY … TO STDOUT (rows of a query or relation) and COPY … FROM STDIN (into a temp table)
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Statement:
    kind: Kind
    sql: str  # this statement's own text
    node_type: str  # pglast node name, e.g. SelectStmt
    node: dict[str, Any] = field(compare=False, hash=False)
    relations: tuple[tuple[str | None, str], ...] = ()  # (schema, name) read by a QUERY, CTE names excluded
    created_temp: str | None = None  # TEMP_DDL: the temp table it creates
    dropped: tuple[str, ...] = ()  # TEMP_DDL: tables it drops
    written: tuple[tuple[str | None, str], ...] = ()  # TEMP_DDL: (schema, name) an INSERT/UPDATE/DELETE/TRUNCATE writes
    error: PgError | None = None  # REJECTED: why

    @property
    def tag(self) -> str:
        """The command word PostgreSQL puts in CommandComplete."""
        return _TAGS.get(self.node_type, "SELECT")


_TAGS = {
    "SelectStmt": "SELECT",
    "VariableSetStmt": "SET",
    "VariableShowStmt": "SHOW",
    "DiscardStmt": "DISCARD ALL",
    "DeallocateStmt": "DEALLOCATE",
    "DeclareCursorStmt": "DECLARE CURSOR",
    "ClosePortalStmt": "CLOSE CURSOR",
    "CreateStmt": "CREATE TABLE",
    "CreateTableAsStmt": "SELECT",
    "InsertStmt": "INSERT",
    "UpdateStmt": "UPDATE",
    "DeleteStmt": "DELETE",
    "TruncateStmt": "TRUNCATE TABLE",
    "DropStmt": "DROP TABLE",
    "ExplainStmt": "EXPLAIN",
    "CopyStmt": "COPY",
}


def parse_error(sql: str, err: ParseError) -> PgError:
    message = str(err.args[0]) if err.args else "syntax error"
    position = None
    if len(err.args) > 1 and isinstance(err.args[1], int):
        position = err.args[1] + 1  # pglast reports a character offset; PostgreSQL's is 1-based
    return PgError(SYNTAX_ERROR, message, position=position)


def split(sql: str) -> tuple[Statement, ...]:
    """Parse a query string into classified statements (cached per text); PgError 42601 on syntax errors."""
    return _split_cached(sql)


@lru_cache(maxsize=4096)
def _split_cached(sql: str) -> tuple[Statement, ...]:
    try:
        tree = json.loads(parse_sql_json(sql))
    except ParseError as e:
        raise parse_error(sql, e) from None
    raw = sql.encode("utf-8")
    out: list[Statement] = []
    stmts = tree.get("stmts", [])
    for raw_stmt in stmts:
        node_wrapper = raw_stmt["stmt"]
        loc = raw_stmt.get("stmt_location", 0)
        length = raw_stmt.get("stmt_len", 0) or len(raw) - loc
        text = raw[loc : loc + length].decode("utf-8").strip()
        (node_type, node), = node_wrapper.items()
        out.append(_classify(text, node_type, node))
    return tuple(out)


def _classify(text: str, node_type: str, node: dict[str, Any]) -> Statement:
    if node_type == "VariableSetStmt":
        return Statement(Kind.SET, text, node_type, node)
    if node_type == "VariableShowStmt":
        return Statement(Kind.SHOW, text, node_type, node)
    if node_type == "TransactionStmt":
        return Statement(Kind.TRANSACTION, text, node_type, node)
    if node_type == "DiscardStmt":
        return Statement(Kind.DISCARD, text, node_type, node)
    if node_type == "DeallocateStmt":
        return Statement(Kind.DEALLOCATE, text, node_type, node)
    if node_type == "DeclareCursorStmt":
        return Statement(Kind.DECLARE, text, node_type, node, relations=tuple(read_relations(node["query"])))
    if node_type == "FetchStmt":
        return Statement(Kind.FETCH, text, node_type, node)
    if node_type == "ClosePortalStmt":
        return Statement(Kind.CLOSE, text, node_type, node)
    if node_type == "SelectStmt":
        into = node.get("intoClause")
        if into is not None:
            rel = into["rel"]
            if rel.get("relpersistence") == "t":
                return Statement(Kind.TEMP_DDL, text, "CreateTableAsStmt", node,
                                 relations=tuple(read_relations(node)), created_temp=rel["relname"])
            return _rejected(text, node_type, node, "SELECT INTO")
        return Statement(Kind.QUERY, text, node_type, node, relations=tuple(read_relations(node)))
    if node_type == "CreateStmt":
        rel = node["relation"]
        if rel.get("relpersistence") == "t":
            return Statement(Kind.TEMP_DDL, text, node_type, node, created_temp=rel["relname"])
        return _rejected(text, node_type, node, "CREATE TABLE")
    if node_type == "CreateTableAsStmt":
        rel = node["into"]["rel"]
        if rel.get("relpersistence") == "t" and node.get("objtype") != "OBJECT_MATVIEW":
            return Statement(Kind.TEMP_DDL, text, node_type, node, relations=tuple(read_relations(node["query"])),
                             created_temp=rel["relname"])
        return _rejected(text, node_type, node, "CREATE TABLE AS")
    if node_type in ("InsertStmt", "UpdateStmt", "DeleteStmt"):
        rel = node["relation"]
        target = (rel.get("schemaname"), rel["relname"])
        reads = tuple(r for r in read_relations(node) if r != target)
        return Statement(Kind.TEMP_DDL, text, node_type, node, relations=(target, *reads), written=(target,))
    if node_type == "TruncateStmt":
        targets = tuple((r["RangeVar"].get("schemaname"), r["RangeVar"]["relname"]) for r in node["relations"])
        return Statement(Kind.TEMP_DDL, text, node_type, node, relations=targets, written=targets)
    if node_type == "DropStmt" and node.get("removeType") == "OBJECT_TABLE":
        names = []
        for obj in node.get("objects", []):
            parts = [p["String"]["sval"] for p in obj["List"]["items"]]
            names.append(parts[-1])
        return Statement(Kind.TEMP_DDL, text, node_type, node, dropped=tuple(names))
    if node_type == "ExplainStmt":
        return Statement(Kind.EXPLAIN, text, node_type, node,
                         relations=tuple(read_relations(node["query"])))
    if node_type == "CopyStmt":
        return _copy(text, node)
    return _rejected(text, node_type, node, _command_name(node_type, node))


def _copy(text: str, node: dict[str, Any]) -> Statement:
    """COPY to the client or from it; a server file or program is refused as PostgreSQL refuses it to a user
    without pg_write_server_files / pg_execute_server_program."""
    hint = "Anyone can COPY to stdout or from stdin. psql's \\copy command also works for anyone."
    if node.get("is_program"):
        return Statement(Kind.REJECTED, text, "CopyStmt", node, error=PgError(
            INSUFFICIENT_PRIVILEGE, "must be superuser or have privileges of the pg_execute_server_program role "
            "to COPY to or from an external program", hint=hint))
    if node.get("filename") is not None:
        direction = "from" if node.get("is_from") else "to"
        role = "pg_read_server_files" if node.get("is_from") else "pg_write_server_files"
        return Statement(Kind.REJECTED, text, "CopyStmt", node, error=PgError(
            INSUFFICIENT_PRIVILEGE, f"must be superuser or have privileges of the {role} role to COPY {direction} "
            "a file", hint=hint))
    rel: dict[str, Any] | None = node.get("relation")
    if node.get("is_from") and rel is not None:
        target = (rel.get("schemaname"), rel["relname"])
        return Statement(Kind.COPY, text, "CopyStmt", node, relations=(target,), written=(target,))
    reads = tuple(read_relations(node["query"])) if rel is None else ((rel.get("schemaname"), rel["relname"]),)
    return Statement(Kind.COPY, text, "CopyStmt", node, relations=reads)


_WRITES = {
    "UpdateStmt": "UPDATE", "DeleteStmt": "DELETE", "MergeStmt": "MERGE", "TruncateStmt": "TRUNCATE TABLE",
    "ViewStmt": "CREATE VIEW", "IndexStmt": "CREATE INDEX", "AlterTableStmt": "ALTER TABLE",
    "CreateSchemaStmt": "CREATE SCHEMA", "CreateSeqStmt": "CREATE SEQUENCE", "CreateFunctionStmt": "CREATE FUNCTION",
    "RenameStmt": "ALTER", "GrantStmt": "GRANT", "CreateRoleStmt": "CREATE ROLE", "DropStmt": "DROP",
    "CommentStmt": "COMMENT", "VacuumStmt": "VACUUM", "CreatedbStmt": "CREATE DATABASE",
}


def _command_name(node_type: str, node: dict[str, Any]) -> str:
    return _WRITES.get(node_type, node_type.removesuffix("Stmt").upper())


def _rejected(text: str, node_type: str, node: dict[str, Any], command: str) -> Statement:
    if node_type in _WRITES or node_type in ("CreateStmt", "CreateTableAsStmt", "SelectStmt"):
        err = PgError(READ_ONLY_SQL_TRANSACTION, f"cannot execute {command} in a read-only transaction",
                      hint="Semantic models are read-only; only temporary tables can be created.")
    else:
        err = PgError(FEATURE_NOT_SUPPORTED, f"{command} is not supported by this gateway")
    return Statement(Kind.REJECTED, text, node_type, node, error=err)


def read_relations(node: Any) -> Iterator[tuple[str | None, str]]:
    """Every (schema, relation) a statement reads, without its own CTE names."""
    ctes: set[str] = set()
    found: list[tuple[str | None, str]] = []
    _walk(node, ctes, found)
    for schema, name in found:
        if schema is None and name in ctes:
            continue
        yield schema, name


def _walk(node: Any, ctes: set[str], found: list[tuple[str | None, str]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "RangeVar":
                found.append((value.get("schemaname"), value["relname"]))
                continue
            if key == "CommonTableExpr":
                ctes.add(value["ctename"])
            if key == "intoClause":
                continue
            _walk(value, ctes, found)
    elif isinstance(node, list):
        for item in node:
            _walk(item, ctes, found)


def is_catalog_relation(schema: str | None, name: str) -> bool:
    return schema in CATALOG_SCHEMAS or (schema is None and name.startswith(("pg_", "_pg_")))
