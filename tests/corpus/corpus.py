"""The BI corpus (../shared/bi-corpus): manifest entries and a psycopg runner that records what came back.

Statements go out as simple-query messages, exactly as written (several `;`-separated statements in one
message where the file has them), on one connection per file (the Tableau cursor files share one).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

CORPUS = Path(os.environ.get("BI_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "bi-corpus"))

# The corpus README: these FETCH from a cursor that was already closed (34000 invalid_cursor_name).
EXPECTED_CURSOR_ERRORS = {"tableau/043", "tableau/047", "tableau/051", "tableau/052"}
# Cube's cursor reproductions run in order within one session.
CURSOR_CONVERSATION = tuple(f"tableau/{n:03d}" for n in range(41, 54))
REDSHIFT_SQLSTATES = ("42P01", "42883")  # undefined_table / undefined_function, as PostgreSQL answers


@dataclass(frozen=True)
class Entry:
    file: str
    tool: str
    kind: str
    tables: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.file[: self.file.index("_")]

    @property
    def sql(self) -> str:
        return (CORPUS / self.file).read_text()

    @property
    def redshift(self) -> bool:
        return any(t.startswith("redshift.") for t in self.tables)


def manifest() -> list[Entry]:
    path = CORPUS / "manifest.tsv"
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [Entry(r["file"], r["tool"], r["kind"],
                      tuple(t for t in r["tables_referenced"].split(",") if t and t != "-"))
                for r in csv.DictReader(f, delimiter="\t")]


@dataclass
class ResultShape:
    status: str
    columns: list[tuple[str, int]]
    rows: list[tuple[Any, ...]] | None


@dataclass
class Outcome:
    sqlstate: str | None = None
    message: str = ""
    results: list[ResultShape] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.sqlstate is None


def run(conn: psycopg.Connection[tuple[Any, ...]], sql: str, keep_rows: bool = False) -> Outcome:
    """Send sql as one simple-query message; collect every result's status and columns (or the error)."""
    out = Outcome()
    try:
        with conn.cursor() as cur:
            cur.execute(sql.encode())  # bytes: sent verbatim, no client-side placeholder handling
            while True:
                cols = [(d.name, d.type_code) for d in cur.description] if cur.description else []
                rows = cur.fetchall() if cur.description else None
                out.results.append(ResultShape(cur.statusmessage or "", cols, rows if keep_rows else None))
                if not cur.nextset():
                    break
    except psycopg.Error as e:
        out.sqlstate = e.sqlstate or "?????"
        out.message = (e.diag.message_primary or str(e)).strip()
    except (ValueError, ArithmeticError, UnicodeError) as e:  # a value that contradicts its RowDescription type
        out.sqlstate = "CLIENT"
        out.message = f"psycopg cannot decode the answer: {type(e).__name__}: {e}"
    return out
