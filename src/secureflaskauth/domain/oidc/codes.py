"""Authorization codes (RFC 6749 4.1.2): random, stored as a hash, valid for a minute,
bound to the client and redirect URI, exchanged once. A code that comes back after its
exchange ends the session of the tokens it gave (RFC 6749 4.1.2; RFC 9700 4.5)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence

from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.models import AuthorizationCode
from secureflaskauth.domain.ports import Clock, CodeStore
from secureflaskauth.domain.sessions import Sessions, TokenPair

CODE_TTL_SECONDS = 60
# Used codes are kept this long after they expire, so that their reuse is still seen.
KEEP_USED_SECONDS = 86400
_MAX_CODE = 128


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


class AuthorizationCodes:
    def __init__(self, store: CodeStore, sessions: Sessions, audit: Audit, clock: Clock) -> None:
        self.store = store
        self._sessions = sessions
        self._audit = audit
        self._clock = clock

    def issue(
        self,
        *,
        client_id: str,
        user_id: str,
        redirect_uri: str,
        scope: str,
        nonce: str | None,
        code_challenge: str,
        auth_time: float,
        amr: Sequence[str],
    ) -> str:
        """A new code; the codes long expired are deleted as it goes."""
        now = self._clock.now()
        code = secrets.token_urlsafe(32)  # 256 bits
        self.store.add(
            AuthorizationCode(
                code_hash=_hash(code),
                client_id=client_id,
                user_id=user_id,
                redirect_uri=redirect_uri,
                scope=scope,
                nonce=nonce,
                code_challenge=code_challenge,
                auth_time=auth_time,
                amr=tuple(amr),
                created_at=now,
                expires_at=now + CODE_TTL_SECONDS,
            )
        )
        self.store.purge(expired_before=now - KEEP_USED_SECONDS)
        return code

    def nonce_used(self, client_id: str, nonce: str) -> bool:
        """Whether the client sent this nonce before (kept as long as its codes are)."""
        return self.store.nonce_used(client_id, nonce)

    def find(self, code: str, client_id: str) -> AuthorizationCode | None:
        """The unexpired, unused code issued to ``client_id``; None otherwise. A used code
        presented again by its client ends the session of its tokens."""
        if not code or len(code) > _MAX_CODE:
            return None
        found = self.store.get(_hash(code))
        if found is None or found.client_id != client_id:
            return None
        if found.used_at is not None:
            self._reused(found)
            return None
        return found if found.expires_at > self._clock.now() else None

    def exchange(
        self, code: AuthorizationCode, start: Callable[[], TokenPair | None]
    ) -> TokenPair | None:
        """Claim the code and ``start`` the session of its tokens; None when another
        request claimed it first (then the tokens of both are refused) or the account
        is gone."""
        if not self.store.claim(code.code_hash, now=self._clock.now()):
            self._reused(code)
            return None
        pair = start()
        if pair is None:
            return None
        if self.store.bind(code.code_hash, pair.session_id):
            # The code came back between the claim and now: whichever of the two
            # requests sees the other ends the session (Dekker's handshake on the row).
            self._end(pair.session_id, code)
            return None
        return pair

    def _reused(self, code: AuthorizationCode) -> None:
        session_id = self.store.flag_reuse(code.code_hash, now=self._clock.now())
        self._audit.emit(
            "oidc_code_reused",
            "failure",
            user_id=code.user_id,
            detail={"client_id": code.client_id, "sid": session_id},
        )
        if session_id is not None:
            self._end(session_id, code)

    def _end(self, session_id: str, code: AuthorizationCode) -> None:
        session = self._sessions.store.get(session_id)
        if session is not None:
            self._sessions.end(session, reason="authorization code reuse")
