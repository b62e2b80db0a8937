"""The challenges of WebAuthn ceremonies: random, bound to what they were issued for,
short-lived and single use (WebAuthn Level 3 13.4.3: at least 16 random bytes, and a
challenge used once).

A challenge carries its own proof: when it was issued, 16 random bytes, and an
HMAC-SHA256 over both and its purpose (``register:<user>``, ``signin:<challenge id>``,
``passkey``) under the service's secret key. Handing one out stores nothing, so asking
for options costs no write. It is taken by counting it in the shared counters (the
database, or Redis when set) within its lifetime: one atomic increment, so of any
number of requests presenting it at once exactly one gets the count 1.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from secureflaskauth.domain.ports import Clock, Counters

CHALLENGE_SECONDS = 120  # the ceremony's time (60 s in the options) and some slack
_VERSION = b"\x01"
_NONCE_BYTES = 16
_MAC_BYTES = 32
_LENGTH = 1 + 8 + _NONCE_BYTES + _MAC_BYTES
_SKEW = 5.0  # a challenge issued by a node whose clock is slightly ahead


class CeremonyChallenges:
    def __init__(self, *, counters: Counters, key: bytes, clock: Clock) -> None:
        self.counters = counters
        self._key = hashlib.sha256(b"webauthn challenges\x00" + key).digest()
        self.clock = clock

    def issue(self, purpose: str) -> bytes:
        """A new challenge for ``purpose``."""
        issued = int(self.clock.now())
        body = _VERSION + issued.to_bytes(8, "big") + secrets.token_bytes(_NONCE_BYTES)
        return body + self._mac(purpose, body)

    def take(self, challenge: bytes, purpose: str) -> bool:
        """True once: ``challenge`` was issued here for ``purpose``, is within its
        lifetime, and was not taken before."""
        if len(challenge) != _LENGTH or challenge[:1] != _VERSION:
            return False
        body, mac = challenge[:-_MAC_BYTES], challenge[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            return False
        issued = int.from_bytes(body[1:9], "big")
        if not issued - _SKEW <= self.clock.now() < issued + CHALLENGE_SECONDS:
            return False
        key = "webauthn:challenge:" + hashlib.sha256(challenge).hexdigest()
        # The window starts when it was issued: the count never starts again within its life.
        count = self.counters.add(key, window=issued, expires_at=issued + CHALLENGE_SECONDS)
        return count == 1

    def _mac(self, purpose: str, body: bytes) -> bytes:
        return hmac.new(self._key, purpose.encode("utf-8") + b"\x00" + body, "sha256").digest()
