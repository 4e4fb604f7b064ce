"""Who may connect and how they prove it.

Gateway users (SCRAM verifiers from the config) by default. With the Databricks backend in
passthrough mode the password is the user's own Databricks token, so the gateway must receive it
(cleartext password message; use TLS) and lets the warehouse judge it when the session opens.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from gateway.auth.scram import ScramExchange, ScramVerifier


class AuthProvider:
    def __init__(self, verifiers: Mapping[str, ScramVerifier], *, cleartext: bool = False,
                 passthrough: bool = False) -> None:
        self._verifiers = dict(verifiers)
        self._cleartext = cleartext or passthrough
        self._passthrough = passthrough

    @property
    def needs_cleartext(self) -> bool:
        return self._cleartext

    def scram_exchange(self, user: str) -> ScramExchange:
        return ScramExchange(self._verifiers.get(user))

    def check_cleartext(self, user: str, password: str) -> bool:
        if self._passthrough:
            return bool(password)  # the warehouse checks the token when the session opens
        v = self._verifiers.get(user)
        if v is None:
            return False
        candidate = ScramVerifier.from_password(password, salt=v.salt, iterations=v.iterations)
        return hmac.compare_digest(hashlib.sha256(candidate.stored_key).digest(),
                                   hashlib.sha256(v.stored_key).digest())
