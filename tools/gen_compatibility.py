"""Render build/compat-results.json (written by tests/clients and tests/corpus) as docs/compatibility.md.

usage: python tools/gen_compatibility.py [--results build/compat-results.json] [--out docs/compatibility.md]

The page shows pass rates per BI tool (BI corpus replay) and per client driver (real client matrix), then
every failing check with the error the test saw. It states only what the last test run measured.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("catalog", "session", "semantic")
TOOL_ORDER = ("tableau", "powerbi", "metabase", "superset", "grafana", "dbeaver", "excel", "psql", "thoughtspot",
              "quicksight", "sigma", "lookerstudio", "holistics", "domo", "other")
CLIENT_ORDER = ("psql", "psycopg 3", "asyncpg", "pgjdbc", "psqlODBC", "node-postgres", "SQLAlchemy 2 (psycopg)")


def _rate(passed: int, total: int) -> str:
    if total == 0:
        return "n/a"
    return f"{passed}/{total} ({100.0 * passed / total:.0f}%)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def corpus_section(records: dict[str, dict[str, Any]]) -> list[str]:
    by_tool: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for r in records.values():
        by_tool[r["tool"]][r["kind"]].append(r["outcome"] == "pass")
    tools = [t for t in TOOL_ORDER if t in by_tool] + sorted(set(by_tool) - set(TOOL_ORDER))
    lines = ["## BI corpus replay", "",
             "SQL that real BI tools send (`../shared/bi-corpus`, recorded in Cube's SQL API test suite), replayed",
             "over psycopg against the gateway (`tests/corpus/`). Catalog and session statements must answer as",
             "PostgreSQL 15 does over equivalent tables (same result columns and type OIDs; Redshift system views",
             "fail with PostgreSQL's SQLSTATE). Semantic statements run against test models named like Cube's",
             "sample tables (`tests/bi_models/`) and must give the answer plain SQL computes on the same DuckDB data.",
             "", "| tool | catalog | session | semantic | all |", "|---|---:|---:|---:|---:|"]
    totals: dict[str, list[bool]] = defaultdict(list)
    for tool in tools:
        cells = []
        every: list[bool] = []
        for kind in KINDS:
            outcomes = by_tool[tool].get(kind, [])
            totals[kind] += outcomes
            every += outcomes
            cells.append(_rate(sum(outcomes), len(outcomes)))
        lines.append(f"| {tool} | " + " | ".join(cells) + f" | {_rate(sum(every), len(every))} |")
    all_outcomes = [o for k in KINDS for o in totals[k]]
    lines.append("| **total** | " + " | ".join(_rate(sum(totals[k]), len(totals[k])) for k in KINDS)
                 + f" | **{_rate(sum(all_outcomes), len(all_outcomes))}** |")
    failing = sorted((r for r in records.values() if r["outcome"] != "pass"), key=lambda r: r["file"])
    if failing:
        lines += ["", "### Statements that do not pass", "", "| file | kind | outcome | detail |", "|---|---|---|---|"]
        lines += [f"| `{r['file']}` | {r['kind']} | {r['outcome']} | {_cell(r.get('detail', ''))[:300]} |"
                  for r in failing]
    return lines


def clients_section(records: dict[str, dict[str, Any]]) -> list[str]:
    by_client: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in records.values():
        by_client[r["client"]][r["target"]].append(r)
    clients = [c for c in CLIENT_ORDER if c in by_client] + sorted(set(by_client) - set(CLIENT_ORDER))
    lines = ["## Real client matrix", "",
             "Real drivers against a gateway serving the demo models (`tests/clients/`). Every check also runs",
             "against a real PostgreSQL 15 holding equivalent tables (the reference column), which proves the check",
             "asks what the driver really asks and asserts what PostgreSQL really answers.", "",
             "| client | gateway | PostgreSQL 15 (reference) |", "|---|---:|---:|"]
    for c in clients:
        gw = by_client[c].get("gateway", [])
        pg = by_client[c].get("postgres", [])
        lines.append(f"| {c} | {_rate(sum(r['outcome'] == 'passed' for r in gw), len(gw))} | "
                     f"{_rate(sum(r['outcome'] == 'passed' for r in pg), len(pg))} |")
    lines += ["", "### Checks", "", "| client | check | gateway | PostgreSQL 15 |", "|---|---|---|---|"]
    for c in clients:
        checks = sorted({r["check"] for t in by_client[c].values() for r in t})
        for check in checks:
            cells = []
            for target in ("gateway", "postgres"):
                rec = next((r for r in by_client[c].get(target, []) if r["check"] == check), None)
                cells.append("n/a" if rec is None else ("pass" if rec["outcome"] == "passed" else rec["outcome"]))
            lines.append(f"| {c} | `{_cell(check)}` | {cells[0]} | {cells[1]} |")
    failing = sorted((r for r in records.values() if r["outcome"] != "passed"),
                     key=lambda r: (r["client"], r["check"], r["target"]))
    if failing:
        lines += ["", "### Failing checks", "", "| client | check | target | error |", "|---|---|---|---|"]
        lines += [f"| {r['client']} | `{_cell(r['check'])}` | {r['target']} | {_cell(r.get('error', ''))[:300]} |"
                  for r in failing]
    return lines


def render(data: dict[str, Any]) -> str:
    lines = ["# Compatibility", "",
             f"Generated by `tools/gen_compatibility.py` from the last test run "
             f"({datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}). Regenerate: `make test` then "
             "`.venv/bin/python tools/gen_compatibility.py`.", ""]
    if data.get("corpus"):
        lines += [*corpus_section(data["corpus"]), ""]
    if data.get("clients"):
        lines += [*clients_section(data["clients"]), ""]
    if not data.get("corpus") and not data.get("clients"):
        lines += ["No results recorded yet: run `make test`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--results", type=Path, default=ROOT / "build" / "compat-results.json")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "compatibility.md")
    args = ap.parse_args(argv)
    data = json.loads(args.results.read_text()) if args.results.exists() else {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(data))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
