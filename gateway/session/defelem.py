"""Option lists of utility statements (EXPLAIN, COPY) as pglast DefElems, read the way PostgreSQL's define.c reads
them, so a wrong option value gets PostgreSQL's words wherever it is written."""

from __future__ import annotations

from typing import Any

from virtual_schema import errors as E
from virtual_schema.errors import PgError


def def_string(defel: dict[str, Any]) -> str:
    """defGetString: the argument as text, whatever node the grammar made of it."""
    arg = defel.get("arg")
    if arg is None:
        raise PgError(E.SYNTAX_ERROR, f"{defel['defname']} requires a parameter")
    (tag, value), = arg.items()
    if tag == "String":
        return str(value.get("sval", ""))
    if tag == "Integer":
        return str(value.get("ival", 0))
    if tag == "Float":
        return str(value.get("fval", ""))
    if tag == "Boolean":
        return "true" if value.get("boolval") else "false"
    if tag == "A_Star":
        return "*"
    if tag == "List":
        return ".".join(def_string({"defname": defel["defname"], "arg": item}) for item in value.get("items", []))
    raise PgError(E.SYNTAX_ERROR, f"{defel['defname']} requires a parameter")


def boolean_or_text(defel: dict[str, Any]) -> bool | str:
    """defGetBoolean's reading: no argument is true; 1/0, true/false and on/off (any case) are Booleans; anything
    else comes back as lower-case text for a caller that accepts more (COPY's HEADER MATCH)."""
    arg = defel.get("arg")
    if arg is None:
        return True
    if "Integer" in arg and arg["Integer"].get("ival", 0) in (0, 1):
        return bool(arg["Integer"].get("ival", 0))
    text = def_string(defel).lower()
    if text in ("true", "on"):
        return True
    if text in ("false", "off"):
        return False
    return text


def def_boolean(defel: dict[str, Any]) -> bool:
    """defGetBoolean (no position in the error, as in PostgreSQL)."""
    value = boolean_or_text(defel)
    if isinstance(value, bool):
        return value
    raise PgError(E.SYNTAX_ERROR, f"{defel['defname']} requires a Boolean value")
