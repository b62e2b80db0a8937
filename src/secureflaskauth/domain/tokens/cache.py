"""Verified access tokens, remembered by their exact text.

Verifying the same bytes twice gives the same answer as long as three things hold:
the time (``exp``), the key that signed them (it may be retired or removed), and the
verification rules (fixed for the life of a process). So a token that verified is
remembered, bounded in number, until the earliest of:

- its ``exp``: after it, the entry is gone and the full check runs again, which
  answers as it always did (expired once the clock leeway has passed too);
- its key leaving the key ring: every hit asks the ring whether the key that signed
  it may still verify, and the whole cache is emptied when a reload of the ring drops
  a key;
- being the least recently used entry when the cache is full.

Only successes are remembered: a forged or broken token is checked in full every time,
so a client can neither fill the cache with junk nor have a refusal remembered. What
belongs to the request and not to the token (the session's revocation) is checked by
the caller on every request.

The entries are an OrderedDict in least-recently-used order, each entry's expiry
checked when it is read, under one lock. Written here rather than taken from
cachetools (whose TLRUCache did this job before): every protected request reads the
cache, and TLRUCache's read (its timer's context, its expiry list, its LRU links, each
a layer of Python) cost a request 3 to 4 µs more of the server's time than this one
(README, "Performance"). Nothing needs its expiry list here: the entries all live as
long as the tokens' lifetime, so the least recently used one is usually the first to
expire as well; one that expired unread goes when it is read, when a full cache is
swept (``_make_room``), or when it is the least recently used of a full cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from secureflaskauth.domain.tokens.claims import AccessClaims
from secureflaskauth.domain.tokens.keyring import KeyRing

# A full cache is swept for expired entries at most this often (seconds).
SWEEP_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class _Verified:
    claims: AccessClaims
    kid: str
    expires_at: float


class VerifiedTokens:
    """The claims of tokens that verified, by token text (``size`` of them at most)."""

    def __init__(self, keys: KeyRing, clock: Callable[[], float], size: int) -> None:
        self._keys = keys
        self._clock = clock
        self._size = max(size, 0)  # 0 (or less): nothing is remembered
        self._entries: OrderedDict[str, _Verified] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = keys.generation
        self._swept_at: float | None = None  # the clock at the last sweep (_make_room)

    def __len__(self) -> int:
        """The entries not yet expired (the expired ones are dropped)."""
        with self._lock:
            self._drop_if_keys_changed()
            self._drop_expired(self._clock())
            return len(self._entries)

    def get(self, token: str, *, from_memory: bool = False) -> AccessClaims | None:
        """The claims of ``token`` if it verified before and nothing has changed since.
        ``from_memory``: without reloading the key ring either (None when a reload is
        due: the caller then verifies the usual way)."""
        if not self._size:
            return None
        with self._lock:
            # The time once the lock is ours: a reader that waited for it must not
            # answer with a time from before the wait.
            now = self._clock()
            self._drop_if_keys_changed()
            entry = self._entries.get(token)
            if entry is None:
                return None
            if not now < entry.expires_at:  # from exp on, the full check answers
                del self._entries[token]
                return None
            self._entries.move_to_end(token)
        if from_memory:
            return entry.claims if self._keys.held(entry.kid) is not None else None
        if self._keys.public(entry.kid) is None:  # retired since, or no longer stored
            with self._lock:
                self._entries.pop(token, None)
            return None
        return entry.claims  # immutable: shared with every caller as it is

    def put(self, token: str, claims: AccessClaims, kid: str) -> None:
        """Remember a token that has just verified in full with the key ``kid``."""
        if not self._size:
            return
        entry = _Verified(claims, kid, float(claims.exp))
        with self._lock:
            now = self._clock()
            self._drop_if_keys_changed()
            if not now < entry.expires_at:  # verified within the leeway past exp
                self._entries.pop(token, None)
                return
            self._entries[token] = entry
            self._entries.move_to_end(token)
            if len(self._entries) > self._size:
                self._make_room(now)

    def _make_room(self, now: float) -> None:
        """Down to ``size`` entries: the expired ones first, then the least recently
        used. A client that refreshed its token before ``exp`` leaves the old one
        behind among the recently used, so a full cache is swept for expired entries
        before any that can still answer is evicted; at most once a second, since a
        sweep reads every entry (about 2 ms for 10,000): a flood of new tokens then
        costs each one an eviction only."""
        if self._swept_at is None or not 0 <= now - self._swept_at < SWEEP_SECONDS:
            self._swept_at = now
            self._drop_expired(now)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def _drop_expired(self, now: float) -> None:
        for token in [t for t, e in self._entries.items() if not now < e.expires_at]:
            del self._entries[token]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _drop_if_keys_changed(self) -> None:
        generation = self._keys.generation
        if generation != self._generation:
            self._entries.clear()
            self._generation = generation
