"""Fixtures for the real client matrix: `target` is PostgreSQL 15 (reference) or the gateway.

Outcomes of every test here are recorded per client / check / target into build/compat-results.json.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clients import results
from tests.clients.mirror import mirror_schema
from tests.clients.pg import PgServer, start_postgres
from tests.clients.targets import Target, served_schema
from tests.server import ROOT, GatewayProcess
from virtual_schema.schema import VirtualSchema

CLIENT_OF_MODULE = {
    "test_psql": "psql", "test_psycopg": "psycopg 3", "test_asyncpg": "asyncpg", "test_jdbc": "pgjdbc",
    "test_odbc": "psqlODBC", "test_node": "node-postgres", "test_sqlalchemy": "SQLAlchemy 2 (psycopg)",
}
_OUTCOMES = pytest.StashKey[dict[str, dict[str, Any]]]()


@pytest.fixture(scope="session")
def served(request: pytest.FixtureRequest) -> VirtualSchema:
    """What the gateway serves over the demo models (built by the gateway's own loader)."""
    if os.environ.get("CLIENT_MATRIX_SCHEMA") == "fixture":  # harness development without the compiler
        from tests.catalog.fixtures import fixture_schema

        return fixture_schema()
    demo_duckdb: Path = request.getfixturevalue("demo_duckdb")
    return served_schema(ROOT / "semantic-models", demo_duckdb)


@pytest.fixture(scope="session")
def pg15(served: VirtualSchema) -> Iterator[PgServer]:
    server = start_postgres()
    try:
        mirror_schema(server.dsn(), served)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", params=["postgres", "gateway"])
def target(request: pytest.FixtureRequest, served: VirtualSchema) -> Target:
    if request.param == "postgres":
        pg: PgServer = request.getfixturevalue("pg15")
        return Target("postgres", pg, served)
    gw: GatewayProcess = request.getfixturevalue("gateway")
    return Target("gateway", gw, served)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # a hung client must cost minutes, not the suite's 300 s default per test
    for item in items:
        if "tests/clients/" in str(item.fspath) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(120))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""  # type: ignore[attr-defined]
    client = CLIENT_OF_MODULE.get(module)
    callspec = getattr(item, "callspec", None)
    if client is None or callspec is None or "target" not in callspec.params:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        state = "passed" if report.passed else ("xfailed" if hasattr(report, "wasxfail") else report.outcome)
        if report.when == "setup" and report.skipped:
            state = "skipped"
        target = callspec.params["target"]
        check = getattr(item, "originalname", item.name)
        extra = [str(v) for k, v in callspec.params.items() if k != "target"]
        if extra:
            check += "[" + "-".join(extra) + "]"
        store = item.config.stash.setdefault(_OUTCOMES, {})
        rec: dict[str, Any] = {"client": client, "check": check, "target": target, "outcome": state}
        if not report.passed:
            rec["error"] = getattr(report, "wasxfail", "") or results.short_error(report.longrepr)
        store[f"{client}|{check}|{target}"] = rec


def pytest_sessionfinish(session: pytest.Session) -> None:
    results.merge("clients", session.config.stash.get(_OUTCOMES, {}))
