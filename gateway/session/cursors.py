"""SQL cursors: DECLARE … CURSOR [WITH HOLD], FETCH / MOVE (also on protocol portals), CLOSE, and the
portals and cursors that end with their transaction.
"""

from __future__ import annotations

from gateway.protocol import messages as m
from gateway.protocol.rowenc import describe_fields
from gateway.router import Statement, split
from gateway.session.portals import Portal
from gateway.session.results import Results
from virtual_schema import errors as E
from virtual_schema.errors import PgError


class Cursors(Results):
    """DECLARE / FETCH / MOVE / CLOSE; cursors stream from the warehouse as the client fetches."""

    def declare(self, portal: Portal) -> None:
        stmt = portal.prepared.statement
        node = stmt.node
        name = node["portalname"]
        options = int(node.get("options", 0))
        hold = bool(options & 0x0020)  # CURSOR_OPT_HOLD
        binary = bool(options & 0x0001)  # CURSOR_OPT_BINARY
        if not hold and self.tx.status == "I":
            raise PgError(E.NO_ACTIVE_SQL_TRANSACTION, "DECLARE CURSOR can only be used in transaction blocks")
        if name in self.cursors:
            raise PgError(E.DUPLICATE_CURSOR, f'cursor "{name}" already exists')
        assert portal.prepared.compiled_sql is not None
        inner = split(portal.prepared.compiled_sql)[0]
        inner_prepared = self.prepare(name, inner, tuple(t.oid for t in portal.prepared.param_types))
        cursor = self.make_portal(name, inner_prepared, portal.params, (1,) if binary else ())
        cursor.hold = hold
        cursor.is_cursor = True
        self.cursors[name] = cursor

    async def fetch(self, stmt: Statement, send_description: bool) -> int:
        node = stmt.node
        name = node.get("portalname", "")
        cursor = self.cursors.get(name) or self.portals.get(name)
        if cursor is None:
            raise PgError(E.INVALID_CURSOR_NAME, f'cursor "{name}" does not exist')
        direction = node.get("direction", "FETCH_FORWARD")
        how_many = int(node.get("howMany", 1))
        is_move = bool(node.get("ismove"))
        if direction != "FETCH_FORWARD" and not (direction == "FETCH_RELATIVE" and how_many == 0):
            raise PgError("55000", "cursor can only scan forward",
                          hint="Declare it with SCROLL option to enable backward scan.")
        if direction == "FETCH_ABSOLUTE":
            raise PgError("55000", "cursor can only scan forward")
        limit = None if how_many >= 2**62 or (how_many == 0 and direction == "FETCH_FORWARD") else how_many
        if direction == "FETCH_RELATIVE":
            limit = 0
        if cursor.start is None:
            cursor.start = lambda: self.start_stream(cursor)
        cols = cursor.prepared.columns
        if send_description and not is_move and cols is not None:
            self.send(describe_fields(cols, cursor.formats))
        encoder = self.encoder_for(cursor) if (cols is not None and not is_move) else None
        count = 0
        if limit != 0:
            async for batch in cursor.next_rows(limit):
                count += batch.num_rows
                if encoder is not None:
                    self.send_raw(encoder.encode_view(batch))
                    await self.maybe_flush()
        self.send(m.CommandComplete(f"{'MOVE' if is_move else 'FETCH'} {count}"))
        return count

    def drop_cursors(self, *, all_: bool) -> None:
        for name, cur in list(self.cursors.items()):
            if all_ or not cur.hold:
                del self.cursors[name]
                self.app.spawn_close(cur)

    def end_transaction(self) -> None:
        """Portals and cursors without HOLD die with their transaction."""
        self.drop_cursors(all_=False)
        for name, portal in list(self.portals.items()):
            del self.portals[name]
            self.app.spawn_close(portal)
