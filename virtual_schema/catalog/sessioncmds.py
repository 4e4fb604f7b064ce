"""Session commands a catalog session can answer on its own (SET, SHOW, BEGIN, DECLARE/FETCH, ...).

The gateway normally answers these itself; handling them here too lets the catalog engine replay
whole client conversations (the BI corpus) and serve embedded uses without the wire layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from virtual_schema import errors as E
from virtual_schema.errors import PgError
from virtual_schema.pgtypes import PgColumnType
from virtual_schema.schema import ResultColumn

if TYPE_CHECKING:
    from virtual_schema.catalog.engine import CatalogDescription, CatalogResult, CatalogSession

_COMMENTS = re.compile(r"^\s*(?:(?:--[^\n]*\n)|(?:/\*.*?\*/)|\s)*", re.S)
_FIRST = re.compile(r"([A-Za-z]+)")


@dataclass
class _Cursor:
    columns: tuple[ResultColumn, ...]
    table: pa.Table
    pos: int
    hold: bool


class SessionCommands:
    def __init__(self, session: CatalogSession) -> None:
        self.s = session
        self.cursors: dict[str, _Cursor] = {}
        self.in_tx = False

    @staticmethod
    def keyword(sql: str) -> tuple[str, str]:
        body = sql[_COMMENTS.match(sql).end() :]  # type: ignore[union-attr]
        m = _FIRST.match(body)
        return (m.group(1).lower() if m else ""), body.strip().rstrip(";").strip()

    def describe(self, sql: str) -> CatalogDescription | None:
        from virtual_schema.catalog.engine import CatalogDescription

        kw, body = self.keyword(sql)
        if kw == "show":
            name = body.split(None, 1)[1].strip().lower() if len(body.split(None, 1)) > 1 else ""
            cols = self._show_columns(name)
            return CatalogDescription(cols, ())
        if kw in (
            "set",
            "reset",
            "begin",
            "start",
            "commit",
            "end",
            "rollback",
            "abort",
            "declare",
            "close",
            "move",
            "discard",
            "deallocate",
            "savepoint",
            "release",
        ):
            return CatalogDescription((), ())
        if kw == "fetch":
            cur = self._cursor(body)
            return CatalogDescription(cur.columns, ())
        return None

    def _show_columns(self, name: str) -> tuple[ResultColumn, ...]:
        if name == "all":
            return tuple(ResultColumn(n, PgColumnType(25)) for n in ("name", "setting", "description"))
        return (ResultColumn(name, PgColumnType(25)),)

    def execute(self, sql: str) -> CatalogResult | None:
        from virtual_schema.catalog.engine import CatalogResult

        kw, body = self.keyword(sql)
        s = self.s
        if kw == "set":
            m = re.match(
                r"set\s+(?:session\s+|local\s+)?(?:(time\s+zone)\s+(.+)|([\w.]+)\s*(?:=|\bto\b)\s*(.+))$",
                body,
                re.I | re.S,
            )
            if m is None:
                if re.match(r"set\s+(session\s+characteristics|transaction)", body, re.I):
                    return CatalogResult((), [], "SET")
                raise PgError(E.SYNTAX_ERROR, 'syntax error at or near "SET"')
            name = "timezone" if m.group(1) else m.group(3).lower()
            value = (m.group(2) or m.group(4)).strip()
            parts = [p.strip().strip("'").strip('"') for p in re.split(r",(?=(?:[^']*'[^']*')*[^']*$)", value)]
            s.set_config(name, ", ".join(parts), False)
            return CatalogResult((), [], "SET")
        if kw == "reset":
            return CatalogResult((), [], "RESET")
        if kw == "show":
            name = body.split(None, 1)[1].strip().lower() if len(body.split(None, 1)) > 1 else ""
            if name == "all":
                items = sorted(s.info.settings.items())
                tbl = pa.table(
                    {
                        "name": [k for k, _ in items],
                        "setting": [str(v) for _, v in items],
                        "description": [""] * len(items),
                    }
                )
                return CatalogResult(self._show_columns("all"), tbl.to_batches(), "SHOW", len(items))
            alias = {"time zone": "timezone", "transaction isolation level": "transaction_isolation"}
            key = alias.get(name, name)
            value = s.setting(key)
            if value is None:
                raise PgError(E.UNDEFINED_PARAMETER, f'unrecognized configuration parameter "{name}"')
            tbl = pa.table({key: pa.array([value], pa.string())})
            return CatalogResult(self._show_columns(key), tbl.to_batches(), "SHOW", 1)
        if kw in ("begin", "start"):
            self.in_tx = True
            return CatalogResult((), [], "BEGIN" if kw == "begin" else "START TRANSACTION")
        if kw in ("commit", "end", "rollback", "abort"):
            self.in_tx = False
            for name in [n for n, c in self.cursors.items() if not c.hold]:
                del self.cursors[name]
            return CatalogResult((), [], "COMMIT" if kw in ("commit", "end") else "ROLLBACK")
        if kw in ("savepoint", "release"):
            return CatalogResult((), [], kw.upper())
        if kw == "declare":
            m = re.match(r"declare\s+(\"[^\"]+\"|\w+)\s+(.*?)\bcursor\b(.*?)\bfor\b\s+(.*)$", body, re.I | re.S)
            if m is None:
                raise PgError(E.SYNTAX_ERROR, 'syntax error at or near "DECLARE"')
            name = _name(m.group(1))
            hold = bool(re.search(r"\bwith\s+hold\b", m.group(3), re.I))
            if not hold and not self.in_tx:
                raise PgError("25P01", "DECLARE CURSOR can only be used in transaction blocks")
            if name in self.cursors:
                raise PgError(E.DUPLICATE_CURSOR, f'cursor "{name}" already exists')
            cols, table = s.run_query(m.group(4))
            self.cursors[name] = _Cursor(cols, table, 0, hold)
            return CatalogResult((), [], "DECLARE CURSOR")
        if kw in ("fetch", "move"):
            cur = self._cursor(body)
            count = self._count(body)
            start = cur.pos
            end = cur.table.num_rows if count is None else min(cur.table.num_rows, start + count)
            cur.pos = end
            piece = cur.table.slice(start, end - start)
            if kw == "move":
                return CatalogResult((), [], f"MOVE {end - start}", end - start)
            return CatalogResult(cur.columns, piece.to_batches(), f"FETCH {end - start}", end - start)
        if kw == "close":
            target = body.split(None, 1)[1].strip() if len(body.split(None, 1)) > 1 else ""
            if target.lower() == "all":
                self.cursors.clear()
            else:
                name = _name(target)
                if name not in self.cursors:
                    raise PgError(E.INVALID_CURSOR_NAME, f'cursor "{name}" does not exist')
                del self.cursors[name]
            return CatalogResult((), [], "CLOSE CURSOR")
        if kw == "discard":
            self.cursors.clear()
            return CatalogResult((), [], "DISCARD ALL")
        if kw == "deallocate":
            return CatalogResult((), [], "DEALLOCATE")
        return None

    def _cursor(self, body: str) -> _Cursor:
        words = body.split()
        name = _name(words[-1]) if words else ""
        cur = self.cursors.get(name)
        if cur is None:
            raise PgError(E.INVALID_CURSOR_NAME, f'cursor "{name}" does not exist')
        return cur

    @staticmethod
    def _count(body: str) -> int | None:
        m = re.match(r"(?:fetch|move)\s+(?:(forward|next)\s+)?(all|\d+)?", body, re.I)
        if m is None:
            return 1
        if m.group(2) is None:
            return 1
        if m.group(2).lower() == "all":
            return None
        return int(m.group(2))


def _name(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith('"') and raw.endswith('"'):
        return raw[1:-1]
    return raw.lower()


_ = Any
