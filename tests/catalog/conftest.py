"""Fixtures of the modules that compare the catalog engine with PostgreSQL 15 in UTC."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.catalog import pgserver
from tests.catalog.fixtures import catalog_session
from virtual_schema.catalog.engine import CatalogSession


@pytest.fixture(scope="module")
def pg_utc() -> Iterator[psycopg.Connection[Any]]:
    """A throwaway PostgreSQL 15 (one per module), TimeZone UTC."""
    with pgserver.connection() as conn:
        conn.execute("SET TimeZone = 'UTC'")
        yield conn


@pytest.fixture(scope="module")
def catalog_utc() -> Iterator[CatalogSession]:
    """A catalog session over the fixture schema (one per module), TimeZone UTC."""
    with catalog_session({"timezone": "UTC"}) as s:
        yield s
