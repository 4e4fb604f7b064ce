"""Test-only adapter: an HTTP proxy that makes the open-source Spark Thrift Server answer like a warehouse.

It sits between databricks-sql-connector and HiveThriftServer2 (HTTP transport) and is the lowest
layer the tests fake; product code runs unmodified against it. What it bridges:

- auth: the connector sends `Authorization: Bearer <token>` (passthrough) and the Spark server only
  takes Basic, so the proxy records the token it saw on each request and forwards Basic auth;
  tokens in `rejected` get HTTP 403 as a workspace answers an invalid token;
- protocol: Hive answers OpenSession with a Hive protocol version (< SPARK_CLI_SERVICE_PROTOCOL_V2)
  that the connector refuses, and leaves `resultFormat` unset (no Arrow batches); the proxy raises
  the version and marks results column-based (the connector converts them to Arrow itself);
- paging: Hive always says `hasMoreRows=false`, so the connector would stop after the first page;
  the proxy sets it from whether the page had rows (FETCH_NEXT until an empty page);
- a warehouse that is starting: `fail_executes` makes the next N ExecuteStatement calls get 503.
"""

from __future__ import annotations

import base64
import http.client
import threading
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyarrow as pa
from databricks.sql.backend.thrift_backend import ThriftDatabricksClient
from databricks.sql.backend.utils.guid_utils import guid_to_hex_id
from databricks.sql.thrift_api.TCLIService import TCLIService, ttypes
from databricks.sql.utils import _convert_column_to_arrow_array
from thrift.protocol import TBinaryProtocol
from thrift.transport import TTransport


def _decode(body: bytes, suffix: str) -> tuple[str, int, int, Any]:
    proto = TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(body))
    name, mtype, seqid = proto.readMessageBegin()
    cls = getattr(TCLIService, f"{name}_{suffix}", None)
    if cls is None or (mtype != 2 and suffix == "result"):  # an exception message: leave it as it is
        return name, mtype, seqid, None
    obj = cls()
    obj.read(proto)
    proto.readMessageEnd()
    return name, mtype, seqid, obj


def _encode(name: str, mtype: int, seqid: int, obj: Any) -> bytes:
    buf = TTransport.TMemoryBuffer()
    proto = TBinaryProtocol.TBinaryProtocol(buf)
    proto.writeMessageBegin(name, mtype, seqid)
    obj.write(proto)
    proto.writeMessageEnd()
    return bytes(buf.getvalue())


def _rows_in(rowset: Any) -> int:
    if rowset is None:
        return 0
    if rowset.columns:
        col = rowset.columns[0]
        for attr in ("boolVal", "byteVal", "i16Val", "i32Val", "i64Val", "doubleVal", "stringVal", "binaryVal"):
            v = getattr(col, attr, None)
            if v is not None:
                return len(v.values)
    return len(rowset.rows or ())


def _arrow_type(entry: Any) -> pa.DataType:
    """The Arrow type a warehouse sends for a Hive column type (decimals native, timestamps in UTC)."""
    prim = entry.primitiveEntry
    if prim.type == ttypes.TTypeId.DECIMAL_TYPE:
        q = prim.typeQualifiers.qualifiers
        return pa.decimal128(q["precision"].i32Value, q["scale"].i32Value)
    if prim.type == ttypes.TTypeId.TIMESTAMP_TYPE:
        return pa.timestamp("us", tz="UTC")
    schema = ThriftDatabricksClient._hive_schema_to_arrow_schema(
        ttypes.TTableSchema(columns=[ttypes.TColumnDesc(columnName="c", typeDesc=ttypes.TTypeDesc(types=[entry]))]))
    return schema.field(0).type


class _Fixer:
    """Rewrites Hive answers into what databricks-sql-connector expects from a warehouse."""

    def __init__(self) -> None:
        self.schemas: dict[bytes, pa.Schema] = {}
        self.lock = threading.Lock()

    def schema_for(self, op_handle: Any) -> pa.Schema | None:
        with self.lock:
            return self.schemas.get(op_handle.operationId.guid)

    def fix(self, name: str, args: Any, result: Any) -> None:
        resp = result.success
        if resp is None:
            return
        if name == "OpenSession":
            if (resp.serverProtocolVersion or 0) < ttypes.TProtocolVersion.SPARK_CLI_SERVICE_PROTOCOL_V2:
                resp.serverProtocolVersion = ttypes.TProtocolVersion.SPARK_CLI_SERVICE_PROTOCOL_V2
        elif name == "GetResultSetMetadata":
            if resp.schema is not None and resp.schema.columns and resp.resultFormat is None:
                schema = pa.schema([pa.field(c.columnName, _arrow_type(c.typeDesc.types[0]))
                                    for c in resp.schema.columns])
                with self.lock:
                    self.schemas[args.req.operationHandle.operationId.guid] = schema
                resp.resultFormat = ttypes.TSparkRowSetType.ARROW_BASED_SET
                resp.arrowSchema = schema.serialize().to_pybytes()
        elif name == "FetchResults":
            schema = self.schema_for(args.req.operationHandle)
            rows = _rows_in(resp.results)
            converted = False
            if schema is not None and resp.results is not None and resp.results.columns is not None:
                converted = True
                if len(resp.results.columns) == len(schema):
                    arrays = []
                    for col, f in zip(resp.results.columns, schema, strict=True):
                        arr = _convert_column_to_arrow_array(col)
                        if not arr.type.equals(f.type):
                            if pa.types.is_timestamp(f.type) and f.type.tz is not None:
                                arr = arr.cast(pa.timestamp(f.type.unit)).cast(f.type)  # session time zone is UTC
                            else:
                                arr = arr.cast(f.type)
                        arrays.append(arr)
                    batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
                else:  # Hive answers DDL with no columns although its schema declared one ("Result")
                    batch = pa.RecordBatch.from_pylist([], schema=schema)
                    rows = 0
                resp.results = ttypes.TRowSet(
                    startRowOffset=resp.results.startRowOffset, rows=[],
                    arrowBatches=[ttypes.TSparkArrowBatch(batch=batch.serialize().to_pybytes(), rowCount=rows)])
            if resp.resultSetMetadata is None:
                resp.resultSetMetadata = ttypes.TGetResultSetMetadataResp(status=resp.status)
            if resp.resultSetMetadata.resultFormat is None:
                resp.resultSetMetadata.resultFormat = (ttypes.TSparkRowSetType.ARROW_BASED_SET if converted
                                                      else ttypes.TSparkRowSetType.COLUMN_BASED_SET)
            resp.hasMoreRows = rows > 0
        elif name == "CloseOperation":
            with self.lock:
                self.schemas.pop(args.req.operationHandle.operationId.guid, None)


@dataclass(frozen=True)
class Seen:
    method: str
    token: str
    session: str | None  # Thrift session id (hex) the request belonged to, when it names one


@dataclass
class ProxyLog:
    """What the proxy saw on the wire, request by request."""

    requests: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seen: Seen) -> None:
        with self.lock:
            self.requests.append(seen)

    def snapshot(self) -> list[Seen]:
        with self.lock:
            return list(self.requests)


def _session_of(args: Any, result: Any) -> str | None:
    handle = getattr(getattr(args, "req", None), "sessionHandle", None)
    if handle is None and result is not None and result.success is not None:
        handle = getattr(result.success, "sessionHandle", None)
    return guid_to_hex_id(handle.sessionId.guid) if handle is not None else None


class ThriftProxy:
    def __init__(self, upstream_port: int, *, rejected: Iterable[str] = ()) -> None:
        self.upstream_port = upstream_port
        self.rejected = set(rejected)
        self.fail_executes = 0
        self.log = ProxyLog()
        self.fixer = _Fixer()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                try:
                    self._handle()
                except Exception:  # a broken adapter must be visible in the test output
                    traceback.print_exc()
                    raise

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                auth = self.headers.get("Authorization", "")
                token = auth.split(" ", 1)[1] if auth.startswith("Bearer ") else ""
                if auth.startswith("Basic "):
                    token = base64.b64decode(auth[6:]).decode().partition(":")[2]
                name, _, _, args = _decode(body, "args")
                if token in proxy.rejected or not token:
                    proxy.log.add(Seen(name, token, _session_of(args, None)))
                    self._reply(403, b"Invalid access token.", {"x-databricks-reason-phrase": "Invalid access token."})
                    return
                if name == "ExecuteStatement" and proxy.fail_executes > 0:
                    proxy.fail_executes -= 1
                    proxy.log.add(Seen(name + "(503)", token, _session_of(args, None)))
                    self._reply(503, b"TEMPORARILY_UNAVAILABLE: the warehouse is starting",
                                {"Retry-After": "1",
                                 "x-thriftserver-error-message": "TEMPORARILY_UNAVAILABLE: warehouse is starting"})
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=600)
                basic = base64.b64encode(f"gateway:{token}".encode()).decode()
                conn.request("POST", self.path, body, {"Content-Type": "application/x-thrift",
                                                       "Authorization": f"Basic {basic}"})
                up = conn.getresponse()
                data = up.read()
                conn.close()
                result = None
                if up.status == 200:
                    rname, mtype, seqid, result = _decode(data, "result")
                    if result is not None:
                        proxy.fixer.fix(rname, args, result)
                        data = _encode(rname, mtype, seqid, result)
                proxy.log.add(Seen(name, token, _session_of(args, result)))
                self._reply(up.status, data, {})

            def _reply(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-thrift")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name="thrift-proxy", daemon=True)

    def start(self) -> ThriftProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/cliservice"
