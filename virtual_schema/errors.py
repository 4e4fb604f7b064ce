"""The one error type every layer raises so that it reaches the client as an ErrorResponse.

PostgreSQL reports every failure with a SQLSTATE; keeping that code on the exception from the
place that knows it (parser, compiler, catalog, backend) means the session never has to guess.
"""

from __future__ import annotations


class PgError(Exception):
    """A failure with PostgreSQL's SQLSTATE and the fields of an ErrorResponse."""

    def __init__(
        self,
        sqlstate: str,
        message: str,
        *,
        detail: str | None = None,
        hint: str | None = None,
        position: int | None = None,
        severity: str = "ERROR",
        context: str | None = None,
    ) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.message = message
        self.detail = detail
        self.hint = hint
        self.position = position  # 1-based character offset into the statement, as PostgreSQL sends it
        self.severity = severity
        self.context = context  # where it happened (CONTEXT: COPY t, line 2, column a: "x")

    def __repr__(self) -> str:
        return f"PgError({self.sqlstate!r}, {self.message!r})"


# SQLSTATEs used across the project (PostgreSQL's errcodes.txt).
SUCCESSFUL_COMPLETION = "00000"
FEATURE_NOT_SUPPORTED = "0A000"
INVALID_PASSWORD = "28P01"
INVALID_AUTHORIZATION_SPECIFICATION = "28000"
PROTOCOL_VIOLATION = "08P01"
CONNECTION_FAILURE = "08006"
SYNTAX_ERROR = "42601"
UNDEFINED_COLUMN = "42703"
UNDEFINED_TABLE = "42P01"
UNDEFINED_FUNCTION = "42883"
UNDEFINED_OBJECT = "42704"
AMBIGUOUS_COLUMN = "42702"
DUPLICATE_OBJECT = "42710"
DUPLICATE_TABLE = "42P07"
DUPLICATE_CURSOR = "42P03"
DUPLICATE_PREPARED_STATEMENT = "42P05"
GROUPING_ERROR = "42803"
DATATYPE_MISMATCH = "42804"
INVALID_PARAMETER_VALUE = "22023"
INVALID_TEXT_REPRESENTATION = "22P02"
INVALID_BINARY_REPRESENTATION = "22P03"
DIVISION_BY_ZERO = "22012"
NUMERIC_VALUE_OUT_OF_RANGE = "22003"
STRING_DATA_RIGHT_TRUNCATION = "22001"
NOT_NULL_VIOLATION = "23502"
UNIQUE_VIOLATION = "23505"
CHECK_VIOLATION = "23514"
DATA_EXCEPTION = "22000"
READ_ONLY_SQL_TRANSACTION = "25006"
IN_FAILED_SQL_TRANSACTION = "25P02"
NO_ACTIVE_SQL_TRANSACTION = "25P01"
ACTIVE_SQL_TRANSACTION = "25001"
INVALID_CURSOR_NAME = "34000"
INVALID_SQL_STATEMENT_NAME = "26000"
INVALID_CURSOR_STATE = "24000"
QUERY_CANCELED = "57014"
DUPLICATE_COLUMN = "42701"
WRONG_OBJECT_TYPE = "42809"
INVALID_COLUMN_REFERENCE = "42P10"
PARAMETER_NOT_FOUND = "42P02"  # there is no parameter $n (UNDEFINED_PARAMETER above is a setting's 42704)
UNTRANSLATABLE_CHARACTER = "22P05"
BAD_COPY_FILE_FORMAT = "22P04"
ADMIN_SHUTDOWN = "57P01"
CANNOT_CONNECT_NOW = "57P03"
UNDEFINED_PARAMETER = "42704"
CANT_CHANGE_RUNTIME_PARAM = "55P02"
INVALID_TRANSACTION_STATE = "25000"
INSUFFICIENT_PRIVILEGE = "42501"
INTERNAL_ERROR = "XX000"
CONFIG_FILE_ERROR = "F0000"
