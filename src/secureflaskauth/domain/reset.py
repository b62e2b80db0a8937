"""A forgotten password: a code to the account's verified number, then a new password
(NIST SP 800-63B-4 4.2, account recovery; ASVS 6.4).

``/auth/password/forgot`` answers alike for every username, whether or not a code was
sent: one shape, and a floor under its duration so that the time an SMS takes does
not tell either. A code goes only to a number the account has verified, and only for
an account that may sign in. The reset's code completes a reset only, never a
sign-in. Its wrong guesses are throttled like a sign-in code's (the tries of the
reset, the requests per IP and per account) but count toward a lock of their own:
the account's wrong reset codes lock further resets, never sign-in, so that someone
who knows only a username cannot lock its owner out (codetries.py). A reset done
clears every failure count of the account.

With SFA_RESET_WITH_SMS_ONLY=off the SMS code alone is not enough: a stronger proof
is needed too, one of the account's recovery codes, its authenticator app's code or
its passkey (a SIM swap alone then resets nothing), and an account with none of them
cannot reset its password by itself. With ``delayed`` a reset by the SMS code alone
is held (heldresets.py); one with a stronger proof too takes effect at once.

An account with an authenticator app or a passkey always needs one of them (or a
recovery code) besides the SMS code, whatever the setting: the SMS alone never takes
over an account that has a stronger factor (resetproof.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from secureflaskauth.domain import otp, usernames
from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.codetries import expired_sign_in, wrong_code_answer
from secureflaskauth.domain.errors import (
    DomainError,
    SignInExpired,
    SmsDeliveryFailed,
    TooManyRequests,
    ValidationFailed,
)
from secureflaskauth.domain.factors import TOTP, WEBAUTHN
from secureflaskauth.domain.heldresets import HeldResets
from secureflaskauth.domain.models import RESET, Client, User
from secureflaskauth.domain.notices import Notices
from secureflaskauth.domain.passwords import PasswordHasher, PasswordPolicy
from secureflaskauth.domain.passwords.policy import normalise as normalise_password
from secureflaskauth.domain.ports import RevocationList
from secureflaskauth.domain.recovery import RecoveryCodes
from secureflaskauth.domain.resetproof import (
    RECOVERY_CODE,
    WRONG,
    AppCheck,
    PasskeyCheck,
    ResetFactors,
    ResetProof,
)
from secureflaskauth.domain.sessions import Sessions
from secureflaskauth.domain.signin import SignIn

PURPOSE = RESET
NO_PROOF = ResetProof()
RESET_MODES = ("on", "delayed", "off")


class ResetNotFound(DomainError):
    status = 404
    slug = "reset-not-found"
    title = "No reset waiting"

    def __init__(self) -> None:
        super().__init__("No password reset of this account is waiting.")


@dataclass(frozen=True)
class ResetStarted:
    """What /auth/password/forgot tells, the same for every username."""

    session_id: str
    expires_in: int
    resend_after: int | None


class PasswordReset:
    def __init__(
        self,
        *,
        signin: SignIn,
        recovery: RecoveryCodes,
        hasher: PasswordHasher,
        password_policy: PasswordPolicy,
        sessions: Sessions,
        revocations: RevocationList,
        notices: Notices,
        audit: Audit,
        held: HeldResets | None = None,
        totp: AppCheck | None = None,
        passkeys: PasskeyCheck | None = None,
        sms_only: str = "on",
        answer_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if sms_only not in RESET_MODES:
            raise ValueError(f"SFA_RESET_WITH_SMS_ONLY must be one of {RESET_MODES}")
        self.signin = signin
        self.users = signin.users
        self.recovery = recovery
        self.hasher = hasher
        self.password_policy = password_policy
        self.sessions = sessions
        self.revocations = revocations
        self.notices = notices
        self.audit = audit
        self.sms_only = sms_only
        self.held = held
        self.factors = ResetFactors(
            recovery=recovery, totp=totp, passkeys=passkeys, sms_only=sms_only
        )
        if sms_only == "delayed" and held is None:
            raise ValueError("a delayed reset needs the held resets")
        self.answer_seconds = answer_seconds
        self._monotonic = monotonic
        self._sleep = sleep

    # -- the code -----------------------------------------------------------------

    def forgot(
        self, username: str, client: Client, *, hold: Callable[[float], None] | None = None
    ) -> ResetStarted:
        """Send a reset code if the account may have one; answer alike either way.

        The answer may leave no earlier than ``answer_seconds`` after the start:
        ``hold``, when given, is told that moment (in ``monotonic`` seconds) and keeps
        the answer back itself (the server's event loop, without a thread); else this
        thread waits it out here."""
        started = self._monotonic()
        throttle = self.signin.throttle
        throttle.check(f"forgot:ip:{client.ip}", throttle.limits.login_ip, per_ip=True)
        canonical = usernames.canonical(username)
        # Counted for every username alike, so the limit says nothing about existence.
        throttle.check(f"forgot:user:{canonical}", throttle.limits.resend_account)
        user = self.users.by_canonical_username(canonical)
        sent = self._send_code(user, client) if user is not None else None
        self.audit.client_event(
            "password_reset_requested",
            "sent" if sent else "not_sent",
            client,
            user_id=user.id if user else None,
            username=user.username if user else canonical,
        )
        answer = sent or self._decoy()
        # The same duration whether or not an SMS went out (as long as sending one
        # takes less than the floor).
        answer_at = started + self.answer_seconds
        if hold is not None:
            hold(answer_at)
        else:
            self._sleep(max(0.0, answer_at - self._monotonic()))
        return answer

    def _send_code(self, user: User, client: Client) -> ResetStarted | None:
        now = self.signin.clock.now()
        if user.disabled or not user.phone_verified or self.signin.pending.expired(user):
            return None  # a code goes only to a number this account has verified
        if self.signin.tries.resets_stopped(user, now):
            return None  # too many wrong reset codes: none is sent until the lock ends
        try:
            state = self.signin.start_challenge(user, now, client, purpose=PURPOSE)
        except (TooManyRequests, SmsDeliveryFailed):
            return None  # recorded by the SMS guard or the send; the answer stays the same
        return ResetStarted(state.session_id, state.expires_in, state.resend_after)

    def _decoy(self) -> ResetStarted:
        """An answer like a sent code's, for a session id no code belongs to; what
        follows with it is answered alike too (decoyresets.py)."""
        policy = self.signin.otp
        session_id = otp.new_session_id()
        if self.signin.decoys is not None:
            self.signin.decoys.start(session_id)
        return ResetStarted(
            session_id=session_id,
            expires_in=policy.ttl_seconds,
            resend_after=policy.resend_cooldown_seconds if policy.max_resends > 0 else None,
        )

    # -- the new password ---------------------------------------------------------------

    def reset(
        self,
        session_id: str,
        code: str,
        new_password: str,
        client: Client,
        proof: ResetProof = NO_PROOF,
    ) -> int:
        """Set a new password with the code (and, where needed, a stronger proof:
        resetproof.py); every session of the user ends. Returns the sessions ended."""
        signin = self.signin
        signin.tries.admit(client)
        self.factors.check_form(code, proof)
        new_password = normalise_password(new_password)
        # The rules that name no account first, so a weak password costs no try; the
        # username only once the code is right, as a reset no code was sent for knows none.
        self._check_password(new_password, "")
        try:
            signin.live_challenge(session_id, PURPOSE)
        except SignInExpired:
            self._decoy_try(session_id)
            raise
        user, attempt, now = signin.take_try(session_id, PURPOSE)
        if not signin.code_matches(attempt.challenge, code):
            signin.wrong_code(user, attempt, session_id, now, client)
        try:
            self._check_password(new_password, user.username_canonical)
        except ValidationFailed:
            signin.tries.right(user, RESET)  # the code was right; its try stays taken
            raise
        # Said only to whoever holds the SMS code (the try stays counted): what else the
        # account needs, and whether what was given is right.
        proven = self.factors.check(user, proof, attempt.challenge.id, now, client)
        if proven is None:
            wrong = WRONG[proof.given()[0]]
            signin.wrong_code(user, attempt, session_id, now, client, wrong=wrong)
        signin.consume(user, attempt, now)
        if proven.recovery_hash is not None and not self.recovery.use(
            user.id, proven.recovery_hash
        ):
            raise expired_sign_in()  # used a moment ago by another request
        if self.held is not None and self.sms_only == "delayed" and proven.factor is None:
            # The SMS code alone: held, so the owner can cancel it (heldresets.py).
            signin.tries.right(user, RESET)
            self.held.hold(user, self.hasher.hash(new_password), client)
            return 0
        return self._set_password(user, new_password, now, client, proven.factor)

    def _check_password(self, password: str, username_canonical: str) -> None:
        found = self.password_policy.problems(password, username_canonical=username_canonical)
        if found:
            raise ValidationFailed({"new_password": found})

    def _decoy_try(self, session_id: str) -> None:
        """A reset no code was sent for, answered as a live one whose code is wrong
        (decoyresets.py); returns when ``session_id`` is none."""
        decoys = self.signin.decoys
        decoy = decoys.find(session_id) if decoys is not None else None
        if decoys is None or decoy is None:
            return
        taken = decoys.take_try(decoy)
        if taken is None:
            raise expired_sign_in()
        state = self.signin.challenge_state(session_id, taken)
        raise wrong_code_answer(state)

    def passkey_options(self, session_id: str, client: Client) -> dict[str, Any]:
        """Request options for the passkey of the reset ``session_id`` (resetproof.py),
        the same for every session id; counted like a code's try per IP."""
        self.signin.tries.admit(client)
        if self.factors.passkeys is None:
            raise ValidationFailed({"session_id": ["Passkeys are not available here."]})
        return self.factors.passkeys.reset_options(session_id)

    def _set_password(
        self, user: User, new_password: str, now: float, client: Client, factor: str | None
    ) -> int:
        done = self.users.change_password(
            user.id,
            old_hash=user.password_hash,
            new_hash=self.hasher.hash(new_password),
            keep_session=None,
            now=now,
            until=self.sessions.revoked_until(now),
        )
        if done is None:  # the password changed since the code was sent
            raise expired_sign_in()
        self.revocations.publish(done.in_force)
        self.signin.challenges.kill_all_for_user(user.id)
        # The account's failure counts (sign-in and reset codes, passwords) start again.
        self.signin.tries.clear(user)
        self.audit.client_event(
            "password_reset",
            "success",
            client,
            user_id=user.id,
            username=user.username,
            detail={
                "sessions_ended": done.ended,
                "recovery_code": factor == RECOVERY_CODE,
                "totp": factor == TOTP,
                "webauthn": factor == WEBAUTHN,
            },
        )
        self.notices.send(user, "password_reset", client)
        return done.ended

    def cancel_held(self, user: User, session_id: str, client: Client) -> bool:
        """Cancel the user's held reset; False when none is waiting."""
        return self.held is not None and self.held.cancel(user, session_id, client)
