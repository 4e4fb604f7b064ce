"""Fast checks of the Databricks backend's pure parts: settings, error mapping, type mapping, the pool.

Error texts below are the shapes Spark 4 / Databricks SQL produce (error class in brackets, ANSI
SQLSTATE at the end); the exception types are the connector's own.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pyarrow as pa
import pytest
from databricks.sql.exc import RequestError, ServerOperationError
from pydantic import ValidationError

from gateway.backends.base import Credentials
from gateway.backends.databricks import DatabricksBackend, DatabricksSettings, Identity
from gateway.backends.databricks_errors import (
    is_auth_failure,
    is_transient,
    is_warehouse_starting,
    map_databricks_error,
)
from gateway.backends.databricks_pool import ConnectionPool
from gateway.backends.databricks_types import arrow_type_for_spark, schema_from_describe
from virtual_schema.errors import PgError


def test_settings_names_and_warehouse_id_path() -> None:
    s = DatabricksSettings(server_hostname="adb-1.azuredatabricks.net", warehouse_id="abc123", catalog="main",
                           schema="sales")
    assert s.resolved_http_path == "/sql/1.0/warehouses/abc123"
    assert s.schema_ == "sales" and s.catalog == "main" and s.auth_mode == "passthrough"
    with pytest.raises(ValidationError):
        DatabricksSettings(http_path="/sql/1.0/warehouses/x", warehouse_id="y")
    with pytest.raises(ValidationError):
        DatabricksSettings(unknown_setting=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        s.model_copy(update={}).__setattr__("catalog", "other")


def test_retry_backoff_is_exponential_and_capped() -> None:
    r = DatabricksSettings(retry={"initial_backoff_seconds": 0.5, "multiplier": 2, "max_backoff_seconds": 3}).retry
    assert [r.delay(i) for i in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def _server_error(text: str) -> ServerOperationError:
    return ServerOperationError(text, {"diagnostic-info": None})


@pytest.mark.parametrize(("text", "sqlstate"), [
    ("[TABLE_OR_VIEW_NOT_FOUND] The table or view `x` cannot be found. SQLSTATE: 42P01; line 1 pos 14", "42P01"),
    ("[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column with name `c` cannot be resolved. SQLSTATE: 42703", "42703"),
    ("[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'. SQLSTATE: 42601", "42601"),
    ("[DIVIDE_BY_ZERO] Division by zero. Use `try_divide` to tolerate divisor being 0. SQLSTATE: 22012", "22012"),
    ("[CAST_INVALID_INPUT] The value 'abc' of the type \"STRING\" cannot be cast to \"INT\". SQLSTATE: 22018",
     "22P02"),
    ("[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not have SELECT on Table. SQLSTATE: 42501",
     "42501"),
    ("PERMISSION_DENIED: User does not have USE SCHEMA on Schema 'main.sales'.", "42501"),
    ("[UNRESOLVED_ROUTINE] Cannot resolve routine `foo`. SQLSTATE: 42883", "42883"),
    ("[SOME_NEW_CLASS] Something about a data problem. SQLSTATE: 22023", "22023"),
    ("[ANOTHER_NEW_CLASS] Something. SQLSTATE: 42K09", "42000"),
    ("Expected state FINISHED, but found CANCELED", "57014"),
])
def test_error_classes_map_to_postgres_sqlstates(text: str, sqlstate: str) -> None:
    err = map_databricks_error(_server_error(text))
    assert err.sqlstate == sqlstate
    assert err.detail is not None and err.detail.split(" SQLSTATE")[0].split(".")[0] in text


def test_cancelled_statement_is_57014_whatever_the_connector_says() -> None:
    assert map_databricks_error(RuntimeError("boom"), cancelled=True).sqlstate == "57014"


def test_invalid_token_and_http_auth_codes_are_28P01() -> None:
    http403 = RequestError("Error during request to server: Invalid access token.", {"http-code": 403})
    assert is_auth_failure(http403) and map_databricks_error(http403).sqlstate == "28P01"
    assert map_databricks_error(_server_error("[INVALID_TOKEN] The access token is invalid.")).sqlstate == "28P01"
    # a permission error is not a login failure
    assert not is_auth_failure(_server_error("[PERMISSION_DENIED] User is unauthorized to read table t"))


def test_transient_classification() -> None:
    assert is_transient(RequestError("Error during request to server", {"http-code": 503}))
    assert is_warehouse_starting(RequestError("TEMPORARILY_UNAVAILABLE", {"http-code": 503}))
    assert is_transient(RequestError("Too Many Requests", {"http-code": 429}))
    assert is_transient(ConnectionResetError(104, "Connection reset by peer"))
    assert not is_transient(_server_error("[TABLE_OR_VIEW_NOT_FOUND] nope SQLSTATE: 42P01"))
    assert not is_transient(RequestError("Invalid access token", {"http-code": 403}))


def test_detail_drops_java_stack_frames() -> None:
    text = ("org.apache.hive.service.cli.HiveSQLException: Error running query: [DIVIDE_BY_ZERO] Division by zero."
            " SQLSTATE: 22012\n\tat org.apache.spark.sql.Foo.bar(Foo.scala:1)\n\tat java.base/Thread.run")
    err = map_databricks_error(_server_error(text))
    assert err.detail == "[DIVIDE_BY_ZERO] Division by zero. SQLSTATE: 22012"


@pytest.mark.parametrize(("spark", "arrow"), [
    ("int", pa.int32()), ("bigint", pa.int64()), ("smallint", pa.int16()), ("tinyint", pa.int8()),
    ("boolean", pa.bool_()), ("float", pa.float32()), ("double", pa.float64()), ("string", pa.string()),
    ("varchar(20)", pa.string()), ("decimal(38,6)", pa.decimal128(38, 6)), ("decimal", pa.decimal128(10, 0)),
    ("date", pa.date32()), ("timestamp", pa.timestamp("us", tz="UTC")), ("timestamp_ntz", pa.timestamp("us")),
    ("binary", pa.binary()), ("array<int>", pa.list_(pa.int32())),
    ("map<string,bigint>", pa.map_(pa.string(), pa.int64())),
    ("struct<a:int,b:decimal(5,2)>", pa.struct([("a", pa.int32()), ("b", pa.decimal128(5, 2))])),
    ("interval day to second", pa.string()),
])
def test_spark_types_to_arrow(spark: str, arrow: pa.DataType) -> None:
    assert arrow_type_for_spark(spark) == arrow


def test_describe_rows_stop_at_partition_section() -> None:
    rows: list[tuple[object, ...]] = [("id", "bigint", None), ("day", "date", None), ("", "", ""),
                                      ("# Partition Information", "", ""), ("# col_name", "data_type", "comment"),
                                      ("day", "date", None)]
    assert schema_from_describe(rows) == pa.schema([("id", pa.int64()), ("day", pa.date32())])


class FakeConnection:
    """The lowest layer (a warehouse session) — what cannot run here without a workspace."""

    opened = 0

    def __init__(self, kwargs: dict[str, Any]) -> None:
        FakeConnection.opened += 1
        self.kwargs = kwargs
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_pool_never_crosses_identities_and_expires_idle_connections() -> None:
    now = [0.0]
    pool = ConnectionPool(lambda ident: FakeConnection({"token": ident.token}), idle_expiry_seconds=60,
                          max_idle_per_identity=2, clock=lambda: now[0])
    alice, bob = Identity.for_token("tok-a"), Identity.for_token("tok-b")
    a = pool.acquire(alice)
    pool.release(alice, a)
    b = pool.acquire(bob)
    assert b is not a and b.kwargs["token"] == "tok-b"  # bob never gets alice's idle connection
    assert pool.acquire(alice) is a  # alice gets hers back
    pool.release(alice, a)
    now[0] = 61.0
    pool.expire()
    assert a.closed and pool.counts() == {}
    assert "tok-a" not in repr(alice) and alice.key.startswith("token:")


def test_service_mode_uses_sdk_unified_auth_and_connect_kwargs_hook() -> None:
    seen: list[dict[str, Any]] = []

    def connect(kwargs: dict[str, Any]) -> Any:
        seen.append(kwargs)
        return FakeConnection(kwargs)

    backend = DatabricksBackend(DatabricksSettings(server_hostname="example.cloud.databricks.com",
                                                   http_path="/sql/1.0/warehouses/w", auth_mode="service",
                                                   service_auth={"token": "dapi-service", "retry_timeout_seconds": 1,
                                                                 "http_timeout_seconds": 1},
                                                   connect_kwargs={"enable_telemetry": False}), connect=connect)
    kwargs = backend.connect_kwargs(Identity.service())
    assert "access_token" not in kwargs and kwargs["enable_telemetry"] is False
    headers = kwargs["credentials_provider"]()()
    assert headers["Authorization"] == "Bearer dapi-service"
    assert backend.connect_kwargs(Identity.for_token("tok-u"))["access_token"] == "tok-u"
    asyncio.run(backend.close())


async def test_passthrough_empty_password_is_28P01_without_touching_the_warehouse() -> None:
    calls = threading.Event()
    backend = DatabricksBackend(DatabricksSettings(server_hostname="h", http_path="p"),
                                connect=lambda kw: calls.set())
    with pytest.raises(PgError) as info:
        await backend.open_session(Credentials("u", ""))
    assert info.value.sqlstate == "28P01" and not calls.is_set()
    await backend.close()
