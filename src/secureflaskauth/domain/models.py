"""Plain records the domain passes to and from its ports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Client:
    """Who is calling: the client IP (from the trusted proxy hop) and user agent."""

    ip: str
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    username_canonical: str
    password_hash: str
    phone_e164: str
    created_at: float
    disabled: bool = False
    # Consecutive wrong codes of sign-ins (and step-ups, phone changes) and the lock
    # they reached; those of password resets are counted apart (``reset_*``), so that
    # a stranger who asks for resets cannot lock the owner's sign-in (codetries.py).
    otp_failures: int = 0
    otp_locked_until: float | None = None
    # When a code sent to the number for this account was first verified; None while
    # the account is pending (CONTRACT: Account lifecycle).
    phone_verified_at: float | None = None
    # usernames.skeleton of the name: unique, so look-alike names collide
    username_skeleton: str | None = None
    # An operator required a new password (`users reset-password`): the current one
    # no longer signs in; a reset with a code clears it.
    password_reset_required: bool = False
    # When the number was last replaced (phonechange.py); None if it never was
    phone_changed_at: float | None = None
    reset_failures: int = 0
    reset_locked_until: float | None = None

    @property
    def phone_verified(self) -> bool:
        return self.phone_verified_at is not None

    def locked_until(self, lock: str, now: float) -> float | None:
        """When the code lock ``lock`` (SIGN_IN or RESET) ends, if it is in force at ``now``."""
        until = self.reset_locked_until if lock == RESET else self.otp_locked_until
        return until if until is not None and until > now else None


@dataclass(frozen=True, slots=True)
class OtpClaim:
    """One code try taken for an account: ``allowed`` is False while the code lock it
    was taken from is in force (until ``locked_until``); ``failures`` counts this try;
    ``locked_until`` is set when this try reached the lock."""

    allowed: bool
    failures: int
    locked_until: float | None


SIGN_IN = "sign-in"  # the purpose of a challenge that completes a sign-in
RESET = "reset"  # the purpose of a challenge that completes a password reset


def code_lock(purpose: str) -> str:
    """The account's code lock a challenge's wrong codes count toward: a reset's its
    own (RESET), every other kind the sign-in's (SIGN_IN)."""
    return RESET if purpose == RESET else SIGN_IN


@dataclass(frozen=True, slots=True)
class Challenge:
    """A pending second factor: one login transaction waiting for its SMS code.

    ``id`` is a hash of the session_id handed to the client, so a database dump
    does not reveal live session ids; ``code_hash`` is a keyed hash of the code.
    """

    id: str
    user_id: str
    code_hash: str
    created_at: float
    expires_at: float
    last_sent_at: float
    attempts: int = 0
    resends: int = 0
    used_at: float | None = None
    # What a right code completes: a sign-in, a password reset or a phone change (a
    # code of one kind never completes another).
    purpose: str = SIGN_IN
    # Where the code goes when not to the account's number: the new number of a phone
    # change, which becomes the account's only once this code is verified.
    send_to: str | None = None

    def is_alive(self, now: float, max_attempts: int) -> bool:
        return self.used_at is None and self.expires_at > now and self.attempts < max_attempts


@dataclass(frozen=True, slots=True)
class Factor:
    """A second factor of an account beside its phone: an authenticator app ("totp"),
    later a passkey ("webauthn"). Pending until its first use confirms it
    (``confirmed_at``). What only one type needs sits in the last fields: ``secret``
    sealed (factors/sealing.py), ``data`` as JSON, ``counter`` a number each use
    advances (the last TOTP time step), ``handle`` a unique key to find it by."""

    id: str
    user_id: str
    type: str
    label: str
    created_at: float
    confirmed_at: float | None = None
    last_used_at: float | None = None
    secret: str | None = None
    data: str | None = None
    counter: int | None = None
    handle: str | None = None

    @property
    def active(self) -> bool:
        return self.confirmed_at is not None


@dataclass(frozen=True, slots=True)
class HeldReset:
    """A password reset waiting out its hold (SFA_RESET_WITH_SMS_ONLY=delayed): it takes
    effect at ``effective_at`` if the password is still ``old_hash`` then."""

    user_id: str
    password_hash: str
    old_hash: str
    requested_at: float
    effective_at: float


@dataclass(frozen=True, slots=True)
class SigningKeyRecord:
    """A signing key as stored: PEM private key and its public JWK (JSON text)."""

    kid: str
    alg: str
    private_pem: str
    public_jwk: str
    created_at: float
    retired_at: float | None = None


@dataclass(frozen=True, slots=True)
class SentMessage:
    to: str
    body: str
    sent_at: float


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in session: created at OTP verification, ended by logout, revocation,
    its absolute lifetime or inactivity."""

    id: str
    user_id: str
    created_at: float
    last_used_at: float
    expires_at: float
    idle_timeout: float
    ip: str
    user_agent: str
    amr: tuple[str, ...]
    revoked_at: float | None = None
    revoked_reason: str | None = None
    # The OpenID Connect client its tokens were issued to and the scopes granted; None
    # for the API's own sign-ins.
    client_id: str | None = None
    scope: str | None = None

    def is_active(self, now: float) -> bool:
        return (
            self.revoked_at is None
            and self.expires_at > now
            and self.last_used_at + self.idle_timeout > now
        )

    def may_hold_live_tokens(self, now: float, until: float) -> bool:
        """Whether an access token of this session may still be accepted at ``now``
        (so ending it must revoke it): not ended yet, or ended by its lifetime or
        inactivity after ``live_tokens_bound(now, until)``."""
        bound = live_tokens_bound(now, until)
        return (
            self.revoked_at is None
            and self.expires_at > bound
            and self.last_used_at + self.idle_timeout > bound
        )


# A token may be issued a moment after the check that found its session active (the
# check and the issue each read the clock): a session whose end is up to this much
# older than the bound below still counts as holding live tokens.
ISSUE_SLACK_SECONDS = 60.0


def live_tokens_bound(now: float, until: float) -> float:
    """The end before which a session can hold no access token still accepted at
    ``now``. Tokens are issued only while their session is active and outlive its end
    by at most ``until - now``: the access-token lifetime and the clock leeway, what a
    revocation made at ``now`` lasts (Sessions.revoked_until). Ending such a session
    again would revoke nothing and only restart its retention."""
    return now - (until - now) - ISSUE_SLACK_SECONDS


@dataclass(frozen=True, slots=True)
class Revocation:
    """A session whose access tokens are refused until ``until`` (when the last token
    it could have issued has expired, leeway included)."""

    session_id: str
    until: float


@dataclass(frozen=True, slots=True)
class EndedSessions:
    """What ending a user's sessions did: how many were active until then, and every
    revocation of the user in force after it (earlier ones too, to propagate again)."""

    ended: int
    in_force: tuple[Revocation, ...]


@dataclass(frozen=True, slots=True)
class Purged:
    """What one removal of ended sessions removed: sessions, and refresh tokens of
    sessions not yet removed (a session refreshed for months has thousands, removed a
    bounded number at a time before the session itself goes)."""

    sessions: int = 0
    refresh_tokens: int = 0

    def __bool__(self) -> bool:
        return bool(self.sessions or self.refresh_tokens)


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    """A refresh token as stored: its hash, its session and, once rotated, when and
    the successor pair sealed under a key only the old token's holder can derive."""

    token_hash: str
    session_id: str
    created_at: float
    rotated_at: float | None = None
    successor: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: float
    event: str
    outcome: str
    user_id: str | None = None
    username: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """An OpenID Connect client (relying party) as registered: ``secret_hash`` is None
    for a public client; ``id_token_alg`` None for the service's own algorithm."""

    client_id: str
    name: str
    secret_hash: str | None
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    id_token_alg: str | None
    created_at: float

    @property
    def public(self) -> bool:
        return self.secret_hash is None


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    """An authorization code (RFC 6749 4.1.2) as stored, by the hash of the code: what
    it was issued for, and once exchanged (``used_at``) the session of its tokens."""

    code_hash: str
    client_id: str
    user_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    auth_time: float
    amr: tuple[str, ...]
    created_at: float
    expires_at: float
    used_at: float | None = None
    session_id: str | None = None
