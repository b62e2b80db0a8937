"""The sign-in flow: password step, SMS code step, resend.

Everything here talks to the outside only through the ports it was given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NoReturn, Protocol

from secureflaskauth.domain import otp, phones, usernames
from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.codetries import (
    CodeTry,
    WrongCodePolicy,
    account_locked,
    already_used,
    expired_sign_in,
    wrong_code_answer,
)
from secureflaskauth.domain.decoyresets import DecoyResets
from secureflaskauth.domain.errors import (
    InvalidCredentials,
    PasswordResetRequired,
    PhoneNumberUnavailable,
    SignInExpired,
    SmsDeliveryFailed,
    SmsProviderError,
    TooManyRequests,
    ValidationFailed,
)
from secureflaskauth.domain.lockout import AccountGuard, Claim
from secureflaskauth.domain.models import RESET, Challenge, Client, User, code_lock
from secureflaskauth.domain.passwords import PasswordHasher
from secureflaskauth.domain.passwords.policy import normalise as normalise_password
from secureflaskauth.domain.pending import PendingAccounts
from secureflaskauth.domain.ports import ChallengeStore, Clock, SmsSender, UserStore
from secureflaskauth.domain.ratelimit import Throttle
from secureflaskauth.domain.sessions import Sessions, TokenPair
from secureflaskauth.domain.smsguard import SmsGuard

AMR = ("pwd", "sms")  # RFC 8176 method references
_MAX_SESSION_ID = 128


class DueResets(Protocol):
    """Held password resets, applied at the sign-in after their hold (heldresets.py)."""

    def settle(self, user: User, client: Client) -> User: ...


class SecondSteps(Protocol):
    """What an account may use for the second step (factors/)."""

    def methods(self, user: User) -> tuple[str, ...]:
        """The account's methods, the one a sign-in starts with first; "sms" always."""
        ...


@dataclass(frozen=True)
class ChallengeState:
    """What the client may do next with a pending challenge."""

    session_id: str
    expires_in: int
    resend_after: int | None
    attempts_remaining: int
    sent_to: str | None  # None: no SMS was sent (the sign-in started with another method)
    method: str = "sms"
    methods: tuple[str, ...] = ("sms",)


@dataclass(frozen=True)
class SignedIn:
    user_id: str
    tokens: TokenPair


class SignIn:
    def __init__(
        self,
        *,
        users: UserStore,
        challenges: ChallengeStore,
        sms: SmsSender,
        throttle: Throttle,
        guard: AccountGuard,
        sms_guard: SmsGuard,
        hasher: PasswordHasher,
        sessions: Sessions,
        audit: Audit,
        clock: Clock,
        otp_policy: otp.OtpPolicy,
        otp_key: bytes,
        pending: PendingAccounts,
        app_name: str = "SecureFlaskAuth",
        sms_template: otp.SmsTemplate | None = None,
        due_resets: DueResets | None = None,
        second_steps: SecondSteps | None = None,
        max_accounts_per_number: int = 0,
        tries: WrongCodePolicy | None = None,
        decoys: DecoyResets | None = None,
    ) -> None:
        self.decoys = decoys
        self.due_resets = due_resets
        self.second_steps = second_steps
        self.max_accounts_per_number = max_accounts_per_number
        self.pending = pending
        self.users = users
        self.challenges = challenges
        self.sms = sms
        self.throttle = throttle
        self.guard = guard
        self.sms_guard = sms_guard
        self.hasher = hasher
        self.sessions = sessions
        self.audit = audit
        self.clock = clock
        self.otp = otp_policy
        # Shared with the step-up of sensitive actions (reauth.py) when given.
        self.tries = tries or WrongCodePolicy(
            throttle=throttle, challenges=challenges, guard=guard, users=users, otp=otp_policy
        )
        self._otp_key = otp_key
        self.app_name = app_name
        self.sms_template = sms_template or otp.SmsTemplate()

    # -- password step ----------------------------------------------------

    def login(self, username: str, password: str, client: Client) -> ChallengeState:
        """Check the password and send a code; the same failure for every bad case."""
        self.throttle.check(f"login:ip:{client.ip}", self.throttle.limits.login_ip, per_ip=True)
        canonical = usernames.canonical(username)
        # Counted for unknown usernames too, so the limit reveals nothing (ASVS 6.3.8).
        self.throttle.check(f"login:user:{canonical}", self.throttle.limits.login_account)
        # Taken before the password is looked at, and alike for unknown usernames.
        claim = self.guard.claim(canonical)
        password = normalise_password(password)
        user = self.users.by_canonical_username(canonical)
        if user is not None and self.pending.expired(user):
            self.pending.purge()  # it never verified its number: it is gone
            user = None
        if user is not None and self.due_resets is not None:
            user = self.due_resets.settle(user, client)  # a held reset whose time came
        if user is None:
            self.hasher.verify_dummy(password)
            self._failed(claim, client, None, "unknown user")
        elif not self.hasher.verify(user.password_hash, password) or user.disabled:
            self._failed(claim, client, user, "disabled" if user.disabled else "wrong password")
        assert user is not None
        self.guard.release(claim)
        if user.password_reset_required:
            self._reset_required(user, client)
        if self.hasher.needs_rehash(user.password_hash):
            self.users.set_password_hash(user.id, self.hasher.hash(password))
        now = self.clock.now()
        if user.otp_locked_until is not None and user.otp_locked_until > now:
            self.audit.client_event(
                "locked", "refused", client, user_id=user.id, username=user.username
            )
            raise TooManyRequests(
                "Too many wrong codes for this account. Please wait before signing in again.",
                retry_after=math.ceil(user.otp_locked_until - now),
            )
        return self.start_challenge(user, now, client, methods=self.methods(user))

    def methods(self, user: User) -> tuple[str, ...]:
        """The account's second steps, the one a sign-in starts with first."""
        return self.second_steps.methods(user) if self.second_steps else ("sms",)

    def _reset_required(self, user: User, client: Client) -> NoReturn:
        # The right password, so telling is safe: a wrong one never gets here. Not a
        # failure either: the owner is on the way to /auth/password/forgot.
        self.audit.client_event(
            "password_reset", "required", client, user_id=user.id, username=user.username
        )
        raise PasswordResetRequired()

    def _failed(self, claim: Claim, client: Client, user: User | None, reason: str) -> NoReturn:
        self.guard.confirm(claim)
        key, failures = claim.key, claim.failures
        self.audit.client_event(
            "password_failed",
            "failure",
            client,
            user_id=user.id if user else None,
            username=user.username if user else key,
            detail={"reason": reason, "failures": failures},
        )
        if failures >= self.guard.policy.threshold:
            self.audit.client_event(
                "locked",
                "delayed" if failures < self.guard.policy.disable_after else "disabled",
                client,
                user_id=user.id if user else None,
                username=user.username if user else key,
                detail={"failures": failures, "delay": self.guard.policy.delay(failures)},
            )
        raise InvalidCredentials()

    def start_challenge(
        self,
        user: User,
        now: float,
        client: Client,
        *,
        purpose: str = "sign-in",
        methods: tuple[str, ...] = ("sms",),
        send_to: str | None = None,
    ) -> ChallengeState:
        """Start a challenge for ``purpose`` (a sign-in, a reset, a phone change) with the
        first of ``methods``: a code sent to the user's number, or to ``send_to`` (a number
        the account does not have yet), or none (another method; an SMS can be asked for
        at once with a resend)."""
        phone, verified = send_to or user.phone_e164, send_to is None and user.phone_verified
        session_id = otp.new_session_id()
        cid = otp.challenge_id(session_id)
        sms = methods[0] == "sms"
        code = otp.new_code()
        challenge = Challenge(
            id=cid,
            user_id=user.id,
            code_hash=otp.code_hash(self._otp_key, cid, code) if sms else otp.NO_CODE,
            created_at=now,
            expires_at=now + self.otp.ttl_seconds,
            # Without an SMS the first one may be asked for at once.
            last_sent_at=now if sms else now - self.otp.resend_cooldown_seconds,
            purpose=purpose,
            send_to=send_to,
        )
        if sms:
            # The SMS caps are checked before any challenge exists: a refusal leaves none.
            self.sms_guard.allow(phone, user.id, client, verified=verified, purpose=purpose)
        self.challenges.create(challenge)
        if sms:
            self._send(challenge, user, code, client, resend=False)
        return self._state(session_id, challenge, phone, now, methods)

    def _send(
        self, challenge: Challenge, user: User, code: str, client: Client, *, resend: bool
    ) -> None:
        phone = challenge.send_to or user.phone_e164
        who = {"user_id": user.id, "username": user.username}
        detail = {
            "sent_to": phones.mask(phone),
            "country": phones.region(phone),
            "resend": resend,
        }
        try:
            text = self.sms_template.render(self.app_name, code, self.otp.ttl_seconds)
            self.sms.send(phone, text)
        except SmsProviderError:
            # NIST: no usable challenge is left behind a failed send.
            self.challenges.kill(challenge.id)
            self.audit.client_event("otp_sent", "failure", client, **who, detail=detail)
            raise SmsDeliveryFailed() from None
        self.audit.client_event("otp_sent", "success", client, **who, detail=detail)
        self.sms_guard.sent(client)

    def _state(
        self,
        session_id: str,
        c: Challenge,
        phone: str | None,
        now: float,
        methods: tuple[str, ...] = ("sms",),
    ) -> ChallengeState:
        sent = c.code_hash != otp.NO_CODE
        resend_after: int | None = None
        if c.resends < self.otp.max_resends:
            resend_after = max(
                0, math.ceil(c.last_sent_at + self.otp.resend_cooldown_seconds - now)
            )
        return ChallengeState(
            session_id=session_id,
            expires_in=max(0, math.floor(c.expires_at - now)),
            resend_after=resend_after,
            attempts_remaining=max(0, self.otp.max_attempts - c.attempts),
            sent_to=phones.mask(phone) if sent and phone else None,
            method="sms" if sent else methods[0],
            methods=methods,
        )

    def challenge_state(self, session_id: str, challenge: Challenge) -> ChallengeState:
        """What a client is told of ``challenge`` now (no number)."""
        return self._state(session_id, challenge, None, self.clock.now())

    # -- code step --------------------------------------------------------

    def live_challenge(self, session_id: str, purpose: str | None = None) -> Challenge:
        """The live challenge of ``session_id`` (of ``purpose``, when given)."""
        if not session_id or len(session_id) > _MAX_SESSION_ID:
            raise expired_sign_in()
        challenge = self.challenges.get(otp.challenge_id(session_id))
        if challenge is None or not challenge.is_alive(self.clock.now(), self.otp.max_attempts):
            raise expired_sign_in()
        if purpose is not None and challenge.purpose != purpose:
            raise expired_sign_in()  # a reset's code never signs in, nor the reverse
        return challenge

    def verify(self, session_id: str, code: str, client: Client) -> SignedIn:
        """Check the SMS code; on success issue an access token."""
        self.tries.admit(client)
        if not otp.looks_like_code(code):
            raise ValidationFailed({"otp": ["Must be exactly 6 digits."]})
        user, attempt, now = self.take_try(session_id)
        taken = attempt.challenge
        if not self.code_matches(taken, code):
            self.wrong_code(user, attempt, session_id, now, client)
        self.consume(user, attempt, now)
        self.tries.right(user)
        # The code reached this number for this account: the number is verified.
        self.verify_number(user, now, client)
        self.sms_guard.verified()
        return self.open_session(user, client, AMR, method="sms")

    def verify_number(self, user: User, now: float, client: Client) -> None:
        """Mark the account's number verified, unless it already holds as many verified
        accounts as one number may (SFA_MAX_ACCOUNTS_PER_NUMBER): then 409. Asked only
        after the right code, so only whoever receives the number's messages learns it."""
        try:
            self.users.mark_phone_verified(
                user.id, now=now, max_accounts=self.max_accounts_per_number
            )
        except PhoneNumberUnavailable:
            self.audit.client_event(
                "phone_refused", "max_accounts", client, user_id=user.id, username=user.username
            )
            raise

    def take_try(self, session_id: str, purpose: str = "sign-in") -> tuple[User, CodeTry, float]:
        """The live challenge's user, with one try taken from every counter."""
        challenge = self.live_challenge(session_id, purpose)
        user = self.users.by_id(challenge.user_id)
        now = self.clock.now()
        if user is None or user.disabled or self.pending.expired(user):
            raise expired_sign_in()
        if purpose == "sign-in" and user.password_reset_required:
            raise expired_sign_in()  # required after this sign-in's password step
        if user.locked_until(code_lock(purpose), now) is not None:
            self.challenges.kill(challenge.id)
            raise expired_sign_in()
        return user, self.tries.take(challenge, user, now), now

    def code_matches(self, challenge: Challenge, code: str) -> bool:
        """Whether ``code`` is the challenge's code (constant time)."""
        return otp.code_matches(self._otp_key, challenge.id, code, challenge.code_hash)

    def consume(self, user: User, attempt: CodeTry, now: float) -> None:
        """Use the challenge up, once every check passed: for one request only. The
        others had it right too but lost the race (a double submit): their try was no
        failure, so it is given back, and they are told the code was used."""
        taken = attempt.challenge
        if self.challenges.consume(taken.id, code_hash=taken.code_hash, now=now):
            return
        self.tries.right(user, code_lock(taken.purpose))
        raise already_used()

    def lost_race(self, user: User, attempt: CodeTry) -> None:
        """For a code that no longer matches because it was used a moment ago (a
        recovery code, an app's time step): when another request completed this very
        challenge meanwhile, the code was right and lost the race (a double submit),
        so the try is given back and the client told it was used. A winner uses the
        challenge before the code, so a code used by it finds the challenge used."""
        taken = attempt.challenge
        now_stored = self.challenges.get(taken.id)
        if now_stored is not None and now_stored.used_at is not None:
            self.tries.right(user, code_lock(taken.purpose))
            raise already_used()

    def open_session(
        self,
        user: User,
        client: Client,
        amr: tuple[str, ...],
        *,
        method: str,
        sms_sent: bool = True,
    ) -> SignedIn:
        """Start the session of a completed sign-in (``method``: the second step;
        ``sms_sent``: whether an SMS was sent for it)."""
        pair = self.sessions.start(user.id, ip=client.ip, user_agent=client.user_agent, amr=amr)
        if pair is None:
            raise expired_sign_in()  # disabled or deleted while the code was checked
        self.audit.client_event(
            "login_succeeded",
            "success",
            client,
            user_id=user.id,
            username=user.username,
            detail={
                "sid": pair.session_id,
                "country": phones.region(user.phone_e164),
                "method": method,
                "sms_sent": sms_sent,
            },
        )
        self.sessions.purge_some()  # a batch of the ended sessions, now the sign-in is done
        return SignedIn(user.id, pair)

    def wrong_code(
        self,
        user: User,
        attempt: CodeTry,
        session_id: str,
        now: float,
        client: Client,
        *,
        wrong: str = "Wrong code.",
    ) -> NoReturn:
        """Answer a wrong code (``wrong`` says what was wrong): tries left, the sign-in
        over, or the account locked."""
        # The try was counted by every counter when it was taken.
        failures, locked_until = attempt.account.failures, attempt.account.locked_until
        state = self._state(session_id, attempt.challenge, user.phone_e164, now)
        self.audit.client_event(
            "otp_failed",
            "failure",
            client,
            user_id=user.id,
            detail={"attempts_remaining": state.attempts_remaining, "failures": failures},
        )
        if locked_until is not None:
            # NIST SP 800-63B-4 3.1.3: a new code does not reset the count; lock the
            # account's sign-ins, or (wrong reset codes) its resets alone.
            lock = code_lock(attempt.challenge.purpose)
            if lock == RESET:
                self.challenges.kill(attempt.challenge.id)
            else:
                self.challenges.kill_all_for_user(user.id)
            self.audit.client_event(
                "locked",
                "locked",
                client,
                user_id=user.id,
                detail={"until": round(locked_until), "failures": failures, "lock": lock},
            )
            raise account_locked(locked_until, now, lock)
        if state.attempts_remaining == 0:
            self.audit.client_event("challenge_exhausted", "failure", client, user_id=user.id)
        raise wrong_code_answer(state, wrong)

    # -- resend -----------------------------------------------------------

    def resend(self, session_id: str, client: Client) -> ChallengeState:
        """Send a new code for a live challenge; the previous code stops working."""
        self.throttle.check(f"resend:ip:{client.ip}", self.throttle.limits.resend_ip, per_ip=True)
        try:
            challenge = self.live_challenge(session_id)
        except SignInExpired:
            return self._resend_decoy(session_id)
        self.throttle.check(f"resend:user:{challenge.user_id}", self.throttle.limits.resend_account)
        user = self.users.by_id(challenge.user_id)
        if user is None or user.disabled:
            raise expired_sign_in()
        now = self.clock.now()
        self._check_resend_allowed(challenge, now)
        code = otp.new_code()
        updated = self.challenges.replace_code(
            challenge.id,
            code_hash=otp.code_hash(self._otp_key, challenge.id, code),
            now=now,
            expires_at=now + self.otp.ttl_seconds,
            cooldown=self.otp.resend_cooldown_seconds,
            max_resends=self.otp.max_resends,
            max_attempts=self.otp.max_attempts,
        )
        if updated is None:  # lost a race with another resend or verify
            current = self.challenges.get(challenge.id)
            if current is None or not current.is_alive(now, self.otp.max_attempts):
                raise expired_sign_in()
            self._check_resend_allowed(current, now)
            raise expired_sign_in()
        # Only the request that won the replacement counts against the SMS caps, so
        # concurrent resends cannot use up a victim's caps. A refusal now leaves a code
        # that was never sent: end the sign-in, as a failed send does.
        phone = updated.send_to or user.phone_e164
        try:
            verified = updated.send_to is None and user.phone_verified
            self.sms_guard.allow(phone, user.id, client, verified=verified, purpose=updated.purpose)
        except TooManyRequests:
            self.challenges.kill(updated.id)
            raise
        self._send(updated, user, code, client, resend=True)
        if updated.purpose == RESET:
            # A reset's session id is handed to whoever asks: its answer tells neither a
            # factor nor the number, as a reset no code was sent for cannot.
            return self._state(session_id, updated, None, now)
        methods = self.methods(user) if updated.purpose == "sign-in" else ("sms",)
        return self._state(session_id, updated, phone, now, methods)

    def _resend_decoy(self, session_id: str) -> ChallengeState:
        """A new "code" for a reset no code was sent for (decoyresets.py): the answers
        of a live reset's resend, and no SMS."""
        decoy = self.decoys.find(session_id) if self.decoys is not None else None
        now = self.clock.now()
        if decoy is None or not decoy.is_alive(now, self.otp.max_attempts):
            raise expired_sign_in()
        self._check_resend_allowed(decoy, now)
        assert self.decoys is not None
        updated = self.decoys.resend(decoy, now)
        if updated is None:  # lost a race with another resend, as a live one can
            raise expired_sign_in()
        return self._state(session_id, updated, None, now)

    def _check_resend_allowed(self, challenge: Challenge, now: float) -> None:
        # The challenge is still usable with the code already sent: say so.
        state = {
            "expires_in": max(0, math.floor(challenge.expires_at - now)),
            "attempts_remaining": max(0, self.otp.max_attempts - challenge.attempts),
        }
        if challenge.resends >= self.otp.max_resends:
            raise TooManyRequests(
                "No more codes can be sent for this sign-in. Please sign in again.",
                extra={"resend_after": None, **state},
            )
        wait = challenge.last_sent_at + self.otp.resend_cooldown_seconds - now
        if wait > 0:
            raise TooManyRequests(
                "A new code can be requested shortly.",
                retry_after=math.ceil(wait),
                extra={"resend_after": math.ceil(wait), **state},
            )
