"""PostgreSQL v3 wire protocol, sans-IO: no sockets, no asyncio, no SQL.

- messages.py: one frozen dataclass per message; `FrontendMessage` / `BackendMessage` unions.
- codec.py:    `FrontendDecoder.feed(bytes) -> messages` (any chunking; malformed input only ever raises
               `ProtocolViolation`, 08P01), `encode_backend`, `encode_frontend`, `BackendDecoder`,
               `error_response(PgError)`, precomputed constant messages.
- rowenc.py:   `RowEncoder(types, formats, timezone=).encode(record_batch) -> DataRow bytes`, column-wise
               (vecfmt.py holds the numpy formatting kernels), `describe_fields(columns, formats)`.
- params.py:   `decode_param(value, type_oid, fmt)` for Bind parameters.
- pgvalue.py:  per-value text/binary output of PostgreSQL (the encoder's reference and slow path).
"""
