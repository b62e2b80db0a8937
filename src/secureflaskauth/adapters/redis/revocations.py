"""RevocationList on Redis: one key per revoked session, read on every check, so a
logout on any node is refused at once on every other node, with no invalidation
message that could be lost.

Redis is a fast copy, not the truth: the session store writes every revocation to
the database in the same transaction that ends the session. Each process also
keeps the database's revocations in memory (``local``, read at least every
SFA_REVOCATION_MAX_AGE_SECONDS), so a revocation that never reached Redis (Redis
refusing writes, a process killed after the commit, an evicted key) is still
refused everywhere within that time; a write that failed is retried. With the database
away for longer than that, checks fail closed (503): Redis alone may lack a revocation
another process could not copy to it.

Keys: ``P revoked:<session id>`` holding ``until``; ``P revoked-loaded``, a marker
set once the database's revocations have been copied in. A Redis that lost its
data has no marker: the next check copies them in again before answering (a batch
at a time, the marker last), and the other checks of the process wait for it.
``until`` is compared with the injected clock; the key's TTL only removes it later.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Generator, Sequence
from typing import Protocol

import redis

from secureflaskauth.adapters.redis.client import (
    UNAVAILABLE,
    describe,
    fail_closed,
    gc_ttl_ms,
    key_part,
    number,
)
from secureflaskauth.domain.models import Revocation
from secureflaskauth.domain.ports import Clock, RevocationList

log = logging.getLogger("secureflaskauth.revocations")
RETRY_SECONDS = 1.0  # a failed copy to Redis is tried again at most this often

# KEYS: marker, revocation key. Returns -1 when the marker is missing (reload first),
# else the stored ``until`` or false.
_CHECK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('GET', KEYS[2])
"""


class RevocationArchive(Protocol):
    """The database's revocations."""

    def batches(
        self, now: float, since: float | None
    ) -> Generator[list[tuple[str, float]], None, None]:
        """The revocations in force (``since`` None: all of them), a batch at a time."""
        ...


class RedisRevocationList:
    def __init__(
        self,
        client: redis.Redis,
        clock: Clock,
        prefix: str,
        archive: RevocationArchive,
        local: RevocationList,
    ) -> None:
        self._client = client
        self._clock = clock
        self._prefix = f"{prefix}revoked:"
        self._marker = f"{prefix}revoked-loaded"
        self._archive = archive
        self._local = local
        self._check = client.register_script(_CHECK)
        self._lock = threading.Lock()
        self._reloading = threading.Lock()  # one copy from the database at a time
        self._pending: dict[str, float] = {}  # committed, not yet copied to Redis
        self._retry_at = 0.0

    def _key(self, session_id: str) -> str:
        return self._prefix + key_part(session_id)

    def publish(self, revocations: Sequence[Revocation]) -> None:
        self._local.publish(revocations)
        with self._lock:
            for revocation in revocations:
                self._pending[revocation.session_id] = revocation.until
        self._copy_pending()

    def _copy_pending(self) -> None:
        with self._lock:
            pending = dict(self._pending)
        if not pending:
            return
        now = self._clock.now()
        pipe = self._client.pipeline(transaction=False)
        for session_id, until in pending.items():
            pipe.set(self._key(session_id), number(until), px=gc_ttl_ms(until, now))
        try:
            pipe.execute()
        except UNAVAILABLE as exc:
            self._retry_at = time.monotonic() + RETRY_SECONDS
            log.warning(
                "%d revocation(s) not copied to Redis (%s): other nodes refuse them "
                "from the database instead; retrying",
                len(pending),
                describe(exc),
            )
            return
        with self._lock:
            for session_id, until in pending.items():
                if self._pending.get(session_id) == until:
                    del self._pending[session_id]

    def revoked_in_memory(self, session_id: str) -> bool | None:
        """Never known: a session the process's copy does not name is looked up in Redis."""
        return None

    def is_revoked(self, session_id: str) -> bool:
        if self._pending and time.monotonic() >= self._retry_at:
            self._copy_pending()
        if self._local.is_revoked(session_id):
            return True
        until = self._lookup(session_id)
        if until == -1:
            with self._reloading:  # the other threads wait for it, then look again
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
        """Copy the database's revocations in, a batch at a time (no list of every
        row), then set the marker: a copy cut short sets none, so the next check
        copies them in again. Done after Redis lost its data, not on every check."""
        now = self._clock.now()
        # Closed on any way out, so a copy cut short returns its connection at once.
        with contextlib.closing(self._archive.batches(now, None)) as batches:
            for batch in batches:
                self._store(batch, now)
        self._mark()

    @fail_closed
    def _store(self, batch: list[tuple[str, float]], now: float) -> None:
        pipe = self._client.pipeline(transaction=False)
        for session_id, until in batch:
            pipe.set(self._key(session_id), number(until), px=gc_ttl_ms(until, now))
        pipe.execute()

    @fail_closed
    def _mark(self) -> None:
        self._client.set(self._marker, "1")
