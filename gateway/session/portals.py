"""Prepared statements, portals and SQL cursors.

A portal owns a started (or not yet started) stream of Arrow batches and remembers a partly sent
batch, so Execute with a row limit and FETCH n resume exactly where the previous call stopped and
pull from the warehouse only as the client asks for rows.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pyarrow as pa

from gateway.router import Statement
from gateway.session.constant import ConstantQuery
from gateway.session.copy_plan import CopyInPlan, CopyPlan
from gateway.session.explain import ExplainPlan
from gateway.session.temp_load import LoadPlan
from virtual_schema.pgtypes import PgColumnType
from virtual_schema.schema import ResultColumn

BatchStream = AsyncIterator[pa.RecordBatch]


@dataclass(slots=True)
class Prepared:
    """A parsed and planned statement (Parse, or the implicit one of a simple Query)."""

    name: str
    statement: Statement
    param_types: tuple[PgColumnType, ...]
    columns: tuple[ResultColumn, ...] | None  # None: the statement returns no rows (NoData)
    route: str  # "semantic" | "catalog" | "session" | "constant" | "explain" | "load" | "copy"
    compiled_sql: str | None = None  # semantic: warehouse SQL
    empty: bool = False  # known to return no rows without running
    param_order: tuple[int, ...] = ()  # `?`-marker dialects: client parameter index per marker
    constant: ConstantQuery | None = None  # route "constant": evaluated in the gateway
    explain: ExplainPlan | None = None  # route "explain": the plan shown, and what ANALYZE runs
    # semantic statements that read temp tables: the SQL compiled, and the catalog data version its rows are from
    temp_reads: tuple[str, int] | None = None
    load: LoadPlan | None = None  # route "load": the temp table a semantic query's rows are written into
    copy: CopyPlan | None = None  # route "copy": COPY … TO STDOUT
    copy_in: CopyInPlan | None = None  # route "copy": COPY … FROM STDIN (into a temp table)


@dataclass(slots=True)
class Portal:
    name: str
    prepared: Prepared
    params: tuple[object, ...]
    formats: tuple[int, ...]  # one per result column
    start: Callable[[], Awaitable[BatchStream]] | None = None
    stream: BatchStream | None = None
    leftover: pa.RecordBatch | None = None
    rows: int = 0
    done: bool = False
    hold: bool = False  # WITH HOLD cursor: survives COMMIT
    is_cursor: bool = False
    tag: str = "SELECT"
    extra: dict[str, object] = field(default_factory=dict)

    async def next_rows(self, limit: int | None) -> AsyncGenerator[pa.RecordBatch, None]:
        """Yield batches holding at most `limit` rows in total (None = all)."""
        if self.done:
            return
        if self.stream is None:
            if self.start is None:
                self.done = True
                return
            self.stream = await self.start()
        remaining = limit
        while remaining is None or remaining > 0:
            if self.leftover is not None:
                batch, self.leftover = self.leftover, None
            else:
                try:
                    batch = await anext(self.stream)
                except StopAsyncIteration:
                    self.done = True
                    return
            n = batch.num_rows
            if n == 0:
                continue
            if remaining is not None and n > remaining:
                self.leftover = batch.slice(remaining)
                batch = batch.slice(0, remaining)
                n = remaining
            self.rows += n
            if remaining is not None:
                remaining -= n
            yield batch
        # Stopped at the limit: find out whether anything is left so the caller can tell
        # PortalSuspended from CommandComplete the way PostgreSQL does (it suspends either way).

    def close_finished(self) -> bool:
        """Close now if the stream never started or ran to its end (no generator left to finalise)."""
        if self.stream is not None and not self.done:
            return False
        self.stream = None
        self.leftover = None
        self.done = True
        return True

    async def close(self) -> None:
        stream, self.stream = self.stream, None
        self.leftover = None
        self.done = True
        if stream is not None:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
