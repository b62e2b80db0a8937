"""The signing keys in memory, shared by the request threads of a process."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import TypedDict

from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.domain.models import SigningKeyRecord
from secureflaskauth.domain.ports import MEMORY_MARGIN_SECONDS
from secureflaskauth.domain.readahead import AHEAD_SECONDS, ReadAhead
from secureflaskauth.domain.tokens.keys import (
    RSA_ALGORITHM,
    Jwk,
    SigningKey,
    key_state,
    load_key,
)

KEYRING_REFRESH_SECONDS = 10.0
# An unknown kid reloads the keys at most this often: a key another process has just
# added is found at once, and forged kids cost at most one query per interval.
UNKNOWN_KID_RELOAD_SECONDS = 0.1


class Jwks(TypedDict):
    """A JWK Set (RFC 7517 5)."""

    keys: list[Jwk]


class KeyRing:
    """The signing keys, reloaded from the store at most every ``refresh_seconds``, so
    a key added by another process is picked up without a restart.

    The newest key that is not being retired signs; every key not yet retired verifies
    and is published in the JWKS. RSA keys sign only what asks for RS256 (the ID tokens
    of the clients registered for it): the service's own algorithm is the newest
    other key's.
    """

    def __init__(
        self,
        load: Callable[[], Sequence[SigningKeyRecord]],
        clock: Callable[[], float],
        refresh_seconds: float = KEYRING_REFRESH_SECONDS,
        passphrase: str | None = None,
    ) -> None:
        self._load = load
        self._clock = clock
        self._passphrase = passphrase.encode("utf-8") if passphrase else None
        self._refresh = refresh_seconds
        self._lock = threading.Lock()  # the key set's updates
        self._reloading = threading.Lock()  # one reload at a time
        self._keys: dict[str, SigningKey] = {}
        self._active: dict[str, SigningKey] = {}
        self._loaded_at = float("-inf")
        # Reloads begun, and the number of the last one that stored its keys: a caller
        # that found a reload due need not read the store when one that began after
        # that has stored what it read (not when it failed: the caller then reads).
        self._begun = 0
        self._stored = 0
        # Counts the reloads that dropped a key: what was verified with it must not
        # be taken as verified any more (tokens/cache.py).
        self.generation = 0
        # The reload, started by the checks on the event loop before it falls due.
        self._ahead = ReadAhead("keyring-read-ahead", self._reload_ahead)
        self.reload()

    def reload(self, *, unless_after: int | None = None) -> None:
        """Read the keys from the store; with ``unless_after`` (the count of reloads
        begun that the caller saw), not when one that began since has stored its keys:
        it read the store after the caller found a reload due. So requests that find
        the same reload due together (forged kids, say) make one read, not one each;
        when that read fails, each reads in turn (and fails closed) as before."""
        # One reload at a time, each reading the store after the one before it stored
        # its keys: a slow one (the read ahead's, say) that finished last would put
        # back an older key set over a newer one.
        with self._reloading:
            if unless_after is not None and self._stored > unless_after:
                return
            self._begun += 1
            mine = self._begun
            now = self._clock()
            keys = {
                record.kid: load_key(record, self._passphrase)
                for record in self._load()
                if key_state(record, now) != "retired"
            }
            active: dict[str, SigningKey] = {}
            for key in sorted(keys.values(), key=lambda k: k.record.created_at):
                if key_state(key.record, now) == "current":
                    active[_family(key.alg)] = key  # the newest of each family
            with self._lock:
                if self._keys.keys() - keys.keys():
                    self.generation += 1
                self._keys = keys
                self._active = active
                self._loaded_at = now
                self._stored = mine

    def _reload_due(self, at: float) -> bool:
        # A clock set back (``at`` before the last load) must not hold off the next
        # reload until it has caught up: keys removed meanwhile would go on verifying.
        return not 0 <= at - self._loaded_at < self._refresh

    def _maybe_reload(self) -> None:
        seen = self._begun
        if self._reload_due(self._clock()):
            self.reload(unless_after=seen)

    def _verifying(self, key: SigningKey | None, now: float) -> SigningKey | None:
        """``key`` if there is one and it may verify tokens at ``now`` (not retired)."""
        if key is None or key_state(key.record, now) == "retired":
            return None
        return key

    def held(self, kid: str) -> SigningKey | None:
        """``public`` from memory alone: None when a reload is due (or falls due within
        MEMORY_MARGIN_SECONDS) or the key is unknown, as well as when it is retired.
        Never reads the store; a reload due within AHEAD_SECONDS is started in a thread
        (domain/readahead.py)."""
        now = self._clock()
        if now < self._loaded_at or self._reload_due(now + MEMORY_MARGIN_SECONDS):
            return None
        if self._reload_due(now + AHEAD_SECONDS):
            self._ahead.start()
        return self._verifying(self._keys.get(kid), now)

    def _reload_ahead(self) -> None:
        seen = self._begun
        if self._reload_due(self._clock() + AHEAD_SECONDS):  # no other thread did it
            self.reload(unless_after=seen)

    def active(self, algorithm: str | None = None) -> SigningKey:
        """The key that signs now: in the service's algorithm, or in ``algorithm`` (RS256
        for the ID tokens of the clients registered for it)."""
        self._maybe_reload()
        key = self._active.get(_family(algorithm or ""))
        if key is None or (algorithm is not None and key.alg != algorithm):
            raise ConfigurationError(
                f"no {algorithm or 'signing'} key: run 'secureflaskauth keys rotate'"
            )
        return key

    def public(self, kid: str) -> SigningKey | None:
        """The key named ``kid`` if it may verify tokens now."""
        self._maybe_reload()
        seen = self._begun
        key = self._keys.get(kid)
        if key is None and not 0 <= self._clock() - self._loaded_at < UNKNOWN_KID_RELOAD_SECONDS:
            # Another process may sign with a key added since the last reload: a token
            # from another node must not be refused until this one reloads too.
            self.reload(unless_after=seen)
            key = self._keys.get(kid)
        return self._verifying(key, self._clock())

    def jwks(self) -> Jwks:
        """The published key set (RFC 7517), public members only, as stored."""
        self._maybe_reload()
        keys: list[Jwk] = [json.loads(k.record.public_jwk) for k in self._keys.values()]
        return {"keys": keys}


def _family(algorithm: str) -> str:
    """The service's keys ("") or the RSA keys: each family has its own active key."""
    return RSA_ALGORITHM if algorithm == RSA_ALGORITHM else ""
