"""Fixtures for the BI corpus replay: a gateway over tests/bi_models + the BI DuckDB dataset, and a real
PostgreSQL 15 with equivalent tables (the reference for what a PostgreSQL-shaped answer is).

Per-file outcomes go to build/compat-results.json (section "corpus") for tools/gen_compatibility.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clients import results
from tests.clients.mirror import mirror_schema
from tests.clients.pg import PgServer, start_postgres
from tests.clients.targets import served_schema
from tests.server import ROOT, GatewayProcess, start_gateway
from virtual_schema.schema import VirtualSchema

BI_MODELS = ROOT / "tests" / "bi_models"
_RECORDS = pytest.StashKey[dict[str, dict[str, Any]]]()


@pytest.fixture(scope="session")
def bi_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.bi_models.data import generate_bi_dataset

    path = tmp_path_factory.mktemp("bi") / "bi.duckdb"
    generate_bi_dataset(path)
    return path


@pytest.fixture(scope="session")
def bi_schema(bi_duckdb: Path) -> VirtualSchema:
    return served_schema(BI_MODELS, bi_duckdb)


@pytest.fixture(scope="session")
def bi_pg(bi_schema: VirtualSchema) -> Iterator[PgServer]:
    server = start_postgres()
    try:
        mirror_schema(server.dsn(), bi_schema)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def bi_gateway(bi_duckdb: Path) -> Iterator[GatewayProcess]:
    gw = start_gateway(["--models", str(BI_MODELS), "--duckdb", str(bi_duckdb), "--log-level", "warning"])
    yield gw
    gw.stop()


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Any:
    """record(entry, outcome, detail): one file's outcome for the compatibility report."""
    store = request.config.stash.setdefault(_RECORDS, {})

    def _record(entry: Any, outcome: str, detail: str = "") -> None:
        store[entry.file] = {"file": entry.file, "tool": entry.tool, "kind": entry.kind, "outcome": outcome,
                             "detail": detail[:500]}

    return _record


def pytest_sessionfinish(session: pytest.Session) -> None:
    results.merge("corpus", session.config.stash.get(_RECORDS, {}))
