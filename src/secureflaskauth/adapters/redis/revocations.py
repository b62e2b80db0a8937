"""RevocationList on Redis: one key per revoked session, read on every check.

One GET per authenticated request (no local cache) makes a logout on any node
refused at once on every other node, with no invalidation message that could be
lost; the GET costs well under a millisecond. ``until`` is compared with the
injected clock, like the SQL list; the key's Redis TTL only removes it later.

Key: ``P revoked:<session id>``, holding ``until`` (seconds since the epoch).
"""

from __future__ import annotations

import redis

from secureflaskauth.adapters.redis.client import fail_closed, gc_ttl_ms, key_part, number
from secureflaskauth.domain.ports import Clock


class RedisRevocationList:
    def __init__(self, client: redis.Redis, clock: Clock, prefix: str) -> None:
        self._client = client
        self._clock = clock
        self._prefix = f"{prefix}revoked:"

    def _key(self, session_id: str) -> str:
        return self._prefix + key_part(session_id)

    @fail_closed
    def revoke(self, session_id: str, *, until: float) -> None:
        ttl = gc_ttl_ms(until, self._clock.now())
        self._client.set(self._key(session_id), number(until), px=ttl)

    @fail_closed
    def is_revoked(self, session_id: str) -> bool:
        until = self._client.get(self._key(session_id))
        return until is not None and float(str(until)) > self._clock.now()
