"""What a COPY statement copies: the query of `COPY (query) TO STDOUT`, or the SELECT a `COPY table [(columns)] TO
STDOUT` stands for, and its options as the wire format needs them.

The rows come from the same plan a SELECT gets (semantic, catalog, temp table, constant), so COPY of a model
streams from the warehouse like any listing and the COPY formats are only a different framing of the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pglast.parser import scan

from gateway.protocol.copyfmt import CopyFormat
from gateway.session.copy_options import CopyOptions, python_codec
from gateway.session.temp_inline import quote_ident
from virtual_schema import errors as E
from virtual_schema.errors import PgError

if TYPE_CHECKING:
    from gateway.session.portals import Prepared


@dataclass(frozen=True, slots=True)
class CopyPlan:
    """COPY … TO STDOUT: the rows' plan, the column names (HEADER) and how they are written."""

    query: Prepared
    names: tuple[str, ...]
    format: CopyFormat


@dataclass(frozen=True, slots=True)
class CopyInPlan:
    """COPY temp_table [(columns)] FROM STDIN: where the rows go and how the client writes them."""

    table: str
    columns: tuple[str, ...]
    options: CopyOptions


def query_text(sql: str) -> tuple[str, int]:
    """The query of `COPY (query) TO …`, cut with PostgreSQL's scanner between the parenthesis after COPY and its
    match; and how many characters precede it (error positions point into the whole statement)."""
    tokens = scan(sql)
    depth = 0
    for tok in tokens[1:]:
        depth += {"ASCII_40": 1, "ASCII_41": -1}.get(tok.name, 0)
        if depth == 0:
            return sql[tokens[2].start:tok.start], tokens[2].start  # the scanner counts characters
    raise PgError(E.SYNTAX_ERROR, "COPY needs a parenthesised query")


def qualified_name(schema: str | None, relation: str) -> str:
    """The relation's name as SQL, quoted, with its schema when one was written."""
    return quote_ident(relation) if schema is None else f"{quote_ident(schema)}.{quote_ident(relation)}"


def relation_query(schema: str | None, relation: str, columns: Sequence[str] | None) -> str:
    """The SELECT a COPY of a relation stands for."""
    cols = ", ".join(quote_ident(c) for c in columns) if columns is not None else "*"
    return f"SELECT {cols} FROM {qualified_name(schema, relation)}"


def copy_columns(relation: str, available: Sequence[str], listed: Sequence[str]) -> list[str]:
    """A column list (COPY's, INSERT's) checked against the relation's columns, with PostgreSQL's errors."""
    seen: set[str] = set()
    for name in listed:
        if name not in available:
            raise PgError(E.UNDEFINED_COLUMN, f'column "{name}" of relation "{relation}" does not exist')
        if name in seen:
            raise PgError(E.DUPLICATE_COLUMN, f'column "{name}" specified more than once')
        seen.add(name)
    return list(listed)


def wire_format(options: CopyOptions, names: Sequence[str], relation: str | None,
                relation_columns: Sequence[str]) -> CopyFormat:
    """The options as bytes, FORCE_QUOTE resolved to columns (by name, the first of equal names, as PostgreSQL)."""
    force = [options.force_quote_all] * len(names)
    for col in options.force_quote:
        if col not in names:
            if relation is None:
                raise PgError(E.UNDEFINED_COLUMN, f'column "{col}" does not exist')
            if col not in relation_columns:
                raise PgError(E.UNDEFINED_COLUMN, f'column "{col}" of relation "{relation}" does not exist')
            raise PgError(E.INVALID_COLUMN_REFERENCE, f'FORCE_QUOTE column "{col}" not referenced by COPY')
        force[list(names).index(col)] = True
    codec = python_codec(options.encoding) if options.encoding is not None else None
    return CopyFormat(options.format, options.delimiter.encode(), options.null.encode(), options.quote.encode(),
                      options.escape.encode(), tuple(force), options.header, codec, options.encoding or "UTF8")
