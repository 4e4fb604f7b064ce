"""SCRAM-SHA-256 server side, compatible with libpq, pgjdbc, asyncpg, psycopg and Npgsql.

Passwords are stored only as verifiers (`SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`, the
format of pg_authid.rolpassword), so the gateway never holds a plaintext password. Channel binding
is not offered (mechanism SCRAM-SHA-256 only), as PostgreSQL does without TLS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from virtual_schema.errors import INVALID_PASSWORD, PROTOCOL_VIOLATION, PgError

MECHANISM = "SCRAM-SHA-256"
DEFAULT_ITERATIONS = 4096


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


@dataclass(frozen=True, slots=True)
class ScramVerifier:
    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes

    @classmethod
    def from_password(
        cls, password: str, *, salt: bytes | None = None, iterations: int = DEFAULT_ITERATIONS
    ) -> ScramVerifier:
        salt = salt if salt is not None else secrets.token_bytes(16)
        salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
        client_key = _hmac(salted, b"Client Key")
        return cls(iterations, salt, hashlib.sha256(client_key).digest(), _hmac(salted, b"Server Key"))

    @classmethod
    def parse(cls, text: str) -> ScramVerifier:
        try:
            mech, rest = text.split("$", 1)
            iter_salt, keys = rest.split("$", 1)
            iterations, salt = iter_salt.split(":", 1)
            stored, server = keys.split(":", 1)
            if mech != MECHANISM:
                raise ValueError(mech)
            return cls(int(iterations), base64.b64decode(salt), base64.b64decode(stored), base64.b64decode(server))
        except ValueError as e:
            raise ValueError(f"not a SCRAM-SHA-256 verifier: {e}") from None

    def __str__(self) -> str:
        return (
            f"{MECHANISM}${self.iterations}:{_b64(self.salt)}$"
            f"{_b64(self.stored_key)}:{_b64(self.server_key)}"
        )


def _parse_attrs(msg: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in msg.split(","):
        if len(part) < 2 or part[1] != "=":
            raise PgError(PROTOCOL_VIOLATION, "malformed SCRAM message")
        out[part[0]] = part[2:]
    return out


class ScramExchange:
    """One server-side SCRAM conversation: client-first → server-first → client-final → server-final."""

    def __init__(self, verifier: ScramVerifier | None) -> None:
        # With no verifier (unknown user) the exchange runs on a dummy so timing and messages
        # do not reveal which user names exist; it always fails at the proof, as PostgreSQL does.
        self._known = verifier is not None
        self._verifier = verifier or ScramVerifier.from_password(secrets.token_hex(16))
        self._server_nonce = _b64(secrets.token_bytes(18))
        self._client_first_bare = ""
        self._server_first = ""
        self._nonce = ""

    def server_first(self, client_first: bytes) -> bytes:
        text = client_first.decode("utf-8", "strict")
        parts = text.split(",", 2)  # gs2-cbind-flag "," [authzid] "," client-first-message-bare
        if len(parts) != 3 or not parts[0] or parts[0][0] not in "nyp":
            raise PgError(PROTOCOL_VIOLATION, "malformed SCRAM client-first-message")
        if parts[0][0] == "p":
            raise PgError(PROTOCOL_VIOLATION, "channel binding was not offered by the server")
        gs2_header, bare = f"{parts[0]},{parts[1]},", parts[2]
        attrs = _parse_attrs(bare)
        if "r" not in attrs:
            raise PgError(PROTOCOL_VIOLATION, "SCRAM client-first-message has no nonce")
        self._client_first_bare = bare
        self._nonce = attrs["r"] + self._server_nonce
        v = self._verifier
        self._server_first = f"r={self._nonce},s={_b64(v.salt)},i={v.iterations}"
        self._gs2 = gs2_header
        return self._server_first.encode("ascii")

    def server_final(self, client_final: bytes) -> bytes:
        text = client_final.decode("utf-8", "strict")
        without_proof, sep, proof_b64 = text.rpartition(",p=")
        if not sep:
            raise PgError(PROTOCOL_VIOLATION, "SCRAM client-final-message has no proof")
        attrs = _parse_attrs(without_proof)
        if attrs.get("r") != self._nonce:
            raise PgError(PROTOCOL_VIOLATION, "SCRAM nonce mismatch")
        expected_cb = _b64(self._gs2.encode("ascii"))
        if attrs.get("c") != expected_cb:
            raise PgError(PROTOCOL_VIOLATION, "SCRAM channel binding mismatch")
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        v = self._verifier
        signature = _hmac(v.stored_key, auth_message)
        try:
            proof = base64.b64decode(proof_b64, validate=True)
        except ValueError:
            raise PgError(PROTOCOL_VIOLATION, "malformed SCRAM proof") from None
        if len(proof) != len(signature):
            raise PgError(INVALID_PASSWORD, "password authentication failed")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not self._known or not hmac.compare_digest(hashlib.sha256(client_key).digest(), v.stored_key):
            raise PgError(INVALID_PASSWORD, "password authentication failed")
        return f"v={_b64(_hmac(v.server_key, auth_message))}".encode("ascii")
