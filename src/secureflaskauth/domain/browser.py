"""Browser sign-ins: a person signed in through the hosted pages holds a cookie with an
opaque random value (256 bits from ``secrets``); only its keyed hash (HMAC-SHA256) is
stored, bound to the session the sign-in created. Whatever ends that session (sign-out,
logout-all, a password change or reset, an administrator's revocation, its lifetime or
idle timeout) signs the browser out too (ASVS 7.2.4, 7.4.1)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from secureflaskauth.domain.models import Client, Session
from secureflaskauth.domain.ports import BrowserSignInStore, Clock
from secureflaskauth.domain.sessions import Sessions

_MAX_TOKEN = 128
# A page seen counts as the session's use, written at most this often (the idle timeout
# is days: a minute more or less does not matter, a write per page view would).
TOUCH_EVERY_SECONDS = 60.0


class BrowserSignIns:
    def __init__(
        self, *, store: BrowserSignInStore, sessions: Sessions, key: bytes, clock: Clock
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.clock = clock
        self._key = key

    def _hash(self, token: str) -> str:
        return hmac.new(self._key, token.encode("utf-8"), hashlib.sha256).hexdigest()

    def start(self, session_id: str) -> str:
        """Bind a new cookie value to the session a completed sign-in created; return
        the value (given to the browser only)."""
        token = secrets.token_urlsafe(32)
        self.store.add(self._hash(token), session_id, self.clock.now())
        return token

    def find(self, token: str) -> Session | None:
        """The active session of a cookie value; None when unknown, ended or idle."""
        if not token or len(token) > _MAX_TOKEN or not token.isascii():
            return None
        session = self.store.session(self._hash(token))
        now = self.clock.now()
        if session is None or not session.is_active(now):
            return None
        if now - session.last_used_at >= TOUCH_EVERY_SECONDS:
            self.sessions.store.touch(session.id, now)
        return session

    def end(self, token: str, client: Client) -> None:
        """Sign the browser out: its session ends (and every token it issued)."""
        if not token or len(token) > _MAX_TOKEN or not token.isascii():
            return
        token_hash = self._hash(token)
        session = self.store.session(token_hash)
        self.store.remove(token_hash)
        if session is not None:
            self.sessions.logout(session.user_id, session.id, client)
