"""COPY on the wire: COPY … TO STDOUT streams a planned query's rows as CopyData, COPY temp_table FROM STDIN
reads the client's CopyData into a temporary table. Both are planned in planning.py (copy_plan.py: what is
copied, copy_options.py: how); the formats themselves are protocol/copyfmt.py and protocol/copyparse.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import pyarrow as pa

from gateway.protocol import messages as m
from gateway.protocol.codec import encode_frontend
from gateway.protocol.copyfmt import CopyWriter
from gateway.protocol.copyparse import CopyReader, input_error
from gateway.session.cursors import Cursors
from gateway.session.portals import Portal
from gateway.session.results import catalog_transaction, in_thread
from virtual_schema import errors as E
from virtual_schema.errors import PgError


class Copying(Cursors):
    """copy_out / copy_in, run by Execution.run_portal under the statement guard."""

    async def copy_out(self, portal: Portal) -> int:
        """COPY … TO STDOUT: CopyOutResponse, then one CopyData per row as the warehouse (or catalog) sends batches,
        with the same backpressure as DataRows, then CopyDone and `COPY n`. A failure midway is an ErrorResponse in
        place of CopyDone, as in PostgreSQL."""
        plan = portal.prepared.copy
        assert plan is not None
        if plan.query.param_types:
            raise PgError(E.PARAMETER_NOT_FOUND, "there is no parameter $1")
        rows = self.make_portal("", plan.query, (), (1,) if plan.format.kind == "binary" else ())
        rows.start = lambda: self.start_stream(rows)
        encoder = self.encoder_for(rows)
        writer = CopyWriter(plan.format, plan.names)
        reg_binary = self.reg_binary_columns(rows)
        sent = 0
        try:
            self.send_raw(writer.begin())
            async with contextlib.aclosing(rows.next_rows(None)) as batches:
                async for batch in batches:
                    if reg_binary:
                        batch = self.reg_names_to_oids(batch, reg_binary)
                    await self.send_batch(encoder, batch, writer.rows)
                    sent += batch.num_rows
        finally:
            await rows.close()
        self.send_raw(writer.end())
        self.send(m.CommandComplete(f"COPY {sent}"))
        return sent

    async def copy_in(self, portal: Portal) -> int:
        """COPY temp_table FROM STDIN: CopyInResponse, then the client's CopyData parsed into rows and appended batch
        by batch until CopyDone (`COPY n`) or CopyFail (57014). The whole load is one catalog transaction (the
        block's, if any), so a bad row midway leaves nothing behind. Flush and Sync are ignored meanwhile, any
        other message ends the COPY with 08P01, as in PostgreSQL."""
        plan = portal.prepared.copy_in
        assert plan is not None
        o = plan.options
        cat = self.catalog_session
        declared = dict(cat.temp_columns[plan.table])
        reader = CopyReader(o.format, plan.columns, plan.table, delimiter=o.delimiter.encode(), null=o.null.encode(),
                            header=o.header, quote=o.quote.encode(), escape=o.escape.encode(),
                            type_oids=[declared[c].oid for c in plan.columns])
        storage = await in_thread(cat.storage_types, plan.table)
        fmt = 1 if o.format == "binary" else 0
        self.send(m.CopyInResponse(fmt, (fmt,) * len(plan.columns)))
        await self.flush()
        rows = 0
        with catalog_transaction(cat):
            while True:
                msg = await self.next_message()
                if isinstance(msg, m.CopyData):
                    batches = await in_thread(reader.take) if reader.feed(msg.data) else []
                elif isinstance(msg, m.CopyDone):
                    batches = await in_thread(reader.finish)
                elif isinstance(msg, m.CopyFail):
                    raise PgError(E.QUERY_CANCELED, f"COPY from stdin failed: {msg.message}")
                elif isinstance(msg, (m.Flush, m.Sync)):
                    continue
                else:
                    raise PgError(E.PROTOCOL_VIOLATION,
                                  f"unexpected message type 0x{_message_type(msg):02X} during COPY from stdin")
                for batch, lines in batches:
                    try:
                        await in_thread(cat.append_rows, plan.table, list(plan.columns), batch)
                    except PgError as err:
                        raise await self.copy_input_error(err, plan.table, [storage[c] for c in plan.columns],
                                                          plan.columns, batch, lines) from None
                    rows += batch.num_rows
                if isinstance(msg, m.CopyDone):
                    break
        self.send(m.CommandComplete(f"COPY {rows}"))
        return rows

    async def copy_input_error(self, err: PgError, table: str, storage: Sequence[str], columns: Sequence[str],
                               batch: pa.RecordBatch, lines: Sequence[int]) -> PgError:
        """A value of a COPY FROM batch its column's type refused, worded as PostgreSQL's input function words it,
        with the line and column in CONTEXT; `err` itself when it is not about one value."""
        if err.sqlstate not in (E.INVALID_TEXT_REPRESENTATION, E.NUMERIC_VALUE_OUT_OF_RANGE, "22007", "22008"):
            return err
        found = await in_thread(self.catalog_session.first_bad_value, batch, storage)
        if found is None:
            return err
        row, k = found
        value = batch.column(k)[row].as_py()
        pg_type = dict(self.catalog_session.temp_columns[table])[columns[k]]
        return input_error(pg_type, value, f'COPY {table}, line {lines[row]}, column {columns[k]}: "{value}"')


def _message_type(msg: m.FrontendMessage) -> int:
    """The type byte of a client message (for PostgreSQL's "unexpected message type" errors)."""
    return encode_frontend(msg)[0] if not isinstance(msg, (m.StartupMessage, m.SSLRequest, m.GSSENCRequest,
                                                            m.CancelRequest)) else 0
