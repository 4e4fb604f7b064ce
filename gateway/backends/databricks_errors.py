"""Databricks / Spark failures → PostgreSQL SQLSTATEs, and which failures are worth retrying.

Spark 3.4+ and Databricks SQL tag every error with an error class (`[TABLE_OR_VIEW_NOT_FOUND] …`)
and usually an ANSI SQLSTATE (`SQLSTATE: 42P01`). The class is the most specific signal, so it is
looked up first; the warehouse's SQLSTATE is the fallback, then its SQLSTATE class. The client
gets a short PostgreSQL-style message; the warehouse's own text (stack traces cut) goes to DETAIL.
"""

from __future__ import annotations

import errno
import re
from typing import Final

from virtual_schema.errors import (
    CONNECTION_FAILURE,
    DATA_EXCEPTION,
    DATATYPE_MISMATCH,
    DIVISION_BY_ZERO,
    FEATURE_NOT_SUPPORTED,
    GROUPING_ERROR,
    INSUFFICIENT_PRIVILEGE,
    INTERNAL_ERROR,
    INVALID_PASSWORD,
    INVALID_TEXT_REPRESENTATION,
    QUERY_CANCELED,
    SYNTAX_ERROR,
    UNDEFINED_COLUMN,
    UNDEFINED_FUNCTION,
    UNDEFINED_OBJECT,
    UNDEFINED_TABLE,
    PgError,
)

_ERROR_CLASS = re.compile(r"\[([A-Z][A-Z0-9_]+)(?:\.[A-Z0-9_]+)*\]")
_SQLSTATE = re.compile(r"SQLSTATE:?\s*([0-9A-Z]{5})")
_HIVE_PREFIX = re.compile(r"^(?:org\.apache\.hive\.service\.cli\.HiveSQLException:\s*)?(?:Error running query:\s*)?")
_MAX_DETAIL = 2000

# Spark / Databricks error class → (PostgreSQL SQLSTATE, message).
ERROR_CLASSES: Final[dict[str, tuple[str, str]]] = {
    "TABLE_OR_VIEW_NOT_FOUND": (UNDEFINED_TABLE, "relation does not exist in the warehouse"),
    "SCHEMA_NOT_FOUND": ("3F000", "schema does not exist in the warehouse"),
    "CATALOG_NOT_FOUND": ("3D000", "catalog does not exist in the warehouse"),
    "UNRESOLVED_COLUMN": (UNDEFINED_COLUMN, "column does not exist in the warehouse"),
    "UNRESOLVED_FIELD": (UNDEFINED_COLUMN, "field does not exist in the warehouse"),
    "UNRESOLVED_ROUTINE": (UNDEFINED_FUNCTION, "function does not exist in the warehouse"),
    "ROUTINE_NOT_FOUND": (UNDEFINED_FUNCTION, "function does not exist in the warehouse"),
    "AMBIGUOUS_REFERENCE": ("42702", "column reference is ambiguous"),
    "AMBIGUOUS_COLUMN_OR_FIELD": ("42702", "column reference is ambiguous"),
    "PARSE_SYNTAX_ERROR": (SYNTAX_ERROR, "syntax error in warehouse SQL"),
    "PARSE_EMPTY_STATEMENT": (SYNTAX_ERROR, "empty statement"),
    "DIVIDE_BY_ZERO": (DIVISION_BY_ZERO, "division by zero"),
    "INTERVAL_DIVIDED_BY_ZERO": (DIVISION_BY_ZERO, "division by zero"),
    "CAST_INVALID_INPUT": (INVALID_TEXT_REPRESENTATION, "invalid input value for cast"),
    "CAST_OVERFLOW": ("22003", "value out of range"),
    "ARITHMETIC_OVERFLOW": ("22003", "value out of range"),
    "NUMERIC_VALUE_OUT_OF_RANGE": ("22003", "numeric value out of range"),
    "DATATYPE_MISMATCH": (DATATYPE_MISMATCH, "data type mismatch in warehouse SQL"),
    "MISSING_AGGREGATION": (GROUPING_ERROR, "column must appear in the GROUP BY clause or be used in an aggregate"),
    "MISSING_GROUP_BY": (GROUPING_ERROR, "column must appear in the GROUP BY clause or be used in an aggregate"),
    "PERMISSION_DENIED": (INSUFFICIENT_PRIVILEGE, "permission denied"),
    "INSUFFICIENT_PERMISSIONS": (INSUFFICIENT_PRIVILEGE, "permission denied"),
    "UNAUTHORIZED_ACCESS": (INSUFFICIENT_PRIVILEGE, "permission denied"),
    "INVALID_TOKEN": (INVALID_PASSWORD, "the warehouse rejected the access token"),
    "UNSUPPORTED_FEATURE": (FEATURE_NOT_SUPPORTED, "not supported by the warehouse"),
    "OPERATION_CANCELED": (QUERY_CANCELED, "canceling statement due to user request"),
    "TASK_KILLED": (QUERY_CANCELED, "canceling statement due to user request"),
}

# Warehouse SQLSTATEs whose PostgreSQL counterpart has another code (the rest are shared ANSI codes).
SQLSTATES: Final[dict[str, str]] = {
    "22018": INVALID_TEXT_REPRESENTATION,  # ANSI invalid character value for cast
    "22546": INVALID_TEXT_REPRESENTATION,
    "42000": SYNTAX_ERROR,
    "42K01": "42704",
    "42883": UNDEFINED_FUNCTION,
    "42P01": UNDEFINED_TABLE,
    "42703": UNDEFINED_COLUMN,
    "42704": UNDEFINED_OBJECT,
    "42501": INSUFFICIENT_PRIVILEGE,
    "HY008": QUERY_CANCELED,
}

_PG_CLASS_FALLBACK: Final[dict[str, str]] = {
    "22": DATA_EXCEPTION,
    "42": SYNTAX_ERROR[:2] + "000",
    "0A": FEATURE_NOT_SUPPORTED,
    "08": CONNECTION_FAILURE,
    "53": "53000",
    "54": "54000",
    "57": "57000",
    "28": "28000",
}

_PRIVILEGE_TEXT = re.compile(
    r"PERMISSION_DENIED|insufficient privileges|permission denied|does not have \w+(?: \w+)? (?:on|privilege)", re.I)
_AUTH_HTTP_CODES = frozenset({401, 403})
_TRANSIENT_HTTP_CODES = frozenset({429, 502, 503, 504})
_TRANSIENT_TEXT = re.compile(
    r"TEMPORARILY_UNAVAILABLE|temporarily unavailable|Connection reset|connection aborted|RemoteDisconnected|"
    r"Max retries exceeded|timed out|warehouse is (?:starting|stopped|not running)|is starting up|"
    r"Service Unavailable|Too Many Requests",
    re.IGNORECASE,
)
_STARTING_TEXT = re.compile(r"warehouse is (?:starting|stopped|not running)|is starting up|cluster is starting",
                            re.IGNORECASE)
_TOKEN_TEXT = re.compile(r"INVALID_TOKEN|invalid access token|invalid token|token (?:is )?expired|"
                         r"credential was not sent|Unauthorized", re.IGNORECASE)


def _context(exc: BaseException) -> dict[str, object]:
    ctx = getattr(exc, "context", None)
    return ctx if isinstance(ctx, dict) else {}


def http_code(exc: BaseException) -> int | None:
    """The HTTP status the connector saw for a failed request, if any."""
    code = _context(exc).get("http-code")
    return code if isinstance(code, int) else None


def full_text(exc: BaseException) -> str:
    """Everything the connector knows about a failure, as one string for classification."""
    parts = [str(exc)]
    ctx = _context(exc)
    for key in ("error-message", "original-exception", "diagnostic-info"):
        value = ctx.get(key)
        if value:
            parts.append(str(value))
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc:
        parts.append(str(cause))
    return "\n".join(parts)


def clean_detail(text: str) -> str:
    """The warehouse's message without Java stack frames or the Hive wrapper prefix."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(("at ", "... "))]
    out = _HIVE_PREFIX.sub("", "\n".join(lines)).strip()
    out = out.replace("org.apache.spark.sql.AnalysisException: ", "")
    return out[:_MAX_DETAIL]


def is_auth_failure(exc: BaseException) -> bool:
    """The warehouse refused the credential (HTTP 401/403 on the session, or an invalid-token message)."""
    if http_code(exc) in _AUTH_HTTP_CODES:
        return True
    text = full_text(exc)
    tag = _ERROR_CLASS.search(text)
    if tag is not None:
        return tag.group(1) == "INVALID_TOKEN"
    return bool(_TOKEN_TEXT.search(text))


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: connection resets, 429/503, a warehouse that is still starting."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    if isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET, errno.ECONNREFUSED, errno.ETIMEDOUT,
                                                  errno.EPIPE, errno.ECONNABORTED):
        return True
    code = http_code(exc)
    if code in _TRANSIENT_HTTP_CODES:
        return True
    if type(exc).__module__.startswith("urllib3"):  # network-level: nothing reached the engine, or the answer was lost
        return True
    if code in _AUTH_HTTP_CODES or _ERROR_CLASS.search(str(exc)):
        return False  # a statement error the warehouse judged; running it again gives the same answer
    return type(exc).__name__ in ("RequestError", "MaxRetryDurationError", "OperationalError") and bool(
        _TRANSIENT_TEXT.search(full_text(exc)))


def is_warehouse_starting(exc: BaseException) -> bool:
    """A stopped warehouse answers 503 (or says so) while it starts; the client deserves a notice."""
    return http_code(exc) == 503 or bool(_STARTING_TEXT.search(full_text(exc))) or "503 error" in full_text(exc)


def map_databricks_error(exc: BaseException, *, cancelled: bool = False) -> PgError:
    """Translate a connector exception into the PgError the client receives."""
    if isinstance(exc, PgError):
        return exc
    text = full_text(exc)
    detail = clean_detail(str(exc)) or clean_detail(text) or type(exc).__name__
    if cancelled:
        return PgError(QUERY_CANCELED, "canceling statement due to user request", detail=detail)
    if is_auth_failure(exc):
        return PgError(INVALID_PASSWORD, "the Databricks warehouse rejected the access token", detail=detail)
    m = _ERROR_CLASS.search(text)
    if m is not None and m.group(1) in ERROR_CLASSES:
        code, message = ERROR_CLASSES[m.group(1)]
        return PgError(code, message, detail=detail)
    if _PRIVILEGE_TEXT.search(text):
        return PgError(INSUFFICIENT_PRIVILEGE, "permission denied", detail=detail)
    if re.search(r"\bcancel(?:l?ed|led)\b", text, re.I) and m is None:
        return PgError(QUERY_CANCELED, "canceling statement due to user request", detail=detail)
    s = _SQLSTATE.search(text)
    if s is not None:
        state = s.group(1)
        pg = SQLSTATES.get(state)
        if pg is None and state[:2] in _PG_CLASS_FALLBACK:
            pg = state if state[2:].isdigit() else _PG_CLASS_FALLBACK[state[:2]]
        if pg is not None:
            label = m.group(1).lower().replace("_", " ") if m is not None else "warehouse error"
            return PgError(pg, label, detail=detail)
    if m is not None:
        return PgError(INTERNAL_ERROR, m.group(1).lower().replace("_", " "), detail=detail)
    if is_transient(exc):
        return PgError(CONNECTION_FAILURE, "could not reach the Databricks warehouse", detail=detail)
    return PgError(INTERNAL_ERROR, "warehouse error", detail=detail)
