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
the caller on every request. cachetools' TLRUCache keeps the per-entry expiry and the
LRU order; it is not thread-safe, hence the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TLRUCache

from secureflaskauth.domain.tokens.claims import AccessClaims
from secureflaskauth.domain.tokens.keyring import KeyRing


@dataclass(frozen=True, slots=True)
class _Verified:
    claims: AccessClaims
    kid: str
    expires_at: float


def _expiry(_token: str, entry: _Verified, _now: float) -> float:
    return entry.expires_at


class VerifiedTokens:
    """The claims of tokens that verified, by token text (``size`` of them at most)."""

    def __init__(self, keys: KeyRing, clock: Callable[[], float], size: int) -> None:
        self._keys = keys
        self._size = size
        self._entries: TLRUCache[str, _Verified] = TLRUCache(
            maxsize=max(size, 1), ttu=_expiry, timer=clock
        )
        self._lock = threading.Lock()
        self._generation = keys.generation

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, token: str, *, from_memory: bool = False) -> AccessClaims | None:
        """The claims of ``token`` if it verified before and nothing has changed since.
        ``from_memory``: without reloading the key ring either (None when a reload is
        due: the caller then verifies the usual way)."""
        if not self._size:
            return None
        with self._lock:
            self._drop_if_keys_changed()
            entry = self._entries.get(token)
        if entry is None:
            return None
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
            self._drop_if_keys_changed()
            self._entries[token] = entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _drop_if_keys_changed(self) -> None:
        generation = self._keys.generation
        if generation != self._generation:
            self._entries.clear()
            self._generation = generation
