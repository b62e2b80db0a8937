"""A fresh sign-in asked for by ``prompt=login`` or ``max_age`` (OpenID Connect Core
3.1.2.1), without a loop. The authorization request sends the person to sign in again
with a mark of when it asked; the mark proves nothing by itself: back at the
authorization endpoint, only the browser's own sign-in does, when it was completed
after that moment (its ``auth_time`` at or after the mark's).

The mark is keyed so that no one can forge it, and bound to what it was asked for:
the client and every other parameter of the request (state, nonce, PKCE
challenge...). A later request or another client's cannot use it, and in any browser
it is taken only with a sign-in completed after it was made (whoever signs in then
has signed in afresh, which is all the request asks); a mark older than
``MARK_SECONDS`` asks again. Written here rather than kept in a server-side session:
the service keeps no state for a request not yet answered."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable

MARK_SECONDS = 600
PARAMETER = "sfa_reauth"


def _digest(params: Iterable[tuple[str, str]]) -> bytes:
    """The request's parameters (the mark left out), in an order of their own and
    unambiguous: each name and value length-prefixed."""
    hashed = hashlib.sha256()
    for name, value in sorted(params):
        for part in (name.encode("utf-8", "surrogatepass"), value.encode("utf-8", "surrogatepass")):
            hashed.update(len(part).to_bytes(8, "big") + part)
    return hashed.digest()


class ReauthMarks:
    def __init__(self, key: bytes, clock: Callable[[], float]) -> None:
        self._key = hmac.new(key, b"secureflaskauth reauth mark", hashlib.sha256).digest()
        self._clock = clock

    def _mac(self, at: int, client_id: str, params: bytes) -> str:
        message = b"\0".join((str(at).encode(), client_id.encode(), params))
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def mark(self, client_id: str, params: Iterable[tuple[str, str]]) -> str:
        """The mark of a fresh sign-in asked for now by this request of ``client_id``
        (``params``: all its parameters but the mark)."""
        at = int(self._clock())
        return f"{at}.{self._mac(at, client_id, _digest(params))}"

    def asked_at(self, mark: str, client_id: str, params: Iterable[tuple[str, str]]) -> int | None:
        """When a valid, recent mark of this very request asked for a fresh sign-in;
        None for a missing, forged, foreign or stale one."""
        at_text, _, mac = mark.partition(".")
        if not at_text.isdigit() or len(at_text) > 12 or len(mac) != 32:
            return None
        at = int(at_text)
        expected = self._mac(at, client_id, _digest(params))
        if not hmac.compare_digest(mac, expected):
            return None
        return at if 0 <= self._clock() - at <= MARK_SECONDS else None
