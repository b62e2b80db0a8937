"""What the domain needs from the outside world, as small Protocols.

Adapters in ``secureflaskauth.adapters`` implement them. The domain does no I/O of
its own: it imports no web framework, database, cache or HTTP client, and reaches
stores, SMS providers and the clock only through these ports. It does use libraries
that compute what a standard defines, the same answer for the same input: PyJWT and
cryptography (JOSE, RFC 8725; keys and sealing), argon2-cffi and bcrypt (password
hashes), phonenumbers (numbering plans), precis-i18n and confusable-homoglyphs
(RFC 8265 and UTS #39 for usernames), pyotp (RFC 6238), webauthn (WebAuthn Level 3).
Writing those by hand would be worse.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from secureflaskauth.domain.directory import (
    ListedSession,
    ListedUser,
    Page,
    SessionQuery,
    UserQuery,
)
from secureflaskauth.domain.models import (
    SIGN_IN,
    AuditEvent,
    AuthorizationCode,
    Challenge,
    EndedSessions,
    Factor,
    HeldReset,
    OAuthClient,
    OtpClaim,
    Purged,
    RefreshRecord,
    Revocation,
    SentMessage,
    Session,
    SigningKeyRecord,
    User,
)


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class UserStore(Protocol):
    """Where a method below ends "every active session" of a user, that is every session
    that may still hold an access token accepted at ``now`` (Session.may_hold_live_tokens:
    the active ones, and those ended by their lifetime or inactivity so recently that a
    token of theirs is still good), each revoked until ``until``."""

    def add(self, user: User) -> None:
        """Insert a user; raise UsernameTaken if the canonical username exists."""
        ...

    def by_canonical_username(self, canonical: str) -> User | None: ...

    def by_id(self, user_id: str) -> User | None: ...

    def set_password_hash(self, user_id: str, password_hash: str) -> None: ...

    def change_password(
        self,
        user_id: str,
        *,
        old_hash: str,
        new_hash: str,
        keep_session: str | None,
        now: float,
        until: float,
    ) -> EndedSessions | None:
        """In one transaction: replace the password hash if it is still ``old_hash``,
        end every active session of the user but ``keep_session`` (None: all of them)
        and record their revocations (refused until ``until``); None when the hash had
        changed meanwhile (or there is no such user), and then nothing is changed."""
        ...

    def claim_otp_attempt(
        self, user_id: str, *, now: float, threshold: int, lock_seconds: float, lock: str = SIGN_IN
    ) -> OtpClaim:
        """Atomically take one code try for the account before the code is compared,
        from its code lock ``lock`` (SIGN_IN, or RESET: the password reset's, counted
        apart): refused while that lock is in force; otherwise counted as a wrong code
        at once (a right code resets the count), locking when ``threshold`` is reached."""
        ...

    def reset_otp_failures(self, user_id: str, locks: Sequence[str] = (SIGN_IN,)) -> None:
        """Clear the count and the lock of each of the account's code ``locks``."""
        ...

    def mark_phone_verified(self, user_id: str, *, now: float, max_accounts: int = 0) -> bool:
        """Record the account's number as verified (if it was not); True if it was not.
        Raises PhoneNumberUnavailable, changing nothing, when ``max_accounts`` other
        verified accounts hold the number already (0: no limit); two accounts verified
        at once are counted one after the other."""
        ...

    def change_phone(
        self,
        user_id: str,
        *,
        old_phone: str,
        new_phone: str,
        changed_by: float,
        max_accounts: int,
        keep_session: str | None,
        now: float,
        until: float,
    ) -> EndedSessions | None:
        """In one transaction: if the user's number is still ``old_phone`` and was last
        replaced at or before ``changed_by`` (or never), make ``new_phone`` the user's
        number, verified and replaced at ``now``; end every active session of the user
        but ``keep_session`` (None: all) and record their revocations (refused until
        ``until``). None when the number or its replacement time moved meanwhile (or
        there is no such user). Raises PhoneNumberUnavailable, changing nothing, as
        ``mark_phone_verified`` does."""
        ...

    def phone_holders(self, e164: str, *, besides: str) -> int:
        """How many verified accounts other than ``besides`` hold the number."""
        ...

    def delete_pending(self, *, created_by: float, limit: int) -> int:
        """Delete up to ``limit`` accounts created at or before ``created_by`` that never
        verified their number; return how many."""
        ...

    def by_phone(self, e164: str) -> list[User]:
        """The accounts that hold the number (verified or not), oldest first."""
        ...

    def set_disabled(self, user_id: str, disabled: bool) -> bool:
        """True if the user exists. Disabling goes through ``disable``."""
        ...

    def disable(self, user_id: str, *, now: float, until: float) -> EndedSessions | None:
        """In one transaction: refuse the user's sign-in, end every active session and
        record its revocation (refused until ``until``); None when there is no such user."""
        ...

    def require_password_reset(
        self, user_id: str, *, now: float, until: float
    ) -> EndedSessions | None:
        """In one transaction: mark the user's password as no longer signing in (until
        ``change_password`` sets a new one), drop a held reset, end every active session
        and record its revocation; None when there is no such user."""
        ...

    def delete(self, user_id: str, *, now: float, until: float) -> EndedSessions | None:
        """In one transaction: end every active session and record its revocation, then
        delete the user with their challenges and sessions; None when there was no such
        user."""
        ...


class RecoveryCodeStore(Protocol):
    """An account's recovery codes, as keyed hashes."""

    def replace(self, user_id: str, code_hashes: Sequence[str], *, now: float) -> int:
        """In one transaction: forget every code of the user and store these (none to
        revoke them all); return how many unused codes were dropped."""
        ...

    def unused(self, user_id: str) -> list[str]:
        """The hashes of the user's codes not used yet."""
        ...

    def remaining(self, user_id: str) -> int:
        """How many of the user's codes are not used yet."""
        ...

    def issued(self, user_id: str) -> tuple[float, float | None]:
        """When the user's codes were stored, and the last time one was used (None if
        none was); (0, None) when the user has none."""
        ...

    def use(self, user_id: str, code_hash: str, *, now: float) -> bool:
        """Atomically mark the code used if it is the user's and unused; True exactly
        once, however many requests present it at the same moment."""
        ...


class FactorStore(Protocol):
    """Second factors (models.Factor), active and pending, in the database."""

    def add(self, factor: Factor) -> None:
        """Store a pending factor, dropping the user's earlier pending factors of its type."""
        ...

    def get(self, factor_id: str) -> Factor | None: ...

    def for_user(self, user_id: str) -> list[Factor]:
        """The user's factors, active and pending, oldest first."""
        ...

    def activate(
        self, factor_id: str, *, user_id: str, created_after: float, counter: int, now: float
    ) -> bool:
        """In one transaction: confirm the user's factor if it is pending and was created
        after ``created_after``, record ``counter`` as its last use, and delete the
        user's other active factors of its type (a new one replaces the old). True for
        exactly one request."""
        ...

    def advance(self, factor_id: str, *, counter: int, now: float) -> bool:
        """Atomically record a use at ``counter`` if the factor is active and ``counter``
        is above the last one recorded; True for exactly one request per value, however
        many present it at the same moment (the replay defence)."""
        ...

    def delete(self, factor_id: str, *, user_id: str) -> bool:
        """Delete the user's factor; False if the user has no such factor."""
        ...

    def add_active(self, factor: Factor) -> bool:
        """Store an active factor (a passkey, confirmed by its registration); False,
        and nothing stored, when another factor has its handle."""
        ...

    def by_handle(self, handle: str) -> Factor | None:
        """The factor with this unique handle (a passkey's credential id digest)."""
        ...

    def use_counted(self, factor_id: str, *, counter: int, data: str, now: float) -> bool:
        """Atomically record a use of an active factor whose authenticator counts its
        uses: only if ``counter`` is above the last one recorded, or both are 0 (an
        authenticator that does not count); store ``data`` with it. False otherwise
        (WebAuthn 6.1.1: a counter that does not grow may mean a cloned authenticator)."""
        ...


class HeldResetStore(Protocol):
    """Password resets waiting out their hold, at most one per user."""

    def hold(self, reset: HeldReset) -> None:
        """Store the reset, replacing any earlier one of the user."""
        ...

    def get(self, user_id: str) -> HeldReset | None: ...

    def cancel(self, user_id: str) -> bool:
        """Forget the user's held reset; True if there was one."""
        ...

    def complete(self, user_id: str, *, now: float, until: float) -> EndedSessions | None:
        """In one transaction, if the user's reset is due at ``now``: forget it and, if
        the password is still the one it replaces, set the new one, end every session
        and record their revocations (refused until ``until``). None when nothing took
        effect (no reset due, another request completed it, or the password changed
        since the reset was asked for, which drops it)."""
        ...


class ChallengeStore(Protocol):
    def create(self, challenge: Challenge) -> None:
        """Store a new challenge and end every other open challenge of the same user."""
        ...

    def get(self, challenge_id: str) -> Challenge | None: ...

    def reserve_attempt(
        self, challenge_id: str, *, now: float, max_attempts: int
    ) -> Challenge | None:
        """Atomically take one try from a live challenge; None if it is not live.

        Taking the try before the code is compared bounds the guesses evaluated
        under concurrency to ``max_attempts`` (ASVS 6.6.3).
        """
        ...

    def consume(self, challenge_id: str, *, code_hash: str, now: float) -> bool:
        """Mark the challenge used if it is unused and still has this code; True exactly once."""
        ...

    def replace_code(
        self,
        challenge_id: str,
        *,
        code_hash: str,
        now: float,
        expires_at: float,
        cooldown: float,
        max_resends: int,
        max_attempts: int,
    ) -> Challenge | None:
        """Atomically swap in a new code if the challenge is live, out of cooldown and
        under its resend cap; None otherwise."""
        ...

    def kill(self, challenge_id: str) -> None: ...

    def kill_all_for_user(self, user_id: str) -> None: ...


class Counters(Protocol):
    """Events counted per key in fixed windows, shared by every process and node. The
    arithmetic of rates is the domain's (ratelimit.RateMeter): a store only counts."""

    def add(self, key: str, *, window: float, expires_at: float) -> int:
        """Atomically count one event for ``key`` in the window that starts at
        ``window`` (a count kept for an earlier window starts again from 1); return
        the count. The count may be forgotten after ``expires_at``."""
        ...

    def count(self, key: str, *, window: float) -> int:
        """The count of ``key`` in the window that starts at ``window`` (0 if none)."""
        ...

    def latest(self, key: str) -> tuple[float, int] | None:
        """The start of ``key``'s current window and its count there; None if none."""
        ...


class SmsSender(Protocol):
    def send(self, to_e164: str, body: str) -> None:
        """Hand one message to the provider; raise SmsProviderError on failure."""
        ...


class Outbox(Protocol):
    def recent(self, limit: int = 50) -> list[SentMessage]:
        """Messages sent through the development outbox, newest first."""
        ...


class KeyStore(Protocol):
    def all(self) -> list[SigningKeyRecord]:
        """Every stored signing key, oldest first."""
        ...

    def add(self, key: SigningKeyRecord) -> None: ...

    def retire(self, kid: str, *, at: float) -> None:
        """Schedule the key's retirement: after ``at`` it is neither used nor published."""
        ...


class SessionStore(Protocol):
    def create(self, session: Session, refresh_hash: str) -> bool:
        """Store a new session with its first refresh token, unless its account has been
        disabled or deleted (then nothing is stored: False). A disable or delete that
        commits at the same moment either comes first and is seen here, or comes after
        and ends this session too."""
        ...

    def get(self, session_id: str) -> Session | None: ...

    def for_user(self, user_id: str) -> list[Session]:
        """The user's sessions, newest first (active and ended)."""
        ...

    def touch(self, session_id: str, now: float) -> None: ...

    def purge_ended(self, *, ended_before: float, limit: int, row_limit: int) -> Purged:
        """Remove up to ``limit`` sessions that ended before ``ended_before`` (revoked,
        past their absolute lifetime, or idle past their timeout), with their refresh
        tokens and browser sign-ins, in one transaction of at most about ``row_limit``
        rows: when their refresh tokens are more, ``row_limit`` of those go now and the
        sessions at a later call; the counts are of rows removed. An active session is
        never removed. Where the store has row locks, callers at once remove different
        sessions (each skips those another holds) and never wait for one another
        transaction holds; elsewhere they take turns, and one may find gone what it
        chose."""
        ...

    def revoke(self, session_id: str, *, now: float, reason: str, until: float) -> bool:
        """End one session and record its revocation (refused until ``until``) in one
        transaction; True if it was active until now. Repeating it writes the
        revocation record again, so a half-propagated end can be retried."""
        ...

    def revoke_all_for_user(
        self, user_id: str, *, now: float, reason: str, until: float
    ) -> list[Session]:
        """End every session of the user that may still hold an access token accepted
        at ``now`` (Session.may_hold_live_tokens) and record each revocation in one
        transaction; return the sessions ended now."""
        ...

    def revocations_for_user(self, user_id: str, *, now: float) -> list[Revocation]:
        """The revocations of the user's sessions still in force at ``now``."""
        ...

    def get_refresh(self, token_hash: str) -> RefreshRecord | None: ...

    def for_client(self, client_id: str) -> list[Session]:
        """The sessions issued to an OpenID Connect client, ended ones too."""
        ...

    def rotate_refresh(
        self, old_hash: str, new_hash: str, *, session_id: str, now: float, successor: str
    ) -> bool:
        """Atomically mark ``old_hash`` rotated (if it was not) and store ``new_hash``;
        False if another request rotated it first."""
        ...


class ClientStore(Protocol):
    """The registered OpenID Connect clients."""

    def add(self, client: OAuthClient) -> None:
        """Insert a client; raise ClientExists when its id is taken."""
        ...

    def get(self, client_id: str) -> OAuthClient | None: ...

    def all(self) -> list[OAuthClient]:
        """Every client, oldest first."""
        ...

    def remove(self, client_id: str) -> bool:
        """Delete the client and its pending codes; False when there was none."""
        ...


class CodeStore(Protocol):
    """Authorization codes, by hash. Exchanging one is a claim that exactly one request
    wins, whatever the concurrency; a code that comes back after it is flagged, so the
    session its tokens belong to ends whichever request sees the other first."""

    def add(self, code: AuthorizationCode) -> None: ...

    def get(self, code_hash: str) -> AuthorizationCode | None: ...

    def nonce_used(self, client_id: str, nonce: str) -> bool:
        """Whether a code still kept was issued to the client with this nonce."""
        ...

    def claim(self, code_hash: str, *, now: float) -> bool:
        """Mark an unused, unexpired code used; True for the one request that did."""
        ...

    def bind(self, code_hash: str, session_id: str) -> bool:
        """Record the session of the claimed code's tokens; True when the code has come
        back meanwhile (flagged by ``flag_reuse``): that session must end."""
        ...

    def flag_reuse(self, code_hash: str, *, now: float) -> str | None:
        """Flag a used code presented again; the session of its tokens if bound yet."""
        ...

    def purge(self, *, expired_before: float) -> int:
        """Delete the codes that expired before then; how many."""
        ...


class UserDirectory(Protocol):
    """Accounts for administration, from indexes: never every row at once."""

    def page(
        self, query: UserQuery, *, after: str | None, limit: int, now: float
    ) -> Page[ListedUser]:
        """Up to ``limit`` accounts after the cursor ``after`` (None: from the first);
        raises InvalidCursor for a cursor no page of this order gave."""
        ...

    def every(self, query: UserQuery, *, after: str | None, now: float) -> Iterator[ListedUser]:
        """Every account after ``after``, read in batches: memory stays bounded."""
        ...

    def count(self, *, now: float) -> dict[str, int]:
        """The number of accounts in each of accountstate.STATES, and "total"."""
        ...


class SessionDirectory(Protocol):
    """Sessions for administration, newest first, from indexes."""

    def page(
        self, query: SessionQuery, *, after: str | None, limit: int, now: float
    ) -> Page[ListedSession]: ...

    def every(
        self, query: SessionQuery, *, after: str | None, now: float
    ) -> Iterator[ListedSession]: ...

    def count(self, *, now: float) -> dict[str, int]:
        """The number of sessions in each of directory.SESSION_STATES, and "total"."""
        ...


# How long before a read of the keys or of the revocations falls due the answers "from
# memory" (KeyRing.held, RevocationList.revoked_in_memory) already say they cannot
# tell: what they answer is used at once, never after a read that was due.
MEMORY_MARGIN_SECONDS = 0.1


class RevocationList(Protocol):
    """Session ids whose access tokens must be refused before they expire.

    The revocation record the SessionStore writes in the same transaction as the
    session change is the single source of truth; every list reads it at least every
    few seconds (SFA_REVOCATION_MAX_AGE_SECONDS), so a revocation is enforced
    everywhere even when a faster propagation step failed.
    """

    def publish(self, revocations: Sequence[Revocation]) -> None:
        """Make committed revocations known at once: to this process always, to the
        other processes and nodes as fast as the adapter can. Idempotent; never
        raises for a propagation failure (it is logged and retried)."""
        ...

    def is_revoked(self, session_id: str) -> bool: ...

    def revoked_in_memory(self, session_id: str) -> bool | None:
        """``is_revoked`` from this process's memory alone, without reading or writing a
        store or a file (a ``stat`` aside): None when memory cannot tell (a read is
        due, or every check asks a shared store). The server answers a request on its
        event loop only when it can (api/inline.py); None costs nothing but that."""
        ...


class AuditLog(Protocol):
    def record(self, event: AuditEvent) -> None: ...

    def tail(self, *, limit: int, user_id: str | None = None) -> list[AuditEvent]:
        """The newest events, newest last."""
        ...

    def forget(self, user_id: str, *, personal_detail: frozenset[str]) -> int:
        """Erase what identifies the person from the user's events (username, IP, user
        agent, and the ``personal_detail`` members of each detail); the user id, the
        events, their times and outcomes stay. Returns the events changed."""
        ...


# Consecutive failures (claimed attempts included), the time of the last one, and how
# many claimed attempts are still being checked.
FailureState = tuple[int, float, int]


class FailureStore(Protocol):
    """Consecutive sign-in failures per key (a canonical username)."""

    def get(self, key: str) -> FailureState | None:
        """The key's state, or None."""
        ...

    def swap(self, key: str, *, expected: FailureState | None, new: FailureState | None) -> bool:
        """Atomically replace the key's state with ``new`` (None: forget it) if it is
        still ``expected`` (None: no state); False if another request changed it first."""
        ...

    def record_failure(self, key: str, *, now: float, quiet_reset: float) -> int:
        """Atomically count one failure (starting again from 1 when the last one is
        older than ``quiet_reset`` seconds); return the new count."""
        ...

    def reset(self, key: str) -> None: ...


class BrowserSignInStore(Protocol):
    """The hosted pages' sign-ins: a browser cookie's keyed hash, bound to the session
    its sign-in created."""

    def add(self, token_hash: str, session_id: str, now: float) -> None: ...

    def session(self, token_hash: str) -> Session | None:
        """The session of the cookie with this hash (active or ended), or None."""
        ...

    def remove(self, token_hash: str) -> None: ...
