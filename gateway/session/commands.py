"""Statements the gateway answers itself: SET / RESET / SHOW and transaction control.

They change only session state, so they never reach the warehouse or the catalog engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from gateway.session.settings import REPORTED, SessionSettings
from virtual_schema import pgtypes
from virtual_schema.errors import ACTIVE_SQL_TRANSACTION, NO_ACTIVE_SQL_TRANSACTION, PgError
from virtual_schema.pgtypes import PgColumnType
from virtual_schema.schema import ResultColumn

TEXT = PgColumnType(pgtypes.TEXT)


def const_value(node: dict[str, Any]) -> str:
    """The text of an A_Const / TypeCast argument as PostgreSQL's SET sees it."""
    if "A_Const" in node:
        c = node["A_Const"]
        if c.get("isnull"):
            return ""
        for key in ("sval", "ival", "fval", "boolval", "bsval"):
            if key in c:
                inner = c[key]
                v = inner.get(key, 0 if key == "ival" else False if key == "boolval" else "")
                if key == "boolval":
                    return "on" if v else "off"
                return str(v)
        return "0"
    if "TypeCast" in node:  # SET TIME ZONE INTERVAL '+02:00' HOUR TO MINUTE
        return const_value(node["TypeCast"]["arg"])
    raise PgError("42601", "syntax error in SET value")


@dataclass(slots=True)
class Notices:
    """Warnings PostgreSQL would send as NoticeResponse (e.g. COMMIT outside a transaction)."""

    items: list[PgError] = field(default_factory=list)


def apply_set(settings: SessionSettings, node: dict[str, Any], in_transaction: bool,
              notices: Notices) -> list[str]:
    """Run a VariableSetStmt; returns the names of reported settings whose value changed."""
    kind = node.get("kind")
    before = {name: settings.get(name) for name in REPORTED}
    if kind == "VAR_SET_VALUE":
        name = node["name"]
        value = ", ".join(_quote_list_item(name, const_value(a)) for a in node.get("args", []))
        local = bool(node.get("is_local"))
        if local and not in_transaction:
            notices.items.append(PgError("25P01", "SET LOCAL can only be used in transaction blocks",
                                         severity="WARNING"))
            settings.get(name)  # still validates the name
        else:
            settings.set(name, value, local=local)
    elif kind in ("VAR_SET_DEFAULT", "VAR_RESET"):
        settings.reset(node["name"])
    elif kind == "VAR_RESET_ALL":
        settings.reset_all()
    elif kind == "VAR_SET_MULTI":
        for arg in node.get("args", []):
            d = arg["DefElem"]
            value = const_value(d["arg"])
            if d["defname"] == "transaction_read_only":
                value = "on" if value in ("1", "on", "true") else "off"
            if node["name"] == "TRANSACTION":
                settings.set(d["defname"], value, local=True)
            else:
                settings.set("default_" + d["defname"], value)
    elif kind == "VAR_SET_CURRENT":
        pass
    return [name for name in REPORTED if settings.get(name) != before[name]]


def _quote_list_item(name: str, value: str) -> str:
    if name.lower() == "search_path" and (not value.islower() or " " in value) and value != "$user":
        return '"' + value.replace('"', '""') + '"'
    return value


def show(settings: SessionSettings, name: str) -> tuple[tuple[ResultColumn, ...], pa.RecordBatch]:
    if name.lower() == "all":
        rows = list(settings.show_all())
        cols = (ResultColumn("name", TEXT), ResultColumn("setting", TEXT), ResultColumn("description", TEXT))
        batch = pa.record_batch([pa.array([r[i] for r in rows], pa.string()) for i in range(3)],
                                names=["name", "setting", "description"])
        return cols, batch
    value = settings.get(name)
    d = settings.definition(name)
    col = d.name if d is not None else name.lower()
    return (ResultColumn(col, TEXT),), pa.record_batch([pa.array([value], pa.string())], names=[col])


def show_columns(name: str) -> tuple[ResultColumn, ...]:
    if name.lower() == "all":
        return (ResultColumn("name", TEXT), ResultColumn("setting", TEXT), ResultColumn("description", TEXT))
    d = SessionSettings.definition(name)
    return (ResultColumn(d.name if d is not None else name.lower(), TEXT),)


@dataclass(slots=True)
class Transaction:
    """Transaction status as ReadyForQuery reports it: I idle, T in a block, E failed block."""

    status: str = "I"
    savepoints: list[str] = field(default_factory=list)
    implicit: bool = False  # an extended-protocol exchange without BEGIN, ended by Sync

    def command(self, node: dict[str, Any], settings: SessionSettings, notices: Notices) -> str:
        """Run a TransactionStmt; returns its CommandComplete tag."""
        kind = node["kind"]
        if kind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
            if self.status != "I":
                notices.items.append(PgError(ACTIVE_SQL_TRANSACTION, "there is already a transaction in progress",
                                             severity="WARNING"))
            else:
                settings.begin()
                self.status = "T"
            for opt in node.get("options", []):
                d = opt["DefElem"]
                value = const_value(d["arg"])
                if d["defname"] == "transaction_read_only":
                    value = "on" if value in ("1", "on", "true") else "off"
                settings.set(d["defname"], value, local=True)
            return "BEGIN" if kind == "TRANS_STMT_BEGIN" else "START TRANSACTION"
        if kind in ("TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_PREPARE",
                    "TRANS_STMT_COMMIT_PREPARED", "TRANS_STMT_ROLLBACK_PREPARED"):
            if kind in ("TRANS_STMT_PREPARE", "TRANS_STMT_COMMIT_PREPARED", "TRANS_STMT_ROLLBACK_PREPARED"):
                raise PgError("0A000", "prepared transactions are not supported by this gateway")
            failed = self.status == "E"
            if self.status == "I":
                notices.items.append(PgError(NO_ACTIVE_SQL_TRANSACTION, "there is no transaction in progress",
                                             severity="WARNING"))
            if kind == "TRANS_STMT_COMMIT" and not failed:
                settings.commit()
            else:
                settings.rollback()
            self.status = "I"
            self.savepoints.clear()
            if node.get("chain"):
                settings.begin()
                self.status = "T"
            return "ROLLBACK" if failed or kind == "TRANS_STMT_ROLLBACK" else "COMMIT"
        if kind == "TRANS_STMT_SAVEPOINT":
            self._require_block("SAVEPOINT")
            self.savepoints.append(node["savepoint_name"])
            return "SAVEPOINT"
        if kind == "TRANS_STMT_RELEASE":
            self._require_block("RELEASE SAVEPOINT")
            self._pop_to(node["savepoint_name"], inclusive=True)
            return "RELEASE"
        if kind == "TRANS_STMT_ROLLBACK_TO":
            self._require_block("ROLLBACK TO SAVEPOINT")
            self._pop_to(node["savepoint_name"], inclusive=False)
            self.status = "T"
            return "ROLLBACK"
        raise PgError("0A000", f"{kind} is not supported")

    def _require_block(self, what: str) -> None:
        if self.status == "I":
            raise PgError(NO_ACTIVE_SQL_TRANSACTION, f"{what} can only be used in transaction blocks")

    def _pop_to(self, name: str, *, inclusive: bool) -> None:
        if name not in self.savepoints:
            raise PgError("3B001", f'savepoint "{name}" does not exist')
        idx = len(self.savepoints) - 1 - self.savepoints[::-1].index(name)
        del self.savepoints[idx + (0 if inclusive else 1):]
