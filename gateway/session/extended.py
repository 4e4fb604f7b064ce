"""The extended query protocol: Parse, Bind, Describe (answered from the plan, never by running),
Execute with row limits, Close and Sync with its implicit transaction.
"""

from __future__ import annotations

from gateway.protocol import messages as m
from gateway.protocol.params import decode_param
from gateway.protocol.rowenc import describe_fields
from gateway.router import Kind, Statement, split
from gateway.session.execution import Execution
from gateway.session.planning import allowed_in_failed
from gateway.session.portals import Portal
from virtual_schema import errors as E
from virtual_schema.errors import PgError


class ExtendedProtocol(Execution):
    """One handler per extended-protocol message."""

    def on_parse(self, msg: m.Parse) -> None:
        self.query_text = msg.sql
        stmts = split(msg.sql)
        if len(stmts) > 1:
            raise PgError(E.SYNTAX_ERROR, "cannot insert multiple commands into a prepared statement")
        stmt = stmts[0] if stmts else Statement(Kind.EMPTY, "", "EmptyStmt", {})
        if msg.name and msg.name in self.prepared:
            raise PgError(E.DUPLICATE_PREPARED_STATEMENT, f'prepared statement "{msg.name}" already exists')
        self.begin_implicit()
        prepared = self.prepare(msg.name, stmt, msg.param_types)
        self.prepared[msg.name] = prepared
        self.send(m.ParseComplete())

    def begin_implicit(self) -> None:
        if self.tx.status == "I":
            self.tx.implicit = True

    def on_bind(self, msg: m.Bind) -> None:
        prepared = self.prepared.get(msg.statement)
        if prepared is None:
            raise PgError(E.INVALID_SQL_STATEMENT_NAME, f'prepared statement "{msg.statement}" does not exist')
        if self.tx.status == "E" and not allowed_in_failed(prepared.statement):
            raise PgError(E.IN_FAILED_SQL_TRANSACTION,
                          "current transaction is aborted, commands ignored until end of transaction block")
        nparams = len(msg.params)
        if nparams != len(prepared.param_types):
            raise PgError(E.PROTOCOL_VIOLATION,
                          f"bind message supplies {nparams} parameters, but prepared statement "
                          f'"{msg.statement}" requires {len(prepared.param_types)}')
        fmts = msg.param_formats
        if len(fmts) not in (0, 1, nparams):
            raise PgError(E.PROTOCOL_VIOLATION,
                          f"bind message has {len(fmts)} parameter formats but {nparams} parameters")
        def fmt(i: int) -> int:
            return fmts[i] if len(fmts) == nparams else (fmts[0] if fmts else 0)

        values = tuple(decode_param(v, prepared.param_types[i].oid, fmt(i)) for i, v in enumerate(msg.params))
        if msg.portal and msg.portal in self.portals:
            raise PgError(E.DUPLICATE_CURSOR, f'portal "{msg.portal}" already exists')
        old = self.portals.pop(msg.portal, None) if not msg.portal else None
        if old is not None:
            self.app.spawn_close(old)
        self.begin_implicit()
        self.portals[msg.portal] = self.make_portal(msg.portal, prepared, values, msg.result_formats)
        self.send(m.BindComplete())

    def on_describe(self, msg: m.Describe) -> None:
        if msg.kind == "S":
            prepared = self.prepared.get(msg.name)
            if prepared is None:
                raise PgError(E.INVALID_SQL_STATEMENT_NAME, f'prepared statement "{msg.name}" does not exist')
            self.send(m.ParameterDescription(tuple(t.oid for t in prepared.param_types)))
            if prepared.columns is None:
                self.send(m.NoData())
            else:
                self.send(describe_fields(prepared.columns, (0,) * len(prepared.columns)))
        else:
            portal = self.find_portal(msg.name)
            if portal.prepared.columns is None:
                self.send(m.NoData())
            else:
                self.send(describe_fields(portal.prepared.columns, portal.formats))

    def find_portal(self, name: str) -> Portal:
        """Protocol portals and SQL cursors share one namespace, as in PostgreSQL."""
        portal = self.portals.get(name) or self.cursors.get(name)
        if portal is None:
            raise PgError(E.INVALID_CURSOR_NAME, f'portal "{name}" does not exist')
        return portal

    async def on_execute(self, msg: m.Execute) -> None:
        portal = self.find_portal(msg.portal)
        if self.tx.status == "E" and not allowed_in_failed(portal.prepared.statement):
            raise PgError(E.IN_FAILED_SQL_TRANSACTION,
                          "current transaction is aborted, commands ignored until end of transaction block")
        if portal.prepared.statement.kind is Kind.EMPTY:
            self.send(m.EmptyQueryResponse())
            return
        if portal.done and portal.stream is not None:
            self.send(m.CommandComplete(self.command_tag(portal)))
            return
        await self.run_portal(portal, msg.max_rows or None, send_description=False)

    async def on_close(self, msg: m.Close) -> None:
        if msg.kind == "S":
            self.prepared.pop(msg.name, None)
        else:
            portal = self.portals.pop(msg.name, None) or self.cursors.pop(msg.name, None)
            if portal is not None:
                await portal.close()
        self.send(m.CloseComplete())

    async def on_sync(self) -> None:
        failed, self.skip_until_sync = self.skip_until_sync, False
        if self.tx.implicit and self.tx.status != "T":
            # the implicit transaction of an extended-protocol exchange ends at Sync: its temp-table writes commit
            # with it, or, when a message since the last Sync failed, are rolled back with it
            self.tx.implicit = False
            self.end_temp_writes(commit=not failed and self.tx.status == "I")
            if self.tx.status == "E":
                self.tx.status = "I"
                self.settings.rollback()
            self.end_transaction()
        elif self.tx.status == "I":
            self.end_transaction()
        self.tx.implicit = False
        self.send(m.ReadyForQuery(self.tx.status))
        await self.flush()
