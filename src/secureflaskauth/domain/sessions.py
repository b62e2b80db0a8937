"""Sessions after sign-in: refresh-token rotation with reuse detection, logout,
listing and revocation (OAuth 2.0 Security BCP, RFC 9700 4.14; ASVS 7)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.errors import DomainError, InvalidToken, StoreUnavailable
from secureflaskauth.domain.models import Client, Purged, Revocation, Session
from secureflaskauth.domain.ports import Clock, RevocationList, SessionStore
from secureflaskauth.domain.text import printable
from secureflaskauth.domain.tokens import (
    LEEWAY_SECONDS,
    MAX_TTL_SECONDS,
    AccessClaims,
    AccessTokens,
    IssuedToken,
)

log = logging.getLogger(__name__)
_MAX_REFRESH_TOKEN = 128
# Ended sessions removed at each sign-in, at most: more than the one session a
# sign-in adds, so the table stays as large as the sessions of the retention
# period, with bounded work on the request path (``maintenance`` removes them all):
# at most PURGE_ROWS of their refresh tokens in the same transaction.
PURGE_BATCH = 20
PURGE_ROWS = 1000


@dataclass(frozen=True)
class SessionPolicy:
    """The values, their defaults and bounds are the settings' (SessionSettings)."""

    lifetime_seconds: int
    idle_seconds: int
    refresh_grace_seconds: int
    retention_seconds: int  # an ended session is removed this long after it ended


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    session_id: str


class InvalidRefreshToken(DomainError):
    status = 401
    slug = "invalid-refresh-token"
    title = "Invalid refresh token"

    def __init__(self) -> None:
        super().__init__("The refresh token is invalid, expired or revoked. Please sign in again.")


class SessionNotFound(DomainError):
    status = 404
    slug = "session-not-found"
    title = "Session not found"

    def __init__(self) -> None:
        super().__init__("No active session with that id belongs to you.")


def _session_id() -> str:
    """128 random bits, URL-safe, never starting with "-" (a command line would read
    such an id as an option)."""
    while (session_id := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return session_id


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _sealing_key(old_token: str) -> AESGCM:
    """A key only the holder of the old refresh token can derive: the successor pair
    kept for the grace window is useless to anyone reading the database."""
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"secureflaskauth refresh grace"
    ).derive(old_token.encode("utf-8"))
    return AESGCM(key)


def _seal(old_token: str, pair: TokenPair) -> str:
    nonce = secrets.token_bytes(12)
    plain = json.dumps(
        [pair.access_token, pair.expires_in, pair.refresh_token, pair.session_id]
    ).encode()
    return base64.b64encode(nonce + _sealing_key(old_token).encrypt(nonce, plain, None)).decode()


def _unseal(old_token: str, sealed: str) -> TokenPair | None:
    raw = base64.b64decode(sealed)
    try:
        plain = _sealing_key(old_token).decrypt(raw[:12], raw[12:], None)
    except InvalidTag:
        return None
    access, expires_in, refresh, sid = json.loads(plain)
    return TokenPair(access, int(expires_in), refresh, sid)


class Sessions:
    def __init__(
        self,
        *,
        store: SessionStore,
        revocations: RevocationList,
        tokens: AccessTokens,
        clock: Clock,
        policy: SessionPolicy,
        audit: Audit,
    ) -> None:
        self.store = store
        self.revocations = revocations
        self.tokens = tokens
        self.clock = clock
        self.policy = policy
        self.audit = audit

    def start(
        self,
        user_id: str,
        *,
        ip: str,
        user_agent: str,
        amr: tuple[str, ...],
        client_id: str | None = None,
        scope: str | None = None,
    ) -> TokenPair | None:
        """Create a session and its first token pair (at OTP verification, or for an
        OpenID Connect ``client_id`` at its code exchange); None when the account was
        disabled or deleted meanwhile."""
        now = self.clock.now()
        session = Session(
            id=_session_id(),
            user_id=user_id,
            created_at=now,
            last_used_at=now,
            expires_at=now + self.policy.lifetime_seconds,
            idle_timeout=self.policy.idle_seconds,
            ip=printable(ip, 64),
            user_agent=printable(user_agent, 256),
            amr=amr,
            client_id=client_id,
            scope=scope,
        )
        refresh = secrets.token_urlsafe(32)  # 256 bits
        if not self.store.create(session, _hash(refresh)):
            return None
        access = self._access(session)
        return TokenPair(access.token, access.expires_in, refresh, session.id)

    def purge_ended(self, limit: int = PURGE_BATCH, row_limit: int = PURGE_ROWS) -> Purged:
        """Remove up to ``limit`` sessions that ended (logged out, revoked, expired or
        idle) more than SFA_SESSION_RETENTION_SECONDS ago, their refresh tokens and
        browser sign-ins with them, in one transaction of about ``row_limit`` rows at
        most (SessionStore.purge_ended); nothing when the retention is 0 (kept for
        ever). Their tokens expired long before (an access token lives minutes; a
        revocation is kept until then, apart from the session), so nothing about who
        may sign in changes: the administrators' listings and counts only stop showing
        them."""
        if not self.policy.retention_seconds:
            return Purged()
        cutoff = self.clock.now() - self.policy.retention_seconds
        return self.store.purge_ended(ended_before=cutoff, limit=limit, row_limit=row_limit)

    def purge_some(self) -> None:
        """``purge_ended`` once, for a sign-in that has just succeeded (called when it
        is done with everything else): a store that fails here only leaves the removal
        to the next sign-in (or ``maintenance``), with a warning."""
        try:
            self.purge_ended()
        except StoreUnavailable as exc:
            log.warning("ended sessions not removed this time (%s)", exc.cause or exc.store)
        except Exception:  # a fault of its own must not fail the sign-in either
            log.exception("ended sessions not removed this time")

    def _access(self, session: Session) -> IssuedToken:
        return self.tokens.issue(
            subject=session.user_id,
            session_id=session.id,
            amr=session.amr,
            client_id=session.client_id,
            scope=session.scope,
        )

    def refresh(
        self, refresh_token: str, *, ip: str, user_agent: str, client_id: str | None = None
    ) -> TokenPair:
        """Rotate a refresh token. Repeats within the grace window get the same new
        pair; a rotated token presented later revokes the whole session.

        The token of a session issued to an OpenID Connect client is refreshed only by
        that client, authenticated at the token endpoint (RFC 6749 6), never here
        without it; the API's own (``client_id`` None) only at /auth/refresh."""
        if not refresh_token or len(refresh_token) > _MAX_REFRESH_TOKEN:
            raise InvalidRefreshToken()
        now = self.clock.now()
        record = self.store.get_refresh(_hash(refresh_token))
        session = self.store.get(record.session_id) if record else None
        if record is None or session is None or not session.is_active(now):
            raise InvalidRefreshToken()
        if session.client_id != client_id:
            raise InvalidRefreshToken()
        if record.rotated_at is not None:
            return self._repeat(
                refresh_token, record.rotated_at, record.successor, session, ip, user_agent
            )
        new_refresh = secrets.token_urlsafe(32)
        access = self._access(session)
        pair = TokenPair(access.token, access.expires_in, new_refresh, session.id)
        if not self.store.rotate_refresh(
            record.token_hash,
            _hash(new_refresh),
            session_id=session.id,
            now=now,
            successor=_seal(refresh_token, pair),
        ):
            # Another request rotated it a moment ago: answer with its pair.
            again = self.store.get_refresh(record.token_hash)
            if again is None or again.rotated_at is None:
                raise InvalidRefreshToken()
            return self._repeat(
                refresh_token, again.rotated_at, again.successor, session, ip, user_agent
            )
        self.store.touch(session.id, now)
        self.audit.emit(
            "token_refreshed",
            "success",
            user_id=session.user_id,
            ip=ip,
            user_agent=user_agent,
            detail={"sid": session.id},
        )
        return pair

    def of_refresh_token(self, refresh_token: str) -> Session | None:
        """The session a refresh token belongs to, whatever its state (no rotation)."""
        if not refresh_token or len(refresh_token) > _MAX_REFRESH_TOKEN:
            return None
        record = self.store.get_refresh(_hash(refresh_token))
        return self.store.get(record.session_id) if record else None

    def _repeat(
        self,
        token: str,
        rotated_at: float,
        sealed: str | None,
        session: Session,
        ip: str,
        user_agent: str,
    ) -> TokenPair:
        now = self.clock.now()
        if sealed is not None and now - rotated_at <= self.policy.refresh_grace_seconds:
            pair = _unseal(token, sealed)
            if pair is not None:
                return pair
        # RFC 9700 4.14.2: a rotated refresh token came back: assume theft, end the session.
        self.end(session, reason="refresh token reuse")
        self.audit.emit(
            "refresh_reuse_detected",
            "failure",
            user_id=session.user_id,
            ip=ip,
            user_agent=user_agent,
            detail={"sid": session.id},
        )
        raise InvalidRefreshToken()

    def revoked_until(self, now: float) -> float:
        """Until when the tokens of a session ended at ``now`` must be refused: its
        access tokens live at most the longest lifetime any setting gives them (+
        leeway) more. Not this process's own SFA_ACCESS_TOKEN_TTL_SECONDS: during a
        rolling restart that raises it, or after one that lowers it, other tokens of
        the session may have been issued with a longer one."""
        return now + MAX_TTL_SECONDS + LEEWAY_SECONDS

    def end(self, session: Session, *, reason: str) -> bool:
        """End the session; its tokens are refused from now on. The session change and
        its revocation are one transaction; the propagation after it is retried, and
        ending an ended session again repeats it."""
        now = self.clock.now()
        until = self.revoked_until(now)
        ended = self.store.revoke(session.id, now=now, reason=reason, until=until)
        self.revocations.publish([Revocation(session.id, until)])
        return ended

    def end_all(self, user_id: str, *, reason: str) -> int:
        """End every session of the user that may still hold a live access token
        (Session.may_hold_live_tokens); a repeat propagates the revocations of an
        earlier call again (so a retry repairs one whose propagation failed)."""
        now = self.clock.now()
        ended = self.store.revoke_all_for_user(
            user_id, now=now, reason=reason, until=self.revoked_until(now)
        )
        self.revocations.publish(self.store.revocations_for_user(user_id, now=now))
        return len(ended)

    def end_for_client(self, client_id: str, *, reason: str) -> int:
        """End every session issued to an OpenID Connect client (removed) that may still
        hold a live access token: the active ones, and those that ended by their
        lifetime or inactivity so recently that their last token is still good."""
        now = self.clock.now()
        until = self.revoked_until(now)
        live = [s for s in self.store.for_client(client_id) if s.may_hold_live_tokens(now, until)]
        return sum(self.end(session, reason=reason) for session in live)

    def authenticate(self, token: str) -> AccessClaims:
        """Verify an access token and check its session was not revoked. The revocation
        list answers from this process's copy of the database's revocations, reloaded
        every SFA_REVOCATION_MAX_AGE_SECONDS and, without Redis, when the var directory's
        marker file changes (one ``pread``); with Redis, a session that copy does not
        name costs one Redis lookup (and Redis is refilled from the database when it has
        lost them)."""
        claims = self.tokens.verify(token)
        if self.revocations.is_revoked(claims.sid):
            raise InvalidToken("session revoked")
        return claims

    def authenticated_in_memory(self, token: str) -> AccessClaims | None:
        """``authenticate`` from this process's memory alone: the claims of a token
        that verified before, whose session this process's copy of the revocations
        (current: no read due) does not name. None whenever memory cannot tell, or
        would refuse: the caller then authenticates the usual way, which answers the
        refusal. Reads no store, so it may run on the server's event loop
        (api/inline.py)."""
        claims = self.tokens.verified_in_memory(token)
        if claims is None or self.revocations.revoked_in_memory(claims.sid) is not False:
            return None
        return claims

    def active_for_user(self, user_id: str) -> list[Session]:
        now = self.clock.now()
        return [s for s in self.store.for_user(user_id) if s.is_active(now)]

    def logout(self, user_id: str, session_id: str, client: Client) -> None:
        """End the session of the token making the request."""
        session = self.store.get(session_id)
        if session is not None:
            self.end(session, reason="logout")
        self.audit.client_event(
            "logged_out", "success", client, user_id=user_id, detail={"sid": session_id}
        )

    def logout_all(self, user_id: str, client: Client) -> None:
        """End every session of the user."""
        ended = self.end_all(user_id, reason="logout-all")
        self.audit.client_event(
            "logged_out",
            "success",
            client,
            user_id=user_id,
            detail={"all": True, "sessions": ended},
        )

    def end_others(self, user_id: str, keep: str, client: Client) -> int:
        """End every session of the user but ``keep`` that may still hold a good access
        token (Session.may_hold_live_tokens: also one whose time ran out so recently
        that its last token is still good), each audited as ended by the user; the
        number of them that were active (those the person saw listed)."""
        now = self.clock.now()
        until = self.revoked_until(now)
        shown = 0
        for session in self.store.for_user(user_id):
            if session.id == keep or not session.may_hold_live_tokens(now, until):
                continue
            if not self.end(session, reason="ended by user"):
                continue  # ended meanwhile, by another request: that one tells of it
            shown += session.is_active(now)
            self.audit.client_event(
                "session_revoked",
                "success",
                client,
                user_id=user_id,
                detail={"sid": session.id, "by": "user"},
            )
        return shown

    def end_own(self, user_id: str, session_id: str, client: Client) -> None:
        """End one of the user's sessions: an active one, or one whose time ran out so
        recently that its last access token may still be good (Session.
        may_hold_live_tokens; it was listed a moment ago, and ending it must refuse
        that token). SessionNotFound (404) when it is not theirs, or is already ended
        and can hold no good token."""
        session = self.store.get(session_id) if len(session_id) <= 64 else None
        now = self.clock.now()
        if (
            session is None
            or session.user_id != user_id
            or not session.may_hold_live_tokens(now, self.revoked_until(now))
        ):
            raise SessionNotFound()
        if not self.end(session, reason="ended by user"):
            # Ended meanwhile by another request (which tells of it): as a repeat would
            # find, no such session. Its revocation was written again all the same.
            raise SessionNotFound()
        self.audit.client_event(
            "session_revoked",
            "success",
            client,
            user_id=user_id,
            detail={"sid": session_id, "by": "user"},
        )
