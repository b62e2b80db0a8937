"""RevocationList on Redis: one key per revoked session, read on every check, and
kept durably in the database too, so a Redis that restarts empty does not forget
a logout.

One round trip per authenticated request (no local cache) makes a logout on any
node refused at once on every other node, with no invalidation message that could
be lost. ``until`` is compared with the injected clock, like the SQL list; the
key's Redis TTL only removes it later.

Keys: ``P revoked:<session id>`` holding ``until``; ``P revoked-loaded``, a marker
set once the durable copy has been loaded. A Redis that lost its data has no
marker: the next check reloads every revocation still in force from the
database before answering.
"""

from __future__ import annotations

from typing import Protocol

import redis

from secureflaskauth.adapters.redis.client import fail_closed, gc_ttl_ms, key_part, number
from secureflaskauth.domain.ports import Clock

# KEYS: marker, revocation key. Returns -1 when the marker is missing (reload first),
# else the stored ``until`` or false.
_CHECK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('GET', KEYS[2])
"""


class RevocationArchive(Protocol):
    """The durable copy of revocations (the database)."""

    def record(self, session_id: str, until: float) -> None: ...

    def active(self, now: float) -> list[tuple[str, float]]: ...


class RedisRevocationList:
    def __init__(
        self, client: redis.Redis, clock: Clock, prefix: str, archive: RevocationArchive
    ) -> None:
        self._client = client
        self._clock = clock
        self._prefix = f"{prefix}revoked:"
        self._marker = f"{prefix}revoked-loaded"
        self._archive = archive
        self._check = client.register_script(_CHECK)

    def _key(self, session_id: str) -> str:
        return self._prefix + key_part(session_id)

    def revoke(self, session_id: str, *, until: float) -> None:
        self._archive.record(session_id, until)  # first: a revocation is never only in Redis
        self._set(session_id, until)

    @fail_closed
    def _set(self, session_id: str, until: float) -> None:
        ttl = gc_ttl_ms(until, self._clock.now())
        self._client.set(self._key(session_id), number(until), px=ttl)

    def is_revoked(self, session_id: str) -> bool:
        until = self._lookup(session_id)
        if until == -1:
            self._reload()
            until = self._lookup(session_id)
        return until not in (None, -1) and float(str(until)) > self._clock.now()

    @fail_closed
    def _lookup(self, session_id: str) -> object:
        result: object = self._check(keys=[self._marker, self._key(session_id)])
        if isinstance(result, bytes):
            return result.decode()
        return result

    def _reload(self) -> None:
        now = self._clock.now()
        active = self._archive.active(now)
        self._store(active, now)

    @fail_closed
    def _store(self, active: list[tuple[str, float]], now: float) -> None:
        pipe = self._client.pipeline(transaction=True)
        for session_id, until in active:
            pipe.set(self._key(session_id), number(until), px=gc_ttl_ms(until, now))
        pipe.set(self._marker, "1")
        pipe.execute()
