"""EXPLAIN's options, read from PostgreSQL's own parse tree, and the lines EXPLAIN ANALYZE appends after
running the statement.

PostgreSQL checks the options before it plans anything (ExplainQuery in commands/explain.c): an unknown
option is 42601, a value that is not a Boolean is 42601, an unknown FORMAT is 22023, and WAL or an explicit
TIMING without ANALYZE is 22023. The same checks here give the same errors for the same statements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.router import Statement
from virtual_schema import errors as E
from virtual_schema.errors import PgError

_BOOLEAN_OPTIONS = frozenset({"analyze", "verbose", "costs", "settings", "buffers", "wal", "timing", "summary"})
_FORMATS = frozenset({"text", "xml", "json", "yaml"})


@dataclass(frozen=True, slots=True)
class ExplainOptions:
    analyze: bool = False


@dataclass(slots=True)
class ExplainPlan:
    """What an EXPLAIN portal shows and, with ANALYZE, what it runs: the warehouse SQL (route "semantic",
    in Prepared.compiled_sql) or the inner statement through the catalog engine (route "catalog")."""

    lines: tuple[str, ...]
    target: str  # "semantic" | "catalog"
    analyze: bool = False
    query: str = ""  # the statement after EXPLAIN's options
    inner: Statement | None = None  # that statement, routed (a temp-table write is one)
    planning_ms: float = 0.0  # the gateway's own planning: compiling to warehouse SQL, or describing


def _position(sql: str, location: int) -> int | None:
    """PostgreSQL's 1-based character position of a parse-tree location (pglast counts bytes)."""
    if location < 0:
        return None
    return len(sql.encode()[:location].decode(errors="ignore")) + 1


def _boolean(name: str, opt: dict[str, Any]) -> bool:
    """defGetBoolean: no value is true; 1/0, true/false and on/off (any case) are Booleans, nothing else."""
    arg = opt.get("arg")
    if arg is None:
        return True
    if "Integer" in arg:
        value = arg["Integer"].get("ival", 0)
        if value in (0, 1):
            return bool(value)
    elif "String" in arg:
        text = str(arg["String"].get("sval", "")).lower()
        if text in ("true", "on"):
            return True
        if text in ("false", "off"):
            return False
    raise PgError(E.SYNTAX_ERROR, f"{name} requires a Boolean value")  # no position, as in PostgreSQL


def explain_options(stmt: Statement) -> ExplainOptions:
    """The options of an ExplainStmt, checked the way PostgreSQL 15 checks them."""
    flags: dict[str, bool] = {}
    for item in stmt.node.get("options") or ():
        opt = item["DefElem"]
        name = str(opt["defname"])
        if name in _BOOLEAN_OPTIONS:
            flags[name] = _boolean(name, opt)
        elif name == "format":
            arg = opt.get("arg") or {}
            value = str(arg.get("String", {}).get("sval", ""))
            if value not in _FORMATS:
                raise PgError(E.INVALID_PARAMETER_VALUE,
                              f'unrecognized value for EXPLAIN option "format": "{value}"',
                              position=_position(stmt.sql, int(opt.get("location", -1))))
        else:
            raise PgError(E.SYNTAX_ERROR, f'unrecognized EXPLAIN option "{name}"',
                          position=_position(stmt.sql, int(opt.get("location", -1))))
    analyze = flags.get("analyze", False)
    if flags.get("wal") and not analyze:
        raise PgError(E.INVALID_PARAMETER_VALUE, "EXPLAIN option WAL requires ANALYZE")
    if flags.get("timing") and not analyze:
        raise PgError(E.INVALID_PARAMETER_VALUE, "EXPLAIN option TIMING requires ANALYZE")
    return ExplainOptions(analyze=analyze)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def analyze_lines(node: str, rows: int, first_s: float | None, total_s: float, planning_ms: float) -> list[str]:
    """The lines EXPLAIN ANALYZE adds, in PostgreSQL's wording: the node's actual time (to its first row ..
    to its end) and rows, then Planning Time and Execution Time in ms with three decimals."""
    first = total_s if first_s is None else first_s
    return [f"{node}  (actual time={_ms(first)}..{_ms(total_s)} rows={rows} loops=1)",
            f"Planning Time: {planning_ms:.3f} ms",
            f"Execution Time: {_ms(total_s)} ms"]
