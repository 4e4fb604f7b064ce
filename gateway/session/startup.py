"""Startup parameters (`options=-c name=value`) and the live view of a session's settings that the
catalog engine reads.
"""

from __future__ import annotations

from typing import Any

from gateway.session.settings import SessionSettings
from virtual_schema import errors as E
from virtual_schema.errors import PgError


class LiveSettings(dict[str, str]):
    """A read-through view of a session's settings for the catalog engine."""

    def __init__(self, settings: SessionSettings) -> None:
        super().__init__()
        self._settings = settings

    def __getitem__(self, key: str) -> str:
        try:
            return self._settings.get(key)
        except PgError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self._settings.get(key)
        except PgError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Any:
        return iter(self._settings.snapshot())

    def __len__(self) -> int:
        return len(self._settings.snapshot())

    def items(self) -> Any:
        return self._settings.snapshot().items()

    def keys(self) -> Any:
        return self._settings.snapshot().keys()

    def values(self) -> Any:
        return self._settings.snapshot().values()


def parse_options(value: str) -> list[tuple[str, str]]:
    """The `options` startup parameter: `-c name=value` and `--name=value`, backslash escapes spaces."""
    tokens: list[str] = []
    cur: list[str] = []
    escape = False
    for ch in value:
        if escape:
            cur.append(ch)
            escape = False
        elif ch == "\\":
            escape = True
        elif ch.isspace():
            if cur:
                tokens.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        tokens.append("".join(cur))
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "-c" and i + 1 < len(tokens):
            tok = tokens[i + 1]
            i += 1
        elif tok.startswith("-c") or tok.startswith("--"):
            tok = tok[2:]
        else:
            raise PgError(E.SYNTAX_ERROR, f'invalid command-line argument for server process: {tok}')
        name, sep, val = tok.partition("=")
        if not sep:
            raise PgError(E.SYNTAX_ERROR, f'-c {name} requires a value')
        out.append((name.replace("-", "_"), val))
        i += 1
    return out


