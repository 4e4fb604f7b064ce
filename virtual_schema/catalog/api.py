"""What the catalog engine needs to know about the session asking."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SessionActivity:
    """One row of pg_stat_activity."""

    pid: int
    user: str
    database: str
    application_name: str
    client_addr: str | None
    backend_start: float  # unix time
    state: str  # active | idle | idle in transaction | idle in transaction (aborted)
    query: str
    query_start: float | None


@dataclass(slots=True)
class SessionInfo:
    """A live view of the asking session: the catalog reads settings at query time."""

    pid: int
    user: str
    database: str
    application_name: str = ""
    settings: Mapping[str, str] = field(default_factory=dict)  # current GUC values, lower-case names
    set_setting: Callable[[str, str], None] | None = None  # for set_config(name, value, is_local)
    activity: Callable[[], list[SessionActivity]] | None = None  # every live session (pg_stat_activity)
    server_version: str = "15.0"
