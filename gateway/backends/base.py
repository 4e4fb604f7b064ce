"""The seam between the gateway and a warehouse.

A backend runs SQL already rendered in its dialect and streams Arrow record batches; it never
sees PostgreSQL SQL. One BackendSession per client session keeps per-user identity (Databricks
passthrough tokens) and lets a CancelRequest reach the statement that is running.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str
    password: str | None  # the token in Databricks passthrough mode; never logged


class BackendSession(Protocol):
    def execute(self, sql: str, params: Sequence[object] = ()) -> AsyncIterator[pa.RecordBatch]:
        """Run one statement; batches arrive as the warehouse produces them."""
        ...

    async def cancel(self) -> None:
        """Stop the statement that is running (from another task), if any."""
        ...

    async def close(self) -> None: ...


class Backend(Protocol):
    dialect: str  # sqlglot dialect name the compiler renders for: "duckdb" | "databricks"

    async def open_session(self, credentials: Credentials) -> BackendSession:
        """A session for one client; raises PgError 28P01 when the warehouse refuses the credential."""
        ...

    async def table_schema(self, relation: str) -> pa.Schema:
        """Physical column types of a warehouse relation (cached; never runs a data query)."""
        ...

    async def ready(self) -> bool:
        """Whether the warehouse answers (readiness check)."""
        ...

    async def close(self) -> None: ...
