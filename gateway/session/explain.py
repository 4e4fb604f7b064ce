"""EXPLAIN's options, read from PostgreSQL's own parse tree, and its result: the plan's lines in text format
(with the figures EXPLAIN ANALYZE appends after running the statement) or one JSON, YAML or XML document.

PostgreSQL checks the options before it plans anything (ExplainQuery in commands/explain.c): an unknown
option is 42601, a value that is not a Boolean is 42601, an unknown FORMAT is 22023, and WAL or an explicit
TIMING without ANALYZE is 22023. The same checks here give the same errors for the same statements.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from gateway.router import Statement
from gateway.session.defelem import def_boolean
from virtual_schema import errors as E
from virtual_schema.errors import PgError

_BOOLEAN_OPTIONS = frozenset({"analyze", "verbose", "costs", "settings", "buffers", "wal", "timing", "summary"})
_FORMATS = frozenset({"text", "xml", "json", "yaml"})


@dataclass(frozen=True, slots=True)
class ExplainOptions:
    analyze: bool = False
    format: str = "text"  # text | json | yaml | xml


# PostgreSQL's result column type per FORMAT (ExplainResultDesc): json and xml documents, otherwise text
FORMAT_TYPE_OIDS = {"text": 25, "yaml": 25, "json": 114, "xml": 142}


@dataclass(frozen=True, slots=True)
class Measured:
    """What EXPLAIN ANALYZE measured of one run."""

    node: str  # "Warehouse Query" | "Catalog Engine"
    rows: int
    first_s: float | None  # to the first row; None: no row came
    total_s: float

    @property
    def startup_s(self) -> float:
        """PostgreSQL's actual startup time: to the first row, or to the end when none came."""
        return self.total_s if self.first_s is None else self.first_s


@dataclass(slots=True)
class ExplainPlan:
    """What an EXPLAIN portal shows and, with ANALYZE, what it runs: the warehouse SQL (route "semantic",
    in Prepared.compiled_sql) or the inner statement through the catalog engine (route "catalog")."""

    lines: tuple[str, ...]
    target: str  # "semantic" | "catalog"
    analyze: bool = False
    format: str = "text"
    query: str = ""  # the statement after EXPLAIN's options
    inner: Statement | None = None  # that statement, routed (a temp-table write is one)
    planning_ms: float = 0.0  # the gateway's own planning: compiling to warehouse SQL, or describing

    @property
    def runs(self) -> Statement | None:
        """The statement EXPLAIN runs at Execute: the inner one with ANALYZE, none without."""
        return self.inner if self.analyze else None


def char_offset(sql: str, location: int) -> int:
    """The character offset in `sql` of a parse-tree location (pglast's parse tree counts bytes; its scanner's tokens
    count characters already)."""
    return len(sql.encode()[:location].decode(errors="ignore"))


def location_position(sql: str, location: int) -> int | None:
    """PostgreSQL's 1-based character position of a parse-tree location."""
    return None if location < 0 else char_offset(sql, location) + 1


def explain_options(stmt: Statement) -> ExplainOptions:
    """The options of an ExplainStmt, checked the way PostgreSQL 15 checks them."""
    flags: dict[str, bool] = {}
    fmt = "text"
    for item in stmt.node.get("options") or ():
        opt = item["DefElem"]
        name = str(opt["defname"])
        if name in _BOOLEAN_OPTIONS:
            flags[name] = def_boolean(opt)
        elif name == "format":
            arg = opt.get("arg") or {}
            value = str(arg.get("String", {}).get("sval", ""))
            if value not in _FORMATS:
                raise PgError(E.INVALID_PARAMETER_VALUE,
                              f'unrecognized value for EXPLAIN option "format": "{value}"',
                              position=location_position(stmt.sql, int(opt.get("location", -1))))
            fmt = value
        else:
            raise PgError(E.SYNTAX_ERROR, f'unrecognized EXPLAIN option "{name}"',
                          position=location_position(stmt.sql, int(opt.get("location", -1))))
    analyze = flags.get("analyze", False)
    if flags.get("wal") and not analyze:
        raise PgError(E.INVALID_PARAMETER_VALUE, "EXPLAIN option WAL requires ANALYZE")
    if flags.get("timing") and not analyze:
        raise PgError(E.INVALID_PARAMETER_VALUE, "EXPLAIN option TIMING requires ANALYZE")
    return ExplainOptions(analyze=analyze, format=fmt)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def analyze_lines(measured: Measured, planning_ms: float) -> list[str]:
    """The lines EXPLAIN ANALYZE adds, in PostgreSQL's wording: the node's actual time (to its first row ..
    to its end) and rows, then Planning Time and Execution Time in ms with three decimals."""
    return [f"{measured.node}  (actual time={_ms(measured.startup_s)}..{_ms(measured.total_s)} "
            f"rows={measured.rows} loops=1)",
            f"Planning Time: {planning_ms:.3f} ms",
            f"Execution Time: {_ms(measured.total_s)} ms"]


def render(plan: ExplainPlan, measured: Measured | None) -> list[str]:
    """The rows of EXPLAIN's result: one line per row in text format; one document in JSON, YAML or XML, with
    PostgreSQL's key names so that plan viewers (DBeaver, pgAdmin) read it. The gateway estimates no costs,
    so the cost keys are left out, as with COSTS OFF."""
    if plan.format == "text":
        lines = list(plan.lines)
        if measured is not None:
            lines += analyze_lines(measured, plan.planning_ms)
        return lines
    provider = "Warehouse Query" if plan.target == "semantic" else "Catalog Engine"
    node: dict[str, Any] = {"Node Type": "Custom Scan", "Custom Plan Provider": provider,
                            "Parallel Aware": False, "Async Capable": False}
    if plan.target == "semantic":
        node["Warehouse SQL"] = "\n".join(plan.lines)
    else:
        node["Description"] = " ".join(plan.lines)
    query: dict[str, Any] = {"Plan": node}
    if measured is not None:
        node.update({"Actual Startup Time": round(measured.startup_s * 1000, 3),
                     "Actual Total Time": round(measured.total_s * 1000, 3),
                     "Actual Rows": measured.rows, "Actual Loops": 1})
        query.update({"Planning Time": round(plan.planning_ms, 3), "Triggers": [],
                      "Execution Time": round(measured.total_s * 1000, 3)})
    if plan.format == "json":
        return [json.dumps([query], indent=2)]
    if plan.format == "yaml":
        return ["\n".join(_yaml(query, "- "))]
    return [_xml(query)]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:.3f}" if isinstance(value, float) else str(value)
    return json.dumps(value)  # YAML accepts a JSON string: quoted, escaped


def _yaml(doc: dict[str, Any], first_prefix: str) -> list[str]:
    """PostgreSQL's YAML layout: `- Plan: ` then two-space indented keys, strings quoted."""
    out: list[str] = []
    for i, (key, value) in enumerate(doc.items()):
        prefix = first_prefix if i == 0 else " " * len(first_prefix)
        if isinstance(value, dict):
            out.append(f"{prefix}{key}: ")
            out += ["    " + line for line in _yaml(value, "")]
        elif isinstance(value, list):  # only Triggers, always empty here
            out.append(f"{prefix}{key}: ")
        else:
            out.append(f"{prefix}{key}: {_scalar(value)}")
    return out


def _xml(doc: dict[str, Any]) -> str:
    """PostgreSQL's XML layout: the explain namespace, one element per key with spaces as hyphens."""
    def element(key: str, value: Any, depth: int) -> list[str]:
        tag, pad = key.replace(" ", "-"), "  " * depth
        if isinstance(value, dict):
            return [f"{pad}<{tag}>", *(x for k, v in value.items() for x in element(k, v, depth + 1)), f"{pad}</{tag}>"]
        if isinstance(value, list):
            return [f"{pad}<{tag}>", f"{pad}</{tag}>"]
        text = _scalar(value) if isinstance(value, (bool, int, float)) else str(value)
        return [f"{pad}<{tag}>{escape(text)}</{tag}>"]

    body = [x for k, v in doc.items() for x in element(k, v, 2)]
    return "\n".join(['<explain xmlns="http://www.postgresql.org/2009/explain">', "  <Query>", *body, "  </Query>",
                      "</explain>"])
