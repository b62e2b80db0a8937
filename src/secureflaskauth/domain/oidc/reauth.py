"""A fresh sign-in asked for by ``prompt=login`` or ``max_age`` (OpenID Connect Core
3.1.2.1), without a loop: the authorization request sends the person to sign in again
with a mark of when it asked, keyed so that no one can forge it; back at the
authorization endpoint, a sign-in completed after that time is fresh enough.

A mark older than ``MARK_SECONDS`` asks again. Written here rather than kept in a
server-side session: the service keeps no state for a request not yet answered."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

MARK_SECONDS = 600
PARAMETER = "sfa_reauth"


class ReauthMarks:
    def __init__(self, key: bytes, clock: Callable[[], float]) -> None:
        self._key = hmac.new(key, b"secureflaskauth reauth mark", hashlib.sha256).digest()
        self._clock = clock

    def _mac(self, at: int, client_id: str) -> str:
        message = f"{at}:{client_id}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def mark(self, client_id: str) -> str:
        """The mark of a fresh sign-in asked for now by ``client_id``'s request."""
        at = int(self._clock())
        return f"{at}.{self._mac(at, client_id)}"

    def asked_at(self, mark: str, client_id: str) -> int | None:
        """When a valid, recent mark of this client asked for a fresh sign-in; None for
        a missing, forged, foreign or stale one."""
        at_text, _, mac = mark.partition(".")
        if not at_text.isdigit() or len(at_text) > 12 or len(mac) != 32:
            return None
        at = int(at_text)
        if not hmac.compare_digest(mac, self._mac(at, client_id)):
            return None
        return at if 0 <= self._clock() - at <= MARK_SECONDS else None
